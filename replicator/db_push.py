"""Pushing one local DB to one peer: the records it lacks, in batches.

``sync`` (or this DB's answer in a ``sync_many`` of many DBs) tells what the
peer has of this DB: its info, its metadata and the sync point (the last
sequence number of this DB it merged, -1 if never; 404 if it has no such
DB).  When the peer already holds every record, timestamp and metadata
value, nothing is sent or written.  Otherwise
``get_items_since(point)`` goes out in ``merge`` batches; the last batch
moves the peer's sync point to this DB's ``max_seq``, so the next pass
starts where this one ended.  Both operations are idempotent: a push that
fails half-way is simply done again by the next pass.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from objstore.db.broker import Broker, Info
from replicator.db_peer import Payload, PeerError, Replicate

Metadata = dict[str, list]


@dataclasses.dataclass(frozen=True)
class LocalDB:
    """A DB as read in one transaction: what is pushed, and what must still
    be there, unchanged, before a handoff copy may be removed."""
    broker: Broker
    info: Info
    metadata: Metadata
    partition: int

    @classmethod
    def read(cls, broker: Broker, partition: int) -> "LocalDB | None":
        with broker.store.read() as txn:
            info = broker.info_txn(txn)
            metadata = broker.metadata_txn(txn)
        return None if info is None else cls(broker, info, metadata, partition)


@dataclasses.dataclass
class PushResult:
    in_sync: bool = False       # the peer had everything: nothing was sent
    whole_copy: bool = False    # the peer had no such DB: it got all of it
    records_sent: int = 0


def peer_is_current(db: LocalDB, peer_info: Info, peer_metadata: Metadata, point: int) -> bool:
    """Whether the peer already has every record, timestamp and metadata value of ``db``."""
    if point < db.info["max_seq"]:
        return False
    if peer_info["put_timestamp"] < db.info["put_timestamp"] or \
            peer_info["delete_timestamp"] < db.info["delete_timestamp"]:
        return False
    return all(key in peer_metadata and peer_metadata[key][1] >= ts
               for key, (_value, ts) in db.metadata.items())


def push(replicate: Replicate, node: Mapping[str, Any], db: LocalDB, batch_size: int,
         synced: tuple[int, Payload] | None = None) -> PushResult:
    """Bring ``node``'s replica of ``db`` up to date; PeerError if it could not.
    ``synced``: the peer's ``sync`` answer (200 or 404) if already known."""
    info = db.info
    status, answer = synced or _call(replicate, node, db, "sync", {"id": info["id"]}, (200, 404))
    result = PushResult(whole_copy=status == 404)
    point = -1
    if status == 200:
        try:
            point = int(answer["point"])
            current = peer_is_current(db, answer["info"], answer["metadata"], point)
        except (KeyError, TypeError, ValueError) as err:
            raise PeerError(f"malformed sync answer from {node['ip']}:{node['port']}: {err!r}") from None
        if current:
            result.in_sync = True
            return result
    while True:
        items = db.broker.get_items_since(point, batch_size)
        last_batch = len(items) < batch_size
        # once the scan reached the end, everything up to max_seq is sent
        seq = max(items[-1]["seq"] if items else point, info["max_seq"] if last_batch else -1)
        _call(replicate, node, db, "merge", {"info": info, "metadata": db.metadata,
                                             "items": items, "source_seq": seq}, (200,))
        result.records_sent += len(items)
        point = seq
        if last_batch:
            return result


def sync_many(replicate: Replicate, node: Mapping[str, Any],
              dbs: list[tuple[bytes, str]]) -> list[tuple[int, Payload]]:
    """The peer's ``sync`` answer for each (DB hash, DB id), in one request:
    (200, answer), or (404, {}) for a DB it does not have."""
    status, answer = replicate(node, 0, None, "sync_many", {"dbs": [list(db) for db in dbs]})
    where = f"{node['ip']}:{node['port']}/{node['device']}"
    if status != 200:
        raise PeerError(f"sync_many on {where} got {status}: {answer.get('error', '')}", status)
    answers = answer.get("answers")
    if not isinstance(answers, list) or len(answers) != len(dbs):
        raise PeerError(f"malformed sync_many answer from {where}")
    return [(404, {}) if one is None else (200, one) for one in answers]


def _call(replicate: Replicate, node: Mapping[str, Any], db: LocalDB, op: str, args: Payload,
          expected: tuple[int, ...]) -> tuple[int, Payload]:
    status, answer = replicate(node, db.partition, db.broker.hash, op, args)
    if status not in expected:
        raise PeerError(f"{op} of {db.broker.hash.hex()} on {node['ip']}:{node['port']}/"
                        f"{node['device']} got {status}: {answer.get('error', '')}", status)
    return status, answer
