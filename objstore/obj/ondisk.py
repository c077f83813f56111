"""Which files in an object's hash directory matter, and which are obsolete.

A hash directory holds ``<timestamp>.data`` (an object), ``<timestamp>.ts``
(a tombstone) and ``<timestamp>.meta`` (metadata from a POST), each possibly
with a ``.xattr`` metadata sidecar.  The newest ``.data``/``.ts`` wins
(last write wins by the proxy's X-Timestamp); a ``.meta`` counts only if it
is newer than that.  Everything else is obsolete and removed on the next write.

Erasure-coded policies store fragment archives as Swift does:
``<timestamp>#<fragment index>.data`` while the PUT is in its first phase,
renamed to ``<timestamp>#<fragment index>#d.data`` once the proxy confirmed
that enough nodes hold theirs (durable).  Only a durable fragment can win; a
non-durable one newer than the winner is ``pending`` (kept: its commit may
still come) until it is older than ``reclaim_age``.
"""
from __future__ import annotations

import dataclasses
import os
import time

from objstore.common.timestamp import Timestamp
from objstore.obj.metadata import SIDECAR_SUFFIX

DATA = ".data"
META = ".meta"
TOMBSTONE = ".ts"
EXTENSIONS = (DATA, META, TOMBSTONE)


@dataclasses.dataclass
class FileSet:
    """The files of a hash directory that decide what the object is."""

    data: str | None = None          # newest .data if it is the newest data/tombstone
    tombstone: str | None = None     # newest .ts if it is the newest data/tombstone
    meta: str | None = None          # newest .meta newer than the data/tombstone
    obsolete: list[str] = dataclasses.field(default_factory=list)
    kept: list[str] = dataclasses.field(default_factory=list)
    # non-durable fragment archives newer than the winner (an EC PUT not committed yet)
    pending: list[str] = dataclasses.field(default_factory=list)
    # sidecars whose file is absent: maybe a write in flight (sidecar goes first)
    orphans: list[str] = dataclasses.field(default_factory=list)

    @property
    def timestamp(self) -> Timestamp | None:
        """Timestamp of the winning .data or .ts (what a new PUT/DELETE must beat)."""
        name = self.data or self.tombstone
        return file_timestamp(name) if name else None


def file_name(timestamp: Timestamp, ext: str) -> str:
    """``ext``: an extension, or a fragment's ``data_suffix``."""
    return timestamp.internal + ext


def data_suffix(frag_index: int | None, durable: bool = True) -> str:
    """What follows the timestamp in a ``.data`` name: ``.data`` for a whole
    copy, ``#<index>#d.data`` / ``#<index>.data`` for a (non-)durable fragment."""
    if frag_index is None:
        return DATA
    return f"#{frag_index}#d{DATA}" if durable else f"#{frag_index}{DATA}"


def file_timestamp(name: str) -> Timestamp:
    return Timestamp(name[:name.rindex(".")].split("#", 1)[0])


def frag_index(name: str) -> int | None:
    """The fragment index in a fragment archive's name (None for a whole copy)."""
    parts = name[:name.rindex(".")].split("#")
    return int(parts[1]) if len(parts) > 1 else None


def is_durable(name: str) -> bool:
    """A whole copy, a tombstone, a .meta, or a fragment archive marked durable."""
    base = name[:name.rindex(".")]
    return "#" not in base or base.endswith("#d")


def _parse(name: str) -> tuple[Timestamp, str] | None:
    base, dot, ext = name.rpartition(".")
    if not dot or "." + ext not in EXTENSIONS:
        return None
    timestamp, *fragment = base.split("#")
    if fragment and (ext != DATA[1:] or not fragment[0].isdigit()
                     or fragment[1:] not in ([], ["d"])):
        return None
    try:
        return Timestamp(timestamp), "." + ext
    except ValueError:
        return None


def classify(names: list[str]) -> FileSet:
    """Sort a hash directory's file names into winners, obsolete and kept."""
    parsed = []
    sidecars = []
    for name in names:
        if name.endswith(SIDECAR_SUFFIX):
            sidecars.append(name)
            continue
        info = _parse(name)
        if info is not None:
            parsed.append((info[0], info[1], name))
    parsed.sort(reverse=True)
    result = FileSet()
    winner_ts = None
    for timestamp, ext, name in parsed:
        if ext == DATA and not is_durable(name):
            if winner_ts is None:
                result.pending.append(name)
                result.kept.append(name)
            else:
                result.obsolete.append(name)
            continue
        if ext == DATA and timestamp == winner_ts and result.data:
            result.kept.append(name)  # another fragment of the same version (a handoff's)
            continue
        if ext in (DATA, TOMBSTONE) and winner_ts is None:
            winner_ts = timestamp
            if ext == DATA:
                result.data = name
            else:
                result.tombstone = name
        elif ext == META and result.meta is None and winner_ts is None:
            result.meta = name
        else:
            result.obsolete.append(name)
            continue
        result.kept.append(name)
    kept = set(result.kept)
    obsolete = set(result.obsolete)
    for sidecar in sidecars:
        base = sidecar[:-len(SIDECAR_SUFFIX)]
        (result.kept if base in kept else result.obsolete if base in obsolete
         else result.orphans).append(sidecar)
    return result


def remove_obsolete(hash_dir: str, fileset: FileSet) -> None:
    for name in fileset.obsolete:
        try:
            os.unlink(os.path.join(hash_dir, name))
        except FileNotFoundError:
            pass


ORPHAN_AGE = 3600.0


def cleanup(hash_dir: str, reclaim_age: float) -> list[str]:
    """Remove obsolete files, tombstones older than ``reclaim_age`` seconds and
    sidecars orphaned for an hour (a crash between the sidecar's rename and
    its file's); remove the directory if nothing is left.  Returns the
    remaining names (orphans excluded)."""
    try:
        names = os.listdir(hash_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    fileset = classify(names)
    if fileset.tombstone and not fileset.meta and \
            file_timestamp(fileset.tombstone).seconds < time.time() - reclaim_age:
        fileset.obsolete.extend(fileset.kept)
        fileset.kept = []
    for name in fileset.pending:  # a PUT that was never committed
        if file_timestamp(name).seconds < time.time() - reclaim_age and name in fileset.kept:
            fileset.kept.remove(name)
            fileset.obsolete.append(name)
    for orphan in fileset.orphans:
        try:
            if os.stat(os.path.join(hash_dir, orphan)).st_mtime < time.time() - ORPHAN_AGE:
                fileset.obsolete.append(orphan)
        except FileNotFoundError:
            pass
    remove_obsolete(hash_dir, fileset)
    if not fileset.kept:
        try:
            os.rmdir(hash_dir)
        except OSError:
            pass
    return sorted(fileset.kept)
