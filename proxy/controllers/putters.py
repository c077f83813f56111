"""An object PUT's open uploads: what each node receives of the client's body.

A ``Putter`` is one node's upload once it said ``100 Continue``.  A putter set
owns turning each chunk of the client's body into what every node receives:
``ReplicaPutters`` sends every node the same bytes (whole replicas);
``ec_putters.ECPutters`` cuts the body into segments and sends node i its
fragment i.  Either drops a node that fails and gives up when fewer than a
quorum are left.
"""
from __future__ import annotations

import functools
import hashlib
import json
from typing import Callable, Iterator

from objstore.common.backend_http import BackendConnection
from objstore.common.fanout import NET_ERRORS, BackendResult, FanOut
from objstore.common.http import error_response

_ANSWER_LIMIT = 65536  # bytes of a node's answer body kept (an error text)
# A middleware's callable in the PUT's environ: the metadata (``X-Object-Sysmeta-*``,
# ``X-Object-Meta-*``) known only once the whole body was read, e.g. a checksum the
# client sends after the body.  Called after the last byte; stored with the object
# (in the backend PUT's footer), so it is committed with the body or not at all.
LATE_METADATA = "objstore.late_metadata"
LateMetadata = Callable[[], dict[str, str]]
_LATE_PREFIXES = ("x-object-meta-", "x-object-sysmeta-")


def late_metadata(environ: dict) -> LateMetadata | None:
    """The request's late-metadata callable, its answer limited to object metadata."""
    source = environ.get(LATE_METADATA)
    if source is None:
        return None
    return lambda: {name: value for name, value in source().items()
                    if name.lower().startswith(_LATE_PREFIXES)}


def footer_put_headers(headers: dict[str, str], boundary: str,
                       object_length: int | None) -> dict[str, str]:
    """A backend PUT's headers for a body sent as Swift's multipart MIME document
    with a metadata footer (``objstore/obj/footers.py``): chunked, the object
    part's length apart."""
    out = {name: value for name, value in headers.items() if name.lower() != "content-length"}
    out.update({"Transfer-Encoding": "chunked", "Expect": "100-continue",
                "X-Backend-Obj-Metadata-Footer": "yes",
                "X-Backend-Obj-Multipart-Mime-Boundary": boundary})
    if object_length is not None:
        out["X-Backend-Obj-Content-Length"] = str(object_length)
    return out


def mime_preamble(boundary: str) -> bytes:
    """What a footer PUT's body starts with, before the object's bytes."""
    return f"--{boundary}\r\nX-Document: object body\r\n\r\n".encode()


def mime_footer(boundary: str, footer: dict[str, str]) -> bytes:
    """What a footer PUT's body ends with, after the object's bytes."""
    body = json.dumps(footer, sort_keys=True).encode()
    checksum = hashlib.md5(body, usedforsecurity=False).hexdigest()
    return (f"\r\n--{boundary}\r\nX-Document: object metadata\r\n"
            f"Content-MD5: {checksum}\r\n\r\n").encode() + body + f"\r\n--{boundary}--\r\n".encode()


