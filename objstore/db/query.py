"""Listing queries as LMDB cursor range scans.

A page costs O(log n + page size) whatever the database size: the cursor
seeks to the first candidate and walks forward (or backward).  With a
delimiter, each pseudo-directory costs one seek: after emitting ``dir/`` the
scan jumps straight past every name starting with ``dir/`` (to ``dir/\\xff``;
0xff never occurs in UTF-8) instead of walking over them.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Iterator

from objstore.db import keys

FullName = Callable[[bytes], bytes]
Row = tuple[bytes, bytes | None]  # (name, raw record value), value None for a subdir


@dataclasses.dataclass
class ListingParams:
    """Swift listing parameters, as UTF-8 bytes."""
    limit: int = 10000
    marker: bytes = b""
    end_marker: bytes = b""
    prefix: bytes = b""
    delimiter: bytes = b""
    reverse: bool = False
    path: bytes | None = None


def _read_group(cursor, key: bytes, group: bytes, step: Callable[[], bool],
                full_name: FullName) -> tuple[list[Row], bytes]:
    """The records stored under one truncated-name group key (names too long
    for an LMDB key share it), with their full names, and the key after them."""
    members = []
    while key.startswith(group):
        value = cursor.value()
        members.append((full_name(value), value))
        key = cursor.key() if step() else b""
    return members, key


def _walk_forward(cursor, db_hash: bytes, start: bytes, full_name: FullName) -> Iterator[Row]:
    """Records of one database with name >= start, in ascending order."""
    hlen = len(db_hash)
    if not cursor.set_range(db_hash + keys.seek_key(start)):
        return
    key = cursor.key()
    while key[:hlen] == db_hash:
        suffix = key[hlen:]
        if keys.is_group_key(suffix):
            members, key = _read_group(cursor, key, db_hash + keys.group_of(suffix),
                                       cursor.next, full_name)
            members.sort()
            yield from (m for m in members if m[0] >= start)
            continue
        yield suffix, cursor.value()
        key = cursor.key() if cursor.next() else b""


def _walk_reverse(cursor, db_hash: bytes, end: bytes | None, full_name: FullName) -> Iterator[Row]:
    """Records of one database with name < end (all if None), descending."""
    hlen = len(db_hash)
    upper = keys.prefix_end(db_hash) if end is None else db_hash + keys.seek_after_group(end)
    if upper is not None and cursor.set_range(upper):
        positioned = cursor.prev()
    else:
        positioned = cursor.last()
    key = cursor.key() if positioned else b""
    while key[:hlen] == db_hash:
        suffix = key[hlen:]
        if keys.is_group_key(suffix):
            members, key = _read_group(cursor, key, db_hash + keys.group_of(suffix),
                                       cursor.prev, full_name)
            members.sort(reverse=True)
            yield from (m for m in members if end is None or m[0] < end)
            continue
        if end is None or suffix < end:
            yield suffix, cursor.value()
        key = cursor.key() if cursor.prev() else b""


def list_rows(cursor, db_hash: bytes, params: ListingParams, full_name: FullName) -> list[Row]:
    """One listing page: records and subdirs (value None) in listing order."""
    prefix, delimiter, marker = params.prefix, params.delimiter, params.marker
    path_mode = params.path is not None
    if path_mode:
        prefix = params.path.rstrip(b"/") + b"/" if params.path else b""
        delimiter = b"/"
    rows: list[Row] = []
    if params.limit <= 0:
        return rows
    if params.reverse:
        bound = marker or None
        if prefix:
            bound = min(bound, prefix + b"\xff") if bound else prefix + b"\xff"
    else:
        bound = max(prefix, marker + b"\x00") if marker else prefix
    while True:
        walk = (_walk_reverse(cursor, db_hash, bound, full_name) if params.reverse
                else _walk_forward(cursor, db_hash, bound, full_name))
        for name, value in walk:
            if params.reverse:
                if params.end_marker and name <= params.end_marker:
                    return rows
            elif params.end_marker and name >= params.end_marker:
                return rows
            if not name.startswith(prefix):
                return rows
            if delimiter:
                found = name.find(delimiter, len(prefix))
                if found >= 0:
                    subdir = name[:found + len(delimiter)]
                    if path_mode:
                        if len(name) > len(subdir):  # deeper than one level: skip the subtree
                            bound = subdir + b"\x00" if params.reverse else subdir + b"\xff"
                            break
                    else:
                        if subdir != marker:
                            rows.append((subdir, None))
                            if len(rows) >= params.limit:
                                return rows
                        bound = subdir if params.reverse else subdir + b"\xff"
                        break
            if path_mode and name == prefix:
                continue
            rows.append((name, value))
            if len(rows) >= params.limit:
                return rows
        else:
            return rows
