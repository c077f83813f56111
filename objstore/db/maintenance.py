"""Device-wide work on a ListingStore: reclaim, dirty-set, DB enumeration.

Used by the servers (account-stat flushing, the partitions /recon reports)
and by the DB replicator (enumerating the databases of a partition,
reclaiming old tombstones).
"""
from __future__ import annotations

import time
from typing import Iterator

from objstore.common.timestamp import Timestamp
from objstore.db import keys
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


def partitions(store: ListingStore) -> list[int]:
    """The partitions the store holds DBs of, in order: one index seek per
    partition (the ``parts`` index is keyed partition + hash), so it costs
    the number of partitions, not of DBs."""
    found = []
    with store.read() as txn:
        cursor = txn.cursor(db=store.db["parts"])
        position = cursor.first()
        while position:
            part = int.from_bytes(cursor.key()[:4], "big")
            found.append(part)
            position = cursor.set_range((part + 1).to_bytes(4, "big")) \
                if part + 1 < 1 << 32 else False
    return found


def reclaim_cutoff(reclaim_age: float, now: float | None = None) -> str:
    """The internal timestamp before which tombstones and deleted DBs go."""
    return Timestamp(max(0.0, (time.time() if now is None else now) - reclaim_age)).internal


def is_reclaimable(broker: Broker, info: dict, cutoff: str) -> bool:
    """A DB deleted before ``cutoff``: reclaim drops it, and a replicator must
    not push it (a peer that dropped it already would get it back)."""
    return broker.is_deleted(info) and info["delete_timestamp"] < cutoff


def reclaim(store: ListingStore, kind: RecordKind, reclaim_age: float = DEFAULT_RECLAIM_AGE,
            now: float | None = None, batch: int = 1000) -> tuple[int, int]:
    """Drop tombstones and deleted databases older than ``reclaim_age``.
    Returns (tombstones reclaimed, databases dropped).

    Tombstones are found with the age-ordered ``tombs`` index: per database,
    a scan up to the cutoff and one seek to the next database, so the cost
    is O(databases with tombstones + tombstones reclaimed); they are deleted
    ``batch`` per transaction.
    """
    cutoff = reclaim_cutoff(reclaim_age, now)
    tombstones, resume = 0, b""
    while resume is not None:
        doomed, resume = _old_tombstones(store, cutoff[:16].encode("ascii"), resume, batch)
        if doomed:
            store.write(lambda txn, s: _forget_tombstones(txn, s, doomed))
            tombstones += len(doomed)
    dropped = 0
    for db_hash, info in databases(store):
        broker = broker_for(store, kind, db_hash, info)
        if is_reclaimable(broker, info, cutoff):
            dropped += store.write(lambda txn, s: _drop_if_reported(txn, s, broker))
    return tombstones, dropped


def _drop_if_reported(txn, store: ListingStore, broker: Broker) -> bool:
    """Drop a deleted DB unless the account has not heard of its deletion yet."""
    if txn.get(broker.hash, db=store.db["dirty"]) is not None:
        return False
    broker.drop_txn(txn)
    return True


def _old_tombstones(store: ListingStore, cutoff: bytes, start: bytes,
                    batch: int) -> tuple[list[bytes], bytes | None]:
    """Up to ``batch`` tombstone index keys older than ``cutoff`` from
    ``start`` on, and where to resume (None when done)."""
    hlen = keys.HASH_LEN
    doomed: list[bytes] = []
    with store.read() as txn:
        cursor = txn.cursor(db=store.db["tombs"])
        found = cursor.set_range(start)
        while found:
            key = cursor.key()
            if key[hlen:hlen + 16] < cutoff:
                if len(doomed) == batch:
                    return doomed, key
                doomed.append(key)
                found = cursor.next()
            else:  # the rest of this database's tombstones are younger
                after = keys.prefix_end(key[:hlen])
                found = after is not None and cursor.set_range(after)
    return doomed, None


def _forget_tombstones(txn, store: ListingStore, tomb_keys: list[bytes]) -> None:
    hlen = keys.HASH_LEN
    for key in tomb_keys:
        if txn.get(key, db=store.db["tombs"]) is None:  # replaced since it was found
            continue
        record_key = key[:hlen] + key[hlen + 16:]
        raw = txn.get(record_key, db=store.db["dead"])
        if raw is not None:
            txn.delete(keys.seq_key(key[:hlen], unpack(raw)[0]), db=store.db["seq"])
            txn.delete(record_key, db=store.db["dead"])
        txn.delete(key, db=store.db["tombs"])


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