class UploadError(Exception):
    """The upload cannot complete; ``response`` says why to the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.response = error_response(status, message)


class Putter:
    """One node's open upload: the request head is sent, the body goes next."""

    def __init__(self, fanout: FanOut, conn: BackendConnection, node: dict) -> None:
        self.fanout = fanout
        self.conn = conn
        self.node = node
        self.index = -1  # the replica (fragment index) it uploads, once its set knows

    @classmethod
    def connect(cls, fanout: FanOut, nodes: Iterator[dict], path: str,
                headers: dict[str, str]) -> Putter | BackendResult | None:
        """A node from ``nodes`` that said 100 Continue (a handoff if need be),
        or a node's refusal (e.g. 409, 412, 422), or None when none could take it."""
        limiter = fanout.error_limiter
        for node in nodes:
            try:
                conn = fanout.open(node)
            except NET_ERRORS as err:
                limiter.error(node, f"connect for PUT: {err!r}")
                continue
            try:
                conn.send_request("PUT", f"/{node['device']}{path}", headers)
                resp = conn.expect_continue()
                if resp is None:
                    limiter.success(node)
                    return cls(fanout, conn, node)
                body = resp.read_all(_ANSWER_LIMIT)
            except NET_ERRORS as err:
                conn.close()
                limiter.error(node, f"PUT expect: {err!r}")
                continue
            conn.close()
            if resp.status == 507:
                limiter.limit_now(node, "507 Insufficient Storage")
            elif resp.status >= 500:
                limiter.error(node, f"PUT expect: {resp.status}")
            else:
                limiter.success(node)
                return BackendResult(resp.status, resp.headers, body)
        return None

    def send(self, data: bytes) -> None:
        self.conn.send(data)

    def finish(self) -> None:
        """The body is complete (the last chunk of a chunked upload)."""
        self.conn.finish_body()

    def response(self) -> BackendResult | None:
        """The node's answer to the whole upload; None if it failed."""
        try:
            resp = self.conn.getresponse()
            body = resp.read_all(_ANSWER_LIMIT)
        except NET_ERRORS as err:
            self.fail(f"PUT response: {err!r}")
            return None
        resp.close()
        return BackendResult(resp.status, resp.headers, body)

    def fail(self, why: str) -> None:
        self.conn.close()
        self.fanout.error_limiter.error(self.node, why)

    def close(self) -> None:
        self.conn.close()


class ReplicaPutters:
    """The uploads of one PUT that stores whole copies: every node gets each
    chunk of the client's body unchanged (with ``late``, framed as a footer PUT
    whose footer is what ``late`` answers once the body is complete)."""

    def __init__(self, fanout: FanOut, putters: list[Putter], quorum: int, *,
                 late: LateMetadata | None = None, boundary: str = "") -> None:
        self.fanout = fanout
        self.putters = putters
        self.quorum = quorum
        self.late = late
        self.boundary = boundary
        self._preamble = mime_preamble(boundary) if late is not None else b""

    @classmethod
    def connect(cls, fanout: FanOut, replica_nodes: list[Iterator[dict]], path: str,
                headers_list: list[dict[str, str]], quorum: int,
                **options) -> tuple[ReplicaPutters, list[BackendResult]]:
        """Replica i's upload on the first node of ``replica_nodes[i]`` that
        takes it (all in parallel), and the refusals of nodes that would not;
        ``options`` go to the set's constructor."""
        outcomes = fanout.gather([functools.partial(_connect_replica, fanout, index, nodes, path,
                                                    headers)
                                  for index, (nodes, headers) in enumerate(zip(replica_nodes,
                                                                               headers_list))])
        putters = [o for o in outcomes if isinstance(o, Putter)]
        return (cls(fanout, putters, quorum, **options),
                [o for o in outcomes if isinstance(o, BackendResult)])

    def __len__(self) -> int:
        return len(self.putters)

    def send_chunk(self, chunk: bytes) -> None:
        """``chunk`` to every node; UploadError once fewer than a quorum are left."""
        data, self._preamble = self._preamble + chunk, b""
        self._to_all(lambda putter: putter.send(data))

    def finish(self) -> None:
        if self.late is not None:
            footer, self._preamble = self._preamble + mime_footer(self.boundary, self.late()), b""
            self._to_all(lambda putter: putter.send(footer))
        self._to_all(Putter.finish)

    def _to_all(self, action) -> None:
        for putter in list(self.putters):
            try:
                action(putter)
            except NET_ERRORS as err:
                putter.fail(f"PUT send: {err!r}")
                self.putters.remove(putter)
        if len(self.putters) < self.quorum:
            raise UploadError(503, "Too many storage nodes failed during the upload")

    def responses(self) -> list[BackendResult]:
        """The nodes' answers, waiting ``post_quorum_timeout`` at most once a
        quorum agree."""
        return self.fanout.gather([putter.response for putter in self.putters], self.quorum)

    def close(self) -> None:
        for putter in self.putters:
            putter.close()


def _connect_replica(fanout: FanOut, index: int, nodes: Iterator[dict], path: str,
                     headers: dict[str, str]) -> Putter | BackendResult | None:
    outcome = Putter.connect(fanout, nodes, path, headers)
    if isinstance(outcome, Putter):
        outcome.index = index
    return outcome
