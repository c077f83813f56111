"""Which ring devices belong to this node, and which of them can be used now.

A replicator walks the devices the ring places on this node (its server's
``bind_ip``/``bind_port``, as an address or replication address of the
device) and skips a device that is not mounted: an unmounted mount point is
an empty directory on the root disk, and replicating into or out of it would
fill the wrong disk or push an empty replica.
"""
from __future__ import annotations

import os
import socket
from typing import Any, Iterable

WILDCARD_IPS = ("", "0.0.0.0", "::")


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


def local_devices(devs: Iterable[dict[str, Any] | None], bind_ip: str,
                  bind_port: int) -> list[dict[str, Any]]:
    """The ring devices served by the server at ``bind_ip:bind_port``, one per device name."""
    ips = node_ips(bind_ip)
    found: dict[str, dict[str, Any]] = {}
    for dev in devs:
        if dev is None:
            continue
        addresses = {(dev["ip"], dev["port"]),
                     (dev.get("replication_ip") or dev["ip"], dev.get("replication_port") or dev["port"])}
        if any(ip in ips and port == bind_port for ip, port in addresses):
            found.setdefault(dev["device"], dev)
    return [found[name] for name in sorted(found)]


def device_ready(devices: str, device: str, mount_check: bool) -> bool:
    """The device directory exists and, with ``mount_check``, is a mount point."""
    path = os.path.join(devices, device)
    if mount_check and not os.path.ismount(path):
        return False
    return os.path.isdir(path)
