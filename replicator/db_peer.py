"""The client half of DB REPLICATE: one ``[op, args]`` msgpack request to a
peer's container or account server (the protocol and its handler are in
``objstore/db/replication.py``).

Requests go to the node's replication address, on pooled keep-alive
connections: a pass sends one ``sync`` per DB and peer, so a TCP handshake
per request would cost as much as the request itself.
"""
from __future__ import annotations

from typing import Any, Mapping, Protocol
from urllib.parse import quote

import msgpack

from objstore.common.backend_http import BackendConnection, ConnectionPool

MAX_ANSWER = 64 * 1024 * 1024
Payload = dict[str, Any]


class PeerError(Exception):
    """A peer could not be reached, broke the protocol, or refused the request
    (``status``: its answer, None if there was none)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Replicate(Protocol):
    """What a DB replicator needs of its transport (a test may call a WSGI app):
    ``op`` on one DB, or on the device when ``db_hash`` is None."""

    def __call__(self, node: Mapping[str, Any], partition: int, db_hash: bytes | None, op: str,
                 args: Payload) -> tuple[int, Payload]: ...


def replication_address(node: Mapping[str, Any]) -> tuple[str, int]:
    """Where replication traffic for a ring device goes."""
    return node.get("replication_ip") or node["ip"], node.get("replication_port") or node["port"]


def replicate_path(node: Mapping[str, Any], partition: int, db_hash: bytes | None) -> str:
    """``/<device>/<partition>[/<db hash hex>]``, quoted."""
    path = f"/{quote(node['device'])}/{partition}"
    return path if db_hash is None else f"{path}/{db_hash.hex()}"


def decode_answer(status: int, content_type: str, body: bytes) -> tuple[int, Payload]:
    """(status, msgpack payload) of a REPLICATE answer; error bodies are text."""
    if status != 200:
        return status, {"error": body.decode("utf-8", "replace").strip()}
    if not content_type.startswith("application/x-msgpack"):
        raise PeerError(f"REPLICATE answered {content_type!r}, not msgpack")
    try:
        payload = msgpack.unpackb(body, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException) as err:
        raise PeerError(f"unreadable REPLICATE answer: {err}") from None
    if not isinstance(payload, dict):
        raise PeerError("REPLICATE answer is not a map")
    return status, payload


class HTTPReplicate:
    """REPLICATE over HTTP with connect and per-read timeouts."""

    def __init__(self, conn_timeout: float, node_timeout: float, pool_size: int = 8) -> None:
        self.conn_timeout = conn_timeout
        self.node_timeout = node_timeout
        self.pool = ConnectionPool(max_per_address=pool_size)

    def __call__(self, node: Mapping[str, Any], partition: int, db_hash: bytes | None, op: str,
                 args: Payload) -> tuple[int, Payload]:
        ip, port = replication_address(node)
        body = msgpack.packb([op, args], use_bin_type=True)
        path = replicate_path(node, partition, db_hash)
        headers = {"Content-Type": "application/x-msgpack", "Content-Length": str(len(body))}
        try:
            conn = BackendConnection({"ip": ip, "port": port}, self.conn_timeout,
                                     self.node_timeout, self.pool)
            try:
                conn.send_request("REPLICATE", path, headers, body=body)
                response = conn.getresponse()
                data = response.read_all(MAX_ANSWER)
                response.close()
            finally:
                conn.close()
        except OSError as err:  # refused, reset, timed out, or BackendError
            raise PeerError(f"{ip}:{port}/{node['device']}: {err or type(err).__name__}") from None
        return decode_answer(response.status, response.getheader("content-type", ""), data)
