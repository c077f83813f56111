"""Record kinds: object records (container DBs) and container records (account DBs).

Each kind says which fields a record has, how two versions of a record merge
(so that replicas converge whatever order updates arrive in), whether a
record is a tombstone, and what it adds to the database's counters.
Timestamps are stored in ``Timestamp.internal`` form, which sorts as text.
"""
from __future__ import annotations

from typing import Any

from objstore.common.timestamp import Timestamp

ZERO_TS = Timestamp(0).internal
Record = dict[str, Any]


def norm_ts(value: Any) -> str:
    """A timestamp in internal form; ValueError if malformed."""
    if value in (None, "", 0, "0"):
        return ZERO_TS
    return Timestamp(value).internal


class RecordKind:
    """Fields and merge rule of one kind of record."""
    fields: tuple[str, ...] = ()
    stat_names: tuple[str, ...] = ()
    tracks_policies = False
    deleted_db_must_be_empty = True

    def normalize(self, item: Record) -> Record:
        raise NotImplementedError

    def fill_defaults(self, rec: Record) -> None:
        """Complete a stored record written before a field was added."""

    def timestamp(self, rec: Record) -> str:
        """When the record last changed (tombstones age from this)."""
        raise NotImplementedError

    def is_deleted(self, rec: Record) -> bool:
        raise NotImplementedError

    def stats(self, rec: Record) -> tuple[int, ...]:
        raise NotImplementedError

    def merge(self, old: Record | None, new: Record) -> Record | None:
        """The record to store, or None if ``old`` already wins."""
        raise NotImplementedError


class ObjectKind(RecordKind):
    """An object in a container listing.

    Like Swift, a record carries three timestamps: ``created_at`` (the data:
    size, etag, deleted), ``ctype_timestamp`` (when its Content-Type was last
    set, by a PUT or a POST) and ``meta_timestamp`` (the last PUT or POST;
    what the listing shows as ``last_modified``).  Each part merges on its
    own timestamp, so a POST's update changes the content type and
    last-modified time but never brings back older data.
    """
    fields = ("created_at", "size", "content_type", "etag", "deleted", "storage_policy_index",
              "ctype_timestamp", "meta_timestamp")
    stat_names = ("object_count", "bytes_used")
    _DATA = ("created_at", "size", "etag", "deleted", "storage_policy_index")

    def normalize(self, item: Record) -> Record:
        deleted = bool(item.get("deleted", False))
        created = norm_ts(item["created_at"])
        ctype_ts = max(created, norm_ts(item.get("ctype_timestamp")))
        return {
            "name": str(item["name"]),
            "created_at": created,
            "size": 0 if deleted else int(item.get("size") or 0),
            "content_type": "" if deleted else str(item.get("content_type") or ""),
            "etag": "" if deleted else str(item.get("etag") or ""),
            "deleted": deleted,
            "storage_policy_index": int(item.get("storage_policy_index") or 0),
            "ctype_timestamp": ctype_ts,
            "meta_timestamp": max(ctype_ts, norm_ts(item.get("meta_timestamp"))),
        }

    def fill_defaults(self, rec: Record) -> None:
        rec.setdefault("ctype_timestamp", rec["created_at"])
        rec.setdefault("meta_timestamp", rec["ctype_timestamp"])

    def timestamp(self, rec: Record) -> str:
        return rec["created_at"]

    def is_deleted(self, rec: Record) -> bool:
        return rec["deleted"]

    def stats(self, rec: Record) -> tuple[int, ...]:
        return (1, rec["size"])

    def merge(self, old: Record | None, new: Record) -> Record | None:
        if old is None:
            return new
        if new["created_at"] > old["created_at"] and (new["deleted"] or old["deleted"]):
            return new  # a delete, or new data after a delete: nothing older survives
        if old["deleted"]:
            return None  # a POST's update of data older than the delete
        merged = dict(old)
        if new["created_at"] > old["created_at"]:
            merged.update((f, new[f]) for f in self._DATA)
        if new["ctype_timestamp"] > old["ctype_timestamp"]:
            merged["content_type"], merged["ctype_timestamp"] = \
                new["content_type"], new["ctype_timestamp"]
        merged["meta_timestamp"] = max(old["meta_timestamp"], new["meta_timestamp"],
                                       merged["ctype_timestamp"])
        return None if merged == old else merged


class ContainerKind(RecordKind):
    """A container in an account listing.

    Put and delete timestamps merge independently (max of each); the record
    is deleted while its delete timestamp is newer.  Counters come from the
    report with the newest ``stats_timestamp`` (when the reporting container
    replica last changed), so an old report arriving late cannot overwrite
    fresher numbers.  Ties are broken by the values themselves, so that
    account replicas merging each other's records always agree.
    """
    fields = ("put_timestamp", "delete_timestamp", "object_count", "bytes_used",
              "storage_policy_index", "stats_timestamp")
    stat_names = ("container_count", "object_count", "bytes_used")
    tracks_policies = True
    deleted_db_must_be_empty = False

    def normalize(self, item: Record) -> Record:
        return {
            "name": str(item["name"]),
            "put_timestamp": norm_ts(item.get("put_timestamp")),
            "delete_timestamp": norm_ts(item.get("delete_timestamp")),
            "object_count": max(0, int(item.get("object_count") or 0)),
            "bytes_used": max(0, int(item.get("bytes_used") or 0)),
            "storage_policy_index": int(item.get("storage_policy_index") or 0),
            "stats_timestamp": norm_ts(item.get("stats_timestamp")),
        }

    def timestamp(self, rec: Record) -> str:
        return max(rec["put_timestamp"], rec["delete_timestamp"])

    def is_deleted(self, rec: Record) -> bool:
        return rec["delete_timestamp"] > rec["put_timestamp"]

    def stats(self, rec: Record) -> tuple[int, ...]:
        return (1, rec["object_count"], rec["bytes_used"])

    def merge(self, old: Record | None, new: Record) -> Record | None:
        if old is None:
            return new
        merged = dict(old)
        merged["delete_timestamp"] = max(old["delete_timestamp"], new["delete_timestamp"])
        for fields in (("put_timestamp", "storage_policy_index"),
                       ("stats_timestamp", "object_count", "bytes_used")):
            if [new[f] for f in fields] > [old[f] for f in fields]:
                merged.update((f, new[f]) for f in fields)
        return None if merged == old else merged


OBJECTS = ObjectKind()
CONTAINERS = ContainerKind()
