"""Ways a .data file goes bad on a real disk, for auditor and failover tests.

Each function damages one object's files in place, the way bit rot, a torn
write, a copy tool that drops xattrs or a damaged metadata sidecar would.
"""
from __future__ import annotations

import os
from typing import Callable

import xattr

from objstore.obj import metadata as md


def flip_bytes(data_path: str) -> None:
    """Bit rot: metadata intact, size intact, content wrong (only an MD5 finds it)."""
    size = os.path.getsize(data_path)
    with open(data_path, "r+b") as handle:
        handle.seek(size // 2)
        byte = handle.read(1)
        handle.seek(size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))


def truncate(data_path: str) -> None:
    """A torn write: the file is shorter than its Content-Length."""
    os.truncate(data_path, os.path.getsize(data_path) // 2)


def remove_xattrs(data_path: str) -> None:
    """A copy that dropped xattrs: no metadata left (and no sidecar)."""
    for key in xattr.listxattr(data_path):
        xattr.removexattr(data_path, key)


def damage_sidecar(data_path: str) -> None:
    """The metadata sidecar of an object whose metadata overflowed xattrs is garbled."""
    with open(data_path + md.SIDECAR_SUFFIX, "r+b") as handle:
        handle.seek(40)
        byte = handle.read(1)
        handle.seek(40)
        handle.write(bytes([byte[0] ^ 0xFF]))


CORRUPTIONS: dict[str, Callable[[str], None]] = {
    "flipped bytes": flip_bytes, "truncated": truncate, "xattrs removed": remove_xattrs,
    "sidecar damaged": damage_sidecar}

# Enough user metadata (under the Swift API's limits) to overflow ext4's one
# xattr block, so the object's metadata lives in a sidecar.
SIDECAR_HEADERS = {f"X-Object-Meta-M{i:02d}": chr(ord("a") + i % 26) * 40 for i in range(90)}
