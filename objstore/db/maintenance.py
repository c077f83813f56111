"""Device-wide work on a ListingStore: reclaim, dirty-set, DB enumeration.

Used by the servers (account-stat flushing) and by the DB replicator
(enumerating the databases of a partition, reclaiming old tombstones).
"""
from __future__ import annotations

import time
from typing import Iterator

from objstore.common.timestamp import Timestamp
from objstore.db.broker import Broker, unpack
from objstore.db.schema import RecordKind
from objstore.db.store import ListingStore

DEFAULT_RECLAIM_AGE = 7 * 24 * 3600


def broker_for(store: ListingStore, kind: RecordKind, db_hash: bytes, info: dict,
               track_dirty: bool = False) -> Broker:
    return Broker(store, kind, db_hash, info["account"], info["container"], track_dirty)


def databases(store: ListingStore, partition: int | None = None) -> Iterator[tuple[bytes, dict]]:
    """(hash, info) of every database, or of one partition's."""
    with store.read() as txn:
        if partition is None:
            rows = [(key, unpack(raw)) for key, raw in txn.cursor(db=store.db["info"])]
        else:
            part = int(partition).to_bytes(4, "big")
            hashes = []
            cursor = txn.cursor(db=store.db["parts"])
            if cursor.set_range(part):
                for key in cursor.iternext(values=False):
                    if not key.startswith(part):
                        break
                    hashes.append(key[4:])
            rows = [(h, unpack(txn.get(h, db=store.db["info"]))) for h in hashes]
    yield from rows


def reclaim(store: ListingStore, kind: RecordKind, reclaim_age: float = DEFAULT_RECLAIM_AGE,
            now: float | None = None) -> tuple[int, int]:
    """Drop tombstones and deleted databases older than ``reclaim_age``.
    Returns (tombstones reclaimed, databases dropped)."""
    cutoff = Timestamp(max(0.0, (time.time() if now is None else now) - reclaim_age)).internal
    tombstones = dropped = 0
    for db_hash, info in databases(store):
        broker = broker_for(store, kind, db_hash, info)
        if broker.is_deleted(info) and info["delete_timestamp"] < cutoff:
            store.write(lambda txn, s: broker.drop_txn(txn))
            dropped += 1
        else:
            tombstones += store.write(lambda txn, s: broker.reclaim_txn(txn, cutoff))
    return tombstones, dropped


def dirty_entries(store: ListingStore) -> list[tuple[bytes, int]]:
    """(hash, info version) of every database whose stats are not reported yet."""
    with store.read() as txn:
        return [(key, int.from_bytes(raw, "big")) for key, raw in txn.cursor(db=store.db["dirty"])]


def clear_dirty(store: ListingStore, reported: list[tuple[bytes, int]]) -> None:
    """Forget dirty marks whose version was reported (newer changes stay dirty)."""
    def op(txn, s):
        for db_hash, version in reported:
            raw = txn.get(db_hash, db=s.db["dirty"])
            if raw is not None and int.from_bytes(raw, "big") <= version:
                txn.delete(db_hash, db=s.db["dirty"])
    if reported:
        store.write(op)
