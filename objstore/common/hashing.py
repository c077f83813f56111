"""Hashing of account/container/object paths.

Every ring lookup and every object's on-disk directory name comes from the
same MD5 of the path, salted with the cluster's secret ``hash_path_prefix``
and ``hash_path_suffix`` so that users cannot aim many objects at one
partition.
"""
from __future__ import annotations

import hashlib


def hash_path(account: str, container: str | None = None, obj: str | None = None,
              *, prefix: bytes = b"", suffix: bytes = b"") -> bytes:
    """MD5 digest (16 bytes) of ``/account[/container[/obj]]`` with the affixes."""
    if obj is not None and container is None:
        raise ValueError("an object needs a container")
    parts = [account] if container is None else [account, container] if obj is None \
        else [account, container, obj]
    path = ("/" + "/".join(parts)).encode("utf-8", "surrogateescape")
    return hashlib.md5(prefix + path + suffix, usedforsecurity=False).digest()
