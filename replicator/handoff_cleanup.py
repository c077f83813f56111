"""Removing a handoff partition's objects once every primary has them.

Only the files that were offered (and that every primary confirmed) are
removed, never a whole directory tree: a write that lands on the handoff
while its partition is being pushed stays for the next pass.  The partition
directory goes once no suffix directory is left in it.
"""
from __future__ import annotations

import os
from typing import Iterable

from objstore.obj import hashes
from objstore.obj.metadata import SIDECAR_SUFFIX
from replicator.ssync_sender import LocalObject


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _rmdir(path: str) -> bool:
    try:
        os.rmdir(path)
        return True
    except FileNotFoundError:
        return True
    except OSError:  # not empty: something newer arrived
        return False


def remove_objects(objects: Iterable[LocalObject]) -> None:
    """Remove the offered files (and their metadata sidecars) of ``objects``."""
    suffix_dirs = set()
    for item in objects:
        for name in (item.offer.winner, item.offer.meta):
            if name:
                _unlink(os.path.join(item.hash_dir, name))  # file first: never one
                _unlink(os.path.join(item.hash_dir, name + SIDECAR_SUFFIX))  # without metadata
        _rmdir(item.hash_dir)
        suffix_dirs.add(os.path.dirname(item.hash_dir))
    for suffix_dir in suffix_dirs:
        if not _rmdir(suffix_dir):
            hashes.invalidate_hash(suffix_dir)


def remove_partition_if_empty(part_dir: str) -> bool:
    """Remove the partition directory if it holds no suffix directory (only
    hash bookkeeping files); True if it is gone."""
    try:
        entries = list(os.scandir(part_dir))
    except FileNotFoundError:
        return True
    if any(entry.is_dir() for entry in entries):
        return False
    for entry in entries:
        _unlink(entry.path)
    return _rmdir(part_dir)
