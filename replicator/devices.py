"""Which devices of this node a background daemon works on.

A daemon works on every device directory under the ``devices`` root of its
node, as the server beside it does: ``devices`` and ``mount_check`` in the
daemon's own section, else those of the server (``[object-server]``,
``[container-server]``...), so an operator sets them once per node.  A
device that is not mounted is skipped with a warning, never fatal.

A replicator also needs to know which ring devices those are (to tell a
primary copy from a handoff): the devices whose address or replication
address is its server's ``bind_ip:bind_port`` (``ring_devices``).
"""
from __future__ import annotations

import configparser
import logging
import os
import socket
from typing import Any, Iterable, Iterator

from objstore.common.config import config_true_value, hash_path_affixes, section
from objstore.obj.diskfile import DiskFileManager

DEFAULT_DEVICES = "/srv/node"
WILDCARD_IPS = ("", "0.0.0.0", "::")


def device_settings(conf: configparser.ConfigParser, daemon_section: str,
                    server_section: str) -> tuple[str, bool]:
    """(devices root, mount_check) for a daemon, defaulting to its server's."""
    own, server = section(conf, daemon_section), section(conf, server_section)
    root = own.get("devices") or server.get("devices") or DEFAULT_DEVICES
    mount_check = own.get("mount_check", server.get("mount_check", "true"))
    return root, config_true_value(mount_check)


def object_disk_manager(conf: configparser.ConfigParser, daemon_section: str,
                        logger: logging.Logger) -> DiskFileManager:
    """The object daemons' view of this node's disks: the object server's
    devices (unless the daemon's section says otherwise), disk I/O inline."""
    root, mount_check = device_settings(conf, daemon_section, "object-server")
    prefix, suffix = hash_path_affixes(conf)
    return DiskFileManager(root, mount_check=mount_check, hash_prefix=prefix,
                           hash_suffix=suffix, logger=logger, io_threads=0)


def local_devices(root: str, mount_check: bool,
                  logger: logging.Logger) -> Iterator[tuple[str, str]]:
    """(name, path) of each usable device under ``root``, in name order."""
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        logger.warning("devices directory %s does not exist", root)
        return
    for name in names:
        path = os.path.join(root, name)
        usable = os.path.ismount(path) if mount_check else os.path.isdir(path)
        if usable:
            yield name, path
        elif mount_check and os.path.isdir(path):
            logger.warning("skipping %s: not mounted", path)


def node_ips(bind_ip: str) -> set[str]:
    """The addresses a server bound to ``bind_ip`` answers on."""
    if bind_ip not in WILDCARD_IPS:
        return {bind_ip}
    ips = {"127.0.0.1", "::1"}
    try:
        ips.update(info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None))
    except OSError:
        pass
    return ips


def ring_devices(devs: Iterable[dict[str, Any] | None], bind_ip: str,
                 bind_port: int) -> dict[str, dict[str, Any]]:
    """The ring devices served by the server at ``bind_ip:bind_port``, by device name."""
    ips = node_ips(bind_ip)
    found: dict[str, dict[str, Any]] = {}
    for dev in devs:
        if dev is None:
            continue
        addresses = {(dev["ip"], dev["port"]),
                     (dev.get("replication_ip") or dev["ip"], dev.get("replication_port") or dev["port"])}
        if any(ip in ips and port == bind_port for ip, port in addresses):
            found.setdefault(dev["device"], dev)
    return found
