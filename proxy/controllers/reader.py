"""GET and HEAD: find a node that has the item, stream it, fail over.

Primaries are asked in the proxy's read order (shuffled by default); an error or timeout moves on to the next
node (handoffs only when some primary erred).  With ``X-Newest: true`` all
primaries are asked at once and the newest answer wins, a tombstone (404)
included; a plain read never answers older than a tombstone it saw.  An object body that
breaks off mid-stream resumes from another replica with a ``Range`` starting at
the byte already sent, pinned to the same ETag with ``If-Match``.
"""
from __future__ import annotations

import functools
import re
from typing import Iterator, Mapping

from objstore.common import conditional
from objstore.common.backend_http import BackendResponse
from objstore.common.fanout import NET_ERRORS, FanOut, NodeIter, unavailable_message
from objstore.common.http import CHUNK_SIZE, REASONS, TEXT_PLAIN, Response, error_response
from objstore.common.timestamp import Timestamp

_RESPONSE_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te",
                                  "trailer", "upgrade", "date", "server", "x-trans-id"})
_CONTENT_RANGE = re.compile(r"^bytes ([0-9]{1,19})-([0-9]{1,19})/([0-9]{1,19}|\*)$", re.ASCII)
_DROP_ON_RESUME = ("range", *conditional.HEADERS)


def response_headers(backend_headers: Mapping[str, str]) -> dict[str, str]:
    """Backend headers a client may see (``x-backend-*`` are dropped later by
    the gatekeeper, after middleware had a chance to read them)."""
    return {k: v for k, v in backend_headers.items() if k not in _RESPONSE_HOP_BY_HOP}


def backend_timestamp(headers: Mapping[str, str]) -> Timestamp:
    for name in ("x-backend-timestamp", "x-timestamp"):
        value = headers.get(name)
        if value:
            try:
                return Timestamp(value)
            except ValueError:
                pass
    return Timestamp(0)


def _newer(resp: BackendResponse, than: BackendResponse) -> bool:
    return backend_timestamp(resp.headers) > backend_timestamp(than.headers)


