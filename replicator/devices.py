"""Which devices of this node a background daemon works on.

A daemon works on every device directory under the ``devices`` root of its
node, as the server beside it does: ``devices`` and ``mount_check`` in the
daemon's own section, else those of the server (``[object-server]``,
``[container-server]``...), so an operator sets them once per node.  A
device that is not mounted is skipped with a warning, never fatal.
"""
from __future__ import annotations

import configparser
import logging
import os
from typing import Iterator

from objstore.common.config import config_true_value, section

DEFAULT_DEVICES = "/srv/node"


def device_settings(conf: configparser.ConfigParser, daemon_section: str,
                    server_section: str) -> tuple[str, bool]:
    """(devices root, mount_check) for a daemon, defaulting to its server's."""
    own, server = section(conf, daemon_section), section(conf, server_section)
    root = own.get("devices") or server.get("devices") or DEFAULT_DEVICES
    mount_check = own.get("mount_check", server.get("mount_check", "true"))
    return root, config_true_value(mount_check)


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
