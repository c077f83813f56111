"""One container or account database inside a device's ``ListingStore``.

Writes are ``*_txn`` methods taking an open write transaction, so that a
server request can check and change a database atomically inside one
``store.write(op)`` (and share its commit with concurrent requests).
Reads open their own short read transaction.

Counters (object count, bytes used, container count, per-policy stats) live
in the info record and are adjusted on every record change, so they cost
O(1) to read.  Every record change gets the next per-database sequence
number; ``get_items_since`` and ``merge_items`` are what DB replication
needs: records changed since a sync point, and merging a batch of records.
"""
from __future__ import annotations

import uuid
from typing import Any, Iterable

import msgpack

from objstore.common.timestamp import Timestamp
from objstore.db import keys
from objstore.db.query import ListingParams, list_rows
from objstore.db.schema import ZERO_TS, Record, RecordKind, norm_ts
from objstore.db.store import ListingStore

Info = dict[str, Any]


def _pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def unpack(raw: bytes) -> Any:
    return msgpack.unpackb(raw, raw=False, strict_map_key=False)


def _full_name(value: bytes) -> bytes:
    return unpack(value)[1].encode("utf-8")


class Broker:
    """API of one database: info, metadata, records, listings, replication."""

    def __init__(self, store: ListingStore, kind: RecordKind, db_hash: bytes,
                 account: str, container: str | None = None, track_dirty: bool = False) -> None:
        self.store = store
        self.kind = kind
        self.hash = db_hash
        self.account = account
        self.container = container
        self.track_dirty = track_dirty

    # -- encoding ----------------------------------------------------------
    def _encode(self, rec: Record, seq: int, suffix: bytes) -> bytes:
        long_name = rec["name"] if keys.is_group_key(suffix) else None
        return _pack([seq, long_name, *(rec[f] for f in self.kind.fields)])

    def _decode(self, name: bytes, value: bytes) -> Record:
        row = unpack(value)
        rec = dict(zip(self.kind.fields, row[2:]))
        self.kind.fill_defaults(rec)
        rec["name"] = row[1] if row[1] is not None else name.decode("utf-8")
        rec["seq"] = row[0]
        return rec

    # -- info --------------------------------------------------------------
    def info_txn(self, txn) -> Info | None:
        raw = txn.get(self.hash, db=self.store.db["info"])
        return unpack(raw) if raw is not None else None

    def get_info(self) -> Info | None:
        with self.store.read() as txn:
            return self.info_txn(txn)

    def is_deleted(self, info: Info | None) -> bool:
        """Missing, or deleted (a container also needs to be empty, like Swift)."""
        if info is None:
            return True
        if info["delete_timestamp"] <= info["put_timestamp"]:
            return False
        return not self.kind.deleted_db_must_be_empty or info["stats"][0] == 0

    def _save_info(self, txn, info: Info) -> None:
        # changed_at: when this replica last changed (reported to the account
        # to order stats reports); never behind any timestamp it holds
        info["changed_at"] = max(info["changed_at"], Timestamp.now().internal)
        info["version"] += 1
        txn.put(self.hash, _pack(info), db=self.store.db["info"])
        if self.track_dirty:
            txn.put(self.hash, info["version"].to_bytes(8, "big"), db=self.store.db["dirty"])

    def create_txn(self, txn, put_timestamp: str, storage_policy_index: int = 0,
                   partition: int = 0) -> Info:
        """A new, empty database (the caller checked that none exists)."""
        ts = norm_ts(put_timestamp)
        info = {
            "account": self.account, "container": self.container, "id": uuid.uuid4().hex,
            "created_at": ts, "put_timestamp": ts, "delete_timestamp": ZERO_TS,
            "status_changed_at": ts, "storage_policy_index": int(storage_policy_index),
            "partition": int(partition), "max_seq": 0, "changed_at": ts, "version": 0,
            "stats": [0] * len(self.kind.stat_names), "policy_stats": {},
        }
        self._save_info(txn, info)
        txn.put(int(partition).to_bytes(4, "big") + self.hash, b"", db=self.store.db["parts"])
        return info

    def set_timestamps_txn(self, txn, info: Info, put_timestamp: str | None = None,
                           delete_timestamp: str | None = None,
                           storage_policy_index: int | None = None) -> None:
        """Merge put/delete timestamps (each keeps its max) and save the info."""
        was_deleted = self.is_deleted(info)
        if put_timestamp is not None and norm_ts(put_timestamp) > info["put_timestamp"]:
            info["put_timestamp"] = norm_ts(put_timestamp)
            if storage_policy_index is not None:
                info["storage_policy_index"] = int(storage_policy_index)
        if delete_timestamp is not None:
            info["delete_timestamp"] = max(info["delete_timestamp"], norm_ts(delete_timestamp))
        info["changed_at"] = max(info["changed_at"], info["put_timestamp"], info["delete_timestamp"])
        if self.is_deleted(info) != was_deleted:
            info["status_changed_at"] = max(info["put_timestamp"], info["delete_timestamp"])
        self._save_info(txn, info)

    # -- metadata ----------------------------------------------------------
    def metadata_txn(self, txn) -> dict[str, list]:
        raw = txn.get(self.hash, db=self.store.db["meta"])
        return unpack(raw) if raw is not None else {}

    def get_metadata(self) -> dict[str, str]:
        """Current metadata (keys whose newest value is empty are deleted)."""
        return self.snapshot(None)[1]

    def merge_metadata_txn(self, txn, updates: dict[str, tuple[str, str]]) -> bool:
        """Merge {key: (value, timestamp)}: per key, the newer timestamp wins."""
        meta = self.metadata_txn(txn)
        changed = False
        for key, (value, ts) in updates.items():
            ts = norm_ts(ts)
            if key not in meta or ts > meta[key][1]:
                meta[key] = [value, ts]
                changed = True
        if changed:
            txn.put(self.hash, _pack(meta), db=self.store.db["meta"])
        return changed

    # -- records -----------------------------------------------------------
    def merge_items_txn(self, txn, info: Info, items: Iterable[Record]) -> int:
        """Merge records (normalized by the kind); return how many changed."""
        changed = 0
        for item in items:
            changed += self._merge_one(txn, info, self.kind.normalize(item))
        if changed:
            self._save_info(txn, info)
        return changed

    def _merge_one(self, txn, info: Info, new: Record) -> bool:
        dbs, kind = self.store.db, self.kind
        suffix = keys.name_key(new["name"].encode("utf-8"))
        key = self.hash + suffix
        old_raw, where = txn.get(key, db=dbs["live"]), "live"
        if old_raw is None:
            old_raw, where = txn.get(key, db=dbs["dead"]), "dead"
        old = self._decode(suffix, old_raw) if old_raw is not None else None
        merged = kind.merge(old, new)
        if merged is None:
            return False
        if old is not None:
            txn.delete(key, db=dbs[where])
            txn.delete(keys.seq_key(self.hash, old["seq"]), db=dbs["seq"])
            if where == "dead":
                txn.delete(keys.tomb_key(self.hash, kind.timestamp(old), suffix), db=dbs["tombs"])
            else:
                self._count(info, old, -1)
        info["max_seq"] += 1
        seq = info["max_seq"]
        value = self._encode(merged, seq, suffix)
        if kind.is_deleted(merged):
            txn.put(key, value, db=dbs["dead"])
            txn.put(keys.tomb_key(self.hash, kind.timestamp(merged), suffix), b"", db=dbs["tombs"])
        else:
            txn.put(key, value, db=dbs["live"])
            self._count(info, merged, +1)
        txn.put(keys.seq_key(self.hash, seq), suffix, db=dbs["seq"])
        info["changed_at"] = max(info["changed_at"], kind.timestamp(merged))
        return True

    def _count(self, info: Info, rec: Record, sign: int) -> None:
        delta = self.kind.stats(rec)
        info["stats"] = [a + sign * b for a, b in zip(info["stats"], delta)]
        if self.kind.tracks_policies:
            policy = str(rec["storage_policy_index"])
            current = info["policy_stats"].get(policy, [0] * len(delta))
            info["policy_stats"][policy] = [a + sign * b for a, b in zip(current, delta)]

    def get_record(self, name: str) -> Record | None:
        """The live record or tombstone of ``name`` (None if unknown)."""
        suffix = keys.name_key(name.encode("utf-8"))
        with self.store.read() as txn:
            for where in ("live", "dead"):
                raw = txn.get(self.hash + suffix, db=self.store.db[where])
                if raw is not None:
                    return self._decode(suffix, raw)
        return None

    def list(self, params: ListingParams) -> list[Record]:
        """One listing page of live records; subdirs come as {"subdir": name}."""
        with self.store.read() as txn:
            return self.list_txn(txn, params)

    def list_txn(self, txn, params: ListingParams) -> list[Record]:
        rows = list_rows(txn.cursor(db=self.store.db["live"]), self.hash, params, _full_name)
        return [self._decode(name, value) if value is not None
                else {"subdir": name.decode("utf-8")} for name, value in rows]

    def snapshot(self, params: ListingParams | None) -> tuple[Info | None, dict[str, str], list[Record]]:
        """Info, current metadata and (if ``params``) a listing page, all
        from one read transaction so that counters and listing agree."""
        with self.store.read() as txn:
            info = self.info_txn(txn)
            if info is None:
                return None, {}, []
            metadata = {k: v for k, (v, _) in self.metadata_txn(txn).items() if v}
            return info, metadata, self.list_txn(txn, params) if params is not None else []

    # -- replication -------------------------------------------------------
    def get_items_since(self, seq: int, limit: int) -> list[Record]:
        """Records (tombstones included) changed after ``seq``, in seq order."""
        dbs, items = self.store.db, []
        with self.store.read() as txn:
            cursor = txn.cursor(db=dbs["seq"])
            if not cursor.set_range(keys.seq_key(self.hash, seq + 1)):
                return items
            for key, suffix in cursor:
                if not key.startswith(self.hash) or len(items) >= limit:
                    break
                raw = txn.get(self.hash + suffix, db=dbs["live"])
                if raw is None:
                    raw = txn.get(self.hash + suffix, db=dbs["dead"])
                rec = self._decode(suffix, raw)
                rec["deleted"] = self.kind.is_deleted(rec)
                items.append(rec)
        return items

    def merge_items(self, items: list[Record]) -> int:
        """Merge a batch of records from another replica (one transaction)."""
        def op(txn, store):
            info = self.info_txn(txn)
            if info is None:
                raise LookupError("no such database")
            return self.merge_items_txn(txn, info, items)
        return self.store.write(op)

    def get_sync(self, remote_id: str) -> int:
        """The last seq of database ``remote_id`` merged into this one (-1: never)."""
        with self.store.read() as txn:
            return self.get_sync_txn(txn, remote_id)

    def get_sync_txn(self, txn, remote_id: str) -> int:
        raw = txn.get(self.hash + remote_id.encode(), db=self.store.db["syncs"])
        return int.from_bytes(raw, "big") - 1 if raw is not None else -1

    def set_sync_txn(self, txn, remote_id: str, seq: int) -> None:
        txn.put(self.hash + remote_id.encode(), (seq + 1).to_bytes(8, "big"),
                db=self.store.db["syncs"])

    def drop_txn(self, txn) -> None:
        """Remove the whole database (reclaim of a long-deleted DB)."""
        dbs = self.store.db
        info = self.info_txn(txn)
        for name in ("live", "dead", "tombs", "seq", "syncs"):
            cursor = txn.cursor(db=dbs[name])
            if cursor.set_range(self.hash):
                while cursor.key().startswith(self.hash):
                    if not cursor.delete():
                        break
        for name in ("info", "meta", "dirty"):
            txn.delete(self.hash, db=dbs[name])
        if info is not None:
            txn.delete(int(info["partition"]).to_bytes(4, "big") + self.hash, db=dbs["parts"])
