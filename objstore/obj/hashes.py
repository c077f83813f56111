"""Per-partition suffix hashes, so replication can compare partitions cheaply.

Layout inside ``<dev>/objects[-N]/<part>/``:

``hashes.msgpack``
    msgpack ``{"hashes": {suffix: md5hex | None}}``; None means "must be
    recalculated".  Written by temp file + fsync + rename.
``hashes.invalid``
    Append-only list of suffixes (one per line) changed since the last
    consolidation.  Every write appends its suffix *after* renaming its file
    into place, under an flock of this file, so a concurrent recalculation
    can never miss a change.
``.lock``
    flock held by whoever rewrites ``hashes.msgpack``.

A suffix hash is the MD5 over each hash directory name and its file names
(sorted; metadata sidecars excluded, since whether metadata overflowed
xattrs depends on the filesystem, not on the object).
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import os
from typing import Iterable, Iterator

import msgpack

from objstore.obj import durable, ondisk
from objstore.obj.metadata import SIDECAR_SUFFIX

HASHES_FILE = "hashes.msgpack"
INVALID_FILE = "hashes.invalid"
LOCK_FILE = ".lock"
_MAX_PASSES = 3


@contextlib.contextmanager
def _flocked(path: str, flags: int = os.O_RDWR | os.O_CREAT) -> Iterator[int]:
    fd = os.open(path, flags, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


def invalidate_hash(suffix_dir: str) -> None:
    """Record that ``<part>/<suffix>`` changed (call after the change is visible)."""
    part_dir, suffix = os.path.split(suffix_dir)
    with _flocked(os.path.join(part_dir, INVALID_FILE),
                  os.O_WRONLY | os.O_APPEND | os.O_CREAT) as fd:
        os.write(fd, suffix.encode("ascii") + b"\n")


def hash_suffix(suffix_dir: str, reclaim_age: float) -> str | None:
    """Hash of one suffix directory (cleaning it up on the way); None if empty."""
    try:
        hash_dirs = sorted(os.listdir(suffix_dir))
    except (FileNotFoundError, NotADirectoryError):
        return None
    md5 = hashlib.md5(usedforsecurity=False)
    found = False
    for name in hash_dirs:
        files = ondisk.cleanup(os.path.join(suffix_dir, name), reclaim_age)
        if not files:
            continue
        found = True
        md5.update(name.encode("ascii", "replace"))
        for file_name in files:
            if not file_name.endswith(SIDECAR_SUFFIX):
                md5.update(file_name.encode("ascii", "replace"))
    if not found:
        try:
            os.rmdir(suffix_dir)
        except OSError:
            pass
        return None
    return md5.hexdigest()


def _is_suffix(name: str) -> bool:
    return len(name) == 3 and all(ch in "0123456789abcdef" for ch in name)


def _read_hashes(part_dir: str) -> dict[str, str | None] | None:
    try:
        with open(os.path.join(part_dir, HASHES_FILE), "rb") as handle:
            hashes = msgpack.unpackb(handle.read(), raw=False)["hashes"]
        return hashes if isinstance(hashes, dict) else None
    except FileNotFoundError:
        return None
    except Exception:  # corrupt: recalculate everything
        return None


def _write_hashes(part_dir: str, hashes: dict[str, str | None]) -> None:
    """Atomically replace hashes.msgpack (temp file in ``<dev>/tmp``, like every write)."""
    tmp_dir = os.path.join(os.path.dirname(os.path.dirname(part_dir)), "tmp")
    durable.write_file(tmp_dir, os.path.join(part_dir, HASHES_FILE),
                       msgpack.packb({"hashes": hashes}, use_bin_type=True), fsync=True)


def _consolidate(part_dir: str, force: Iterable[str] = (),
                 computed: dict[str, str | None] | None = None) -> dict[str, str | None]:
    """Bring hashes.msgpack up to date; the caller holds the partition lock.

    Suffixes in hashes.invalid or ``force`` become None ("recalculate");
    ``computed`` values are stored unless their suffix was invalidated again
    while being hashed.  hashes.msgpack is written before hashes.invalid is
    truncated, so a crash in between loses nothing.
    """
    hashes = _read_hashes(part_dir)
    changed = hashes is None
    if hashes is None:
        try:
            names = os.listdir(part_dir)
        except FileNotFoundError:
            return {}
        hashes = {name: None for name in names if _is_suffix(name)}
    for suffix, value in (computed or {}).items():
        if value is None:
            changed = hashes.pop(suffix, "") != "" or changed
        else:
            changed = changed or hashes.get(suffix) != value
            hashes[suffix] = value
    with _flocked(os.path.join(part_dir, INVALID_FILE)) as fd:
        invalid = os.read(fd, os.fstat(fd).st_size).decode("ascii", "replace").split()
        for suffix in itertools.chain(force, invalid):
            if _is_suffix(suffix) and hashes.get(suffix, "") is not None:
                hashes[suffix] = None
                changed = True
        if changed:
            _write_hashes(part_dir, hashes)
        if invalid:
            os.ftruncate(fd, 0)
    return hashes


def get_hashes(part_dir: str, recalculate: Iterable[str] = (),
               reclaim_age: float = 7 * 86400) -> dict[str, str]:
    """Suffix -> hash for one partition, recalculating changed/listed suffixes.

    Recalculation runs without the partition lock held (it lists directories);
    a suffix invalidated meanwhile is hashed again (a few passes at most; if
    writes keep coming it is left out and stays marked for the next call).
    """
    if not os.path.isdir(part_dir):
        return {}
    lock_path = os.path.join(part_dir, LOCK_FILE)
    with _flocked(lock_path):
        hashes = _consolidate(part_dir, force=recalculate)
    for _ in range(_MAX_PASSES):
        todo = [suffix for suffix, value in hashes.items() if value is None]
        if not todo:
            break
        computed = {suffix: hash_suffix(os.path.join(part_dir, suffix), reclaim_age)
                    for suffix in todo}
        with _flocked(lock_path):
            hashes = _consolidate(part_dir, computed=computed)
    return {suffix: value for suffix, value in hashes.items() if value is not None}
