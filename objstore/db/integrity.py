"""Is a database in a ListingStore readable, and moving a broken one aside.

Used by the container and account auditors.  A check is cheap: the info and
metadata records decode, and every live and dead record decodes to the
layout ``Broker`` writes (sequence number, long name, the kind's fields)
with a sequence number the info has handed out.  A broken database is
copied, key by key, into a file under ``<dev>/quarantined/<kind dir>/`` (for
the operator) and removed from the store in the same write transaction:
the server then answers 404 for it and the DB replicator brings a whole copy
back from a peer.
"""
from __future__ import annotations

import os
from typing import Any, Iterator

import msgpack

from objstore.common.timestamp import Timestamp
from objstore.db.broker import unpack
from objstore.db.schema import RecordKind
from objstore.db.store import SUBDBS, ListingStore

REQUIRED_INFO = ("account", "id", "put_timestamp", "delete_timestamp", "partition",
                 "max_seq", "stats")
_PER_RECORD = ("live", "dead")
_PARTS = "parts"  # keyed partition + hash: the one index not prefixed by the hash


def _prefixed(txn, db, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
    cursor = txn.cursor(db=db)
    if not cursor.set_range(prefix):
        return
    for key, value in cursor:
        if not key.startswith(prefix):
            return
        yield key, value


def problem(txn, store: ListingStore, kind: RecordKind, db_hash: bytes,
            raw_info: bytes) -> str | None:
    """Why the database ``db_hash`` is broken, or None if it reads fine.
    LMDB errors (a damaged environment, not one database) propagate."""
    try:
        info = unpack(raw_info)
        if not isinstance(info, dict) or any(key not in info for key in REQUIRED_INFO):
            return "info record lacks required keys"
        raw_meta = txn.get(db_hash, db=store.db["meta"])
        if raw_meta is not None and not isinstance(unpack(raw_meta), dict):
            return "metadata record is not a mapping"
        width = 2 + len(kind.fields)  # fewer: written before a field was added
        for name in _PER_RECORD:
            for key, value in _prefixed(txn, store.db[name], db_hash):
                row = unpack(value)
                if not isinstance(row, list) or not 2 <= len(row) <= width \
                        or not isinstance(row[0], int) or not 0 < row[0] <= info["max_seq"]:
                    return f"{name} record {key[len(db_hash):]!r} is malformed"
    except (ValueError, TypeError, msgpack.UnpackException) as err:
        return f"cannot decode a record: {err}"
    return None


def move_aside(store: ListingStore, db_hash: bytes, quarantine_dir: str) -> str:
    """Copy every key of the database into a file in ``quarantine_dir`` and
    remove it from the store; the file's path.  The copy is synced before the
    removal commits (a crash in between leaves the database in place)."""
    path = os.path.join(quarantine_dir, f"{db_hash.hex()}-{Timestamp.now().internal}.msgpack")

    def op(txn, s: ListingStore) -> None:
        found: dict[str, list[Any]] = {}
        for name in SUBDBS:
            db = s.db[name]
            rows = [(key, value) for key, value in txn.cursor(db=db)
                    if key[4:] == db_hash] if name == _PARTS else \
                list(_prefixed(txn, db, db_hash))
            found[name] = rows
            for key, _ in rows:
                txn.delete(key, db=db)
        os.makedirs(quarantine_dir, exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(msgpack.packb(found, use_bin_type=True))
            handle.flush()
            os.fsync(handle.fileno())

    store.write(op)
    return path
