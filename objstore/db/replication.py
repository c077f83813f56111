"""REPLICATE for container and account DBs: what a DB replicator asks of a peer.

``REPLICATE /<device>/<partition>/<db hash hex>`` with a msgpack body
``[op, args]``; answers are msgpack too:

``["sync", {"id": <sender DB id>}]``
    -> 200 ``{"info": ..., "metadata": {key: [value, ts]}, "point": n}``
    where ``point`` is the last sequence number of the sender's DB already
    merged here (-1: never); 404 if this node has no such DB.
``["merge", {"info": <sender info>, "metadata": {...}, "items": [records],
             "source_seq": n}]``
    -> 200 ``{"info": ...}``: creates the DB if missing (names, policy and
    timestamps from the sender's info), merges put/delete timestamps,
    metadata (per key, newest wins) and the records (newest wins), and
    remembers ``source_seq`` as the sync point of the sender's DB id.

``REPLICATE /<device>/<partition>`` (any partition) with
``["sync_many", {"dbs": [[<db hash>, <sender DB id>], ...]}]``
    -> 200 ``{"answers": [<what sync answers> or None, ...]}``: the ``sync``
    of up to 10,000 DBs of the device in one request (None: no such DB), so
    that a pass over replicas that agree costs a few requests, not one per DB.

A replicator pushes a DB to a peer with ``sync``, then
``Broker.get_items_since(point)`` in batches through ``merge``; both
operations are idempotent, so an interrupted push is simply retried.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgpack
from webob import Request

from objstore.common.constraints import wsgi_to_str
from objstore.common.hashing import hash_path
from objstore.common.http import HTTPError, Response
from objstore.common.paths import split_path
from objstore.db.broker import Broker
from objstore.db.schema import norm_ts

if TYPE_CHECKING:
    from objstore.db.server import DBServer

MAX_BODY = 64 * 1024 * 1024
MAX_SYNC_MANY = 10_000


def replicate(server: "DBServer", req: Request) -> Response:
    path = wsgi_to_str(req.environ.get("PATH_INFO", "")) or ""
    try:
        device, partition, hash_hex = split_path(path, 2, 3)
    except ValueError:
        raise HTTPError(400, "REPLICATE path must be /<device>/<partition>[/<hash>]") from None
    part = server.check_device(device, partition)
    if hash_hex is None:
        op, args = _read_body(req)
        if op == "sync_many":
            return _sync_many(server, device, args)
        raise HTTPError(400, f"Unknown REPLICATE operation {op!r} on a device")
    try:
        db_hash = bytes.fromhex(hash_hex)
    except ValueError:
        db_hash = b""
    if len(db_hash) != 16:
        raise HTTPError(400, f"Invalid DB hash {hash_hex!r}")
    op, args = _read_body(req)
    broker = Broker(server.store(device), server.kind, db_hash, "", None, server.track_dirty)
    if op == "sync":
        return _sync(broker, args)
    if op == "merge":
        return _merge(server, broker, part, args)
    raise HTTPError(400, f"Unknown REPLICATE operation {op!r}")


def _read_body(req: Request) -> tuple[str, dict[str, Any]]:
    if req.content_length is None or req.content_length > MAX_BODY:
        raise HTTPError(400, f"REPLICATE needs a Content-Length of at most {MAX_BODY}")
    try:
        body = msgpack.unpackb(req.body_file.read(req.content_length), raw=False,
                               strict_map_key=False)
        op, args = body
        if not isinstance(op, str) or not isinstance(args, dict):
            raise ValueError("expected [op, {args}]")
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.UnpackException) as err:
        raise HTTPError(400, f"Invalid REPLICATE body: {err}") from None
    return op, args


def _answer(payload: dict[str, Any]) -> Response:
    return Response(200, {"content-type": "application/x-msgpack"},
                    msgpack.packb(payload, use_bin_type=True))


def _sync(broker: Broker, args: dict[str, Any]) -> Response:
    with broker.store.read() as txn:
        answer = _sync_answer(txn, broker, str(args.get("id", "")))
    if answer is None:
        raise HTTPError(404, "No such DB")
    return _answer(answer)


def _sync_answer(txn, broker: Broker, remote_id: str) -> dict[str, Any] | None:
    """What ``sync`` answers about one DB (None: no such DB here)."""
    info = broker.info_txn(txn)
    if info is None:
        return None
    return {"info": info, "metadata": broker.metadata_txn(txn),
            "point": broker.get_sync_txn(txn, remote_id)}


def _sync_many(server: "DBServer", device: str, args: dict[str, Any]) -> Response:
    """``sync`` of many DBs of a device in one request and one read transaction."""
    try:
        wanted = [(bytes(db_hash), str(remote_id)) for db_hash, remote_id in args["dbs"]]
        if len(wanted) > MAX_SYNC_MANY or any(len(h) != 16 for h, _ in wanted):
            raise ValueError(f"at most {MAX_SYNC_MANY} [16-byte hash, id] pairs")
    except (KeyError, TypeError, ValueError) as err:
        raise HTTPError(400, f"Invalid sync_many arguments: {err!r}") from None
    store = server.store(device)
    with store.read() as txn:
        answers = [_sync_answer(txn, Broker(store, server.kind, db_hash, "", None), remote_id)
                   for db_hash, remote_id in wanted]
    return _answer({"answers": answers})


def _merge(server: "DBServer", broker: Broker, partition: int, args: dict[str, Any]) -> Response:
    try:
        sender = args["info"]
        names = [sender["account"]] + ([sender["container"]] if sender.get("container") else [])
        if hash_path(*names, prefix=server.hash_prefix, suffix=server.hash_suffix) != broker.hash:
            raise ValueError("the DB names do not match the hash")
        metadata = {str(k): (str(v), str(ts)) for k, (v, ts) in dict(args.get("metadata") or {}).items()}
        items = list(args.get("items") or [])
        source_id, source_seq = str(sender["id"]), int(args.get("source_seq", -1))
    except (KeyError, TypeError, ValueError) as err:
        raise HTTPError(400, f"Invalid merge arguments: {err}") from None
    broker.account, broker.container = names[0], (names[1] if len(names) > 1 else None)

    def op(txn, store):
        info = broker.info_txn(txn)
        if info is None:
            info = broker.create_txn(txn, sender["created_at"], sender["storage_policy_index"],
                                     partition)
        if norm_ts(sender["put_timestamp"]) > info["put_timestamp"] or \
                norm_ts(sender["delete_timestamp"]) > info["delete_timestamp"]:
            # only what changes the DB is saved (and marks a container for its
            # account update): records the peer sends back that this replica
            # already has cost nothing but the new sync point
            broker.set_timestamps_txn(txn, info, put_timestamp=sender["put_timestamp"],
                                      delete_timestamp=sender["delete_timestamp"],
                                      storage_policy_index=sender["storage_policy_index"])
        broker.merge_metadata_txn(txn, metadata)
        broker.merge_items_txn(txn, info, items)
        if source_seq > broker.get_sync_txn(txn, source_id):
            broker.set_sync_txn(txn, source_id, source_seq)
        return info

    try:
        info = broker.store.write(op)
    except (KeyError, TypeError, ValueError) as err:
        raise HTTPError(400, f"Invalid merge arguments: {err}") from None
    return _answer({"info": info})
