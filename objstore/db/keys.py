"""Order-preserving LMDB keys for record names.

Every key starts with the 16-byte path hash of its database, so all records
of one container (or account) are one contiguous key range and a listing is a
cursor range scan.  Names are stored as their UTF-8 bytes, which sort in
code-point order, exactly as Swift lists.

LMDB keys are limited to 511 bytes but object names may be 1024.  A name longer
than ``SHORT_NAME_MAX`` bytes gets the key ``name[:SHORT_NAME_MAX] + b"\\0" +
md5(name)`` and keeps its full name in the record value.  Names never contain
NUL, so all long names sharing the same first ``SHORT_NAME_MAX`` bytes form one
contiguous *group* that sorts exactly where those names belong; a listing
sorts the (rare) group members by full name when it reaches them.
"""
from __future__ import annotations

import hashlib

HASH_LEN = 16
# 16 (hash) + 448 + 1 + 16 (md5) = 481 bytes; the tombstone index adds 16 more.
SHORT_NAME_MAX = 448
GROUP_MARK = b"\x00"


def name_key(name: bytes) -> bytes:
    """The key suffix under which ``name`` is stored."""
    if len(name) <= SHORT_NAME_MAX:
        return name
    return name[:SHORT_NAME_MAX] + GROUP_MARK + hashlib.md5(name, usedforsecurity=False).digest()


def is_group_key(suffix: bytes) -> bool:
    """True for the key suffix of a long name (its full name is in the value)."""
    return len(suffix) > SHORT_NAME_MAX


def group_of(suffix: bytes) -> bytes:
    """The part of a long-name key shared by every member of its group."""
    return suffix[:SHORT_NAME_MAX + 1]


def seek_key(name: bytes) -> bytes:
    """The smallest key suffix that may hold a name >= ``name``."""
    if len(name) <= SHORT_NAME_MAX:
        return name
    return name[:SHORT_NAME_MAX] + GROUP_MARK


def seek_after_group(name: bytes) -> bytes:
    """A key suffix greater than every key that may hold a name <= ``name``."""
    if len(name) <= SHORT_NAME_MAX:
        return name
    return name[:SHORT_NAME_MAX] + b"\x01"


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix``
    (None if there is none, i.e. the prefix is all 0xff)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def seq_key(db_hash: bytes, seq: int) -> bytes:
    return db_hash + seq.to_bytes(8, "big")


def tomb_key(db_hash: bytes, timestamp: str, suffix: bytes) -> bytes:
    """Tombstone index key: ordered by the 16-char normal timestamp, so reclaim
    is a range scan up to the cutoff."""
    return db_hash + timestamp[:16].encode("ascii") + suffix