class Reader:
    """One client GET/HEAD against the replicas of one item."""

    def __init__(self, fanout: FanOut, nodes: NodeIter, path: str, headers: dict[str, str],
                 method: str, query_string: str, resumable: bool = False) -> None:
        """``nodes`` in read order (``FanOut.read_nodes``); ``path`` is the
        quoted ``/<part>/<account>...`` tail (backend_path)."""
        self.fanout = fanout
        self.node_iter = nodes
        self.path = path
        self.headers = headers
        self.method = method
        self.query_string = query_string
        self.resumable = resumable and method == "GET"
        self.errors = 0
        self.nodes = self._nodes()

    def _nodes(self) -> Iterator[dict]:
        """Primaries; handoffs only once some primary erred or was skipped (when
        every primary says "not found", that is the answer); then the
        error-limited nodes passed over, if no other is left."""
        yield from self.node_iter.primary_nodes()
        if self.errors or self.node_iter.passed_over:
            yield from self.node_iter.handoff_nodes()
        yield from self.node_iter.last_resort()

    def fetch(self, newest: bool = False) -> tuple[BackendResponse | None, int]:
        """The first usable answer (newest of all primaries' with X-Newest)
        and its status, else None and 503.

        Never older than what this request has seen: an answer older than a
        404 seen before (a tombstone's ``X-Backend-Timestamp``: that replica
        heard of a DELETE the other missed) is skipped, and when no node has
        anything as new, the answer is that 404."""
        if newest:
            return self.fetch_newest()
        newest_404 = None
        for node in self.nodes:
            resp = self._try(node)
            if resp is None:
                continue
            if resp.status == 404:
                if newest_404 is None or _newer(resp, newest_404):
                    newest_404 = resp
                resp.close()
                continue
            if newest_404 is not None and _newer(newest_404, resp):
                resp.close()
                continue
            return resp, resp.status
        return newest_404, newest_404.status if newest_404 else 503

    def fetch_newest(self) -> tuple[BackendResponse | None, int]:
        """Ask all primaries at once; the answer with the newest timestamp,
        tombstones (404s) included: a 404 when the newest is a delete (on a
        tie, the data wins)."""
        answers = self.fanout.gather([functools.partial(self._try, node)
                                      for node in self.node_iter.primary_nodes()])
        best = max(answers, key=lambda r: (backend_timestamp(r.headers), r.status != 404),
                   default=None)
        for resp in answers:
            if resp is not best:
                resp.close()
        return best, best.status if best else 503

    def _try(self, node: dict, headers: Mapping[str, str] | None = None) -> BackendResponse | None:
        resp = self.fanout.try_node(node, self.method, self.path, headers or self.headers,
                                    self.query_string)
        if resp is None:
            self.errors += 1
        return resp

    def response(self, resp: BackendResponse | None, status: int) -> Response:
        """The client's response from ``fetch()``'s answer: the backend's
        status, headers and (streamed) body."""
        if resp is None:
            return error_response(status, unavailable_message(self.method, self.path))
        if resp.status == 404:  # its connection is closed already
            return error_response(status)
        headers = response_headers(resp.headers)
        if self.method == "HEAD" or resp.status < 200 or resp.status in (204, 304):
            resp.close()
            if resp.status != 304:
                headers.setdefault("content-length", "0")
            return Response(resp.status, headers, [])
        if resp.status >= 300:
            body = resp.read_all(1 << 20)
            resp.close()
            if resp.status >= 400 and not body.strip():  # every error says why, if only in a word
                body = f"{REASONS.get(resp.status, 'Error')}\n".encode()
                headers["content-type"] = TEXT_PLAIN
            headers["content-length"] = str(len(body))
            return Response(resp.status, headers, [body] if body else [])
        return Response(resp.status, headers, self._stream(resp))

    def _stream(self, resp: BackendResponse) -> Iterator[bytes]:
        sent = 0
        if self.resumable:
            resp.conn.set_timeout(self.fanout.recoverable_node_timeout)
        try:
            while True:
                try:
                    chunk = resp.read(CHUNK_SIZE)
                except NET_ERRORS as err:
                    resp.close()
                    self.errors += 1
                    self.fanout.error_limiter.error(resp.conn.node,
                                                    f"{self.method} {self.path} mid-body: {err!r}")
                    resp = self._resume(resp, sent, err)
                    continue
                if not chunk:
                    return
                sent += len(chunk)
                yield chunk
        finally:
            resp.close()

    def _resume(self, broken: BackendResponse, sent: int, err: BaseException) -> BackendResponse:
        """Another replica's answer continuing at byte ``sent``; re-raises ``err``
        when the body cannot be resumed."""
        byte_range = self._remaining_range(broken, sent) if self.resumable else None
        etag = broken.headers.get("etag")
        if byte_range is None or not etag:
            raise err
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _DROP_ON_RESUME}
        headers.update({"Range": "bytes=%d-%d" % byte_range, "If-Match": etag})
        for node in self.nodes:
            resp = self._try(node, headers)
            if resp is None:
                continue
            if resp.status == 206 and resp.headers.get("etag") == etag:
                self.fanout.logger.info("resumed GET %s at byte %d from %s:%s", self.path,
                                        byte_range[0], node["ip"], node["port"])
                return resp
            resp.close()
        raise err

    @staticmethod
    def _remaining_range(resp: BackendResponse, sent: int) -> tuple[int, int] | None:
        if resp.status == 200:
            try:
                length = int(resp.headers.get("content-length", ""))
            except ValueError:
                return None
            return (sent, length - 1) if sent < length else None
        match = _CONTENT_RANGE.match(resp.headers.get("content-range", ""))
        if resp.status == 206 and match:
            start, end = int(match.group(1)) + sent, int(match.group(2))
            return (start, end) if start <= end else None
        return None
