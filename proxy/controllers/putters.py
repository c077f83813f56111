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
from typing import Iterator

from objstore.common.backend_http import BackendConnection
from objstore.common.fanout import NET_ERRORS, BackendResult, FanOut
from objstore.common.http import error_response

_ANSWER_LIMIT = 65536  # bytes of a node's answer body kept (an error text)


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
    chunk of the client's body unchanged."""

    def __init__(self, fanout: FanOut, putters: list[Putter], quorum: int) -> None:
        self.fanout = fanout
        self.putters = putters
        self.quorum = quorum

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
        self._to_all(lambda putter: putter.send(chunk))

    def finish(self) -> None:
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
