"""Objects: streaming GET/HEAD with failover, quorum PUT, POST, DELETE.

A PUT opens a connection to every replica's node at once with ``Expect:
100-continue`` (a handoff replaces a node that fails to connect, times out or
answers 507), streams the client's body to all of them in 64 KiB chunks and
succeeds when a quorum answers 201.  Every backend write of one client request
carries the same ``X-Timestamp``; replica i names container replica i as the
one to update.
"""
from __future__ import annotations

import functools
import mimetypes
import socket
from typing import Iterator

import eventlet

from objstore.common.backend_http import BackendConnection
from objstore.common.http import CHUNK_SIZE
from objstore.common.config import config_true_value
from objstore.common.fanout import NET_ERRORS, BackendResult, best_result
from objstore.common.policies import majority
from objstore.common.timestamp import Timestamp
from proxy.checks import (check_metadata, content_length_error, delete_at_error,
                          if_delete_at_error, remove_headers_to_empty)
from proxy.controllers.base import Controller
from proxy.http import Response, empty_response, error_response
from ring.ring import Ring

_READ_NAMES = frozenset({"range", "if-match", "if-none-match", "if-modified-since",
                         "if-unmodified-since"})
_WRITE_PREFIXES = ("x-object-meta-", "x-object-sysmeta-", "x-object-transient-sysmeta-",
                   "x-remove-object-meta-")
_WRITE_NAMES = frozenset({"content-type", "etag", "content-encoding", "content-disposition",
                          "x-delete-at", "x-delete-after", "x-static-large-object",
                          "x-object-manifest", "if-none-match"})


class UploadError(Exception):
    """The upload cannot complete; ``response`` says why to the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.response = error_response(status, message)


class Putter:
    """One replica's open upload connection."""

    def __init__(self, conn: BackendConnection, node: dict) -> None:
        self.conn = conn
        self.node = node


class ObjectController(Controller):
    delay_denial = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE"})

    def name_error(self) -> Response | None:
        limit = self.app.constraints.max_object_name_length
        size = len(self.obj.encode("utf-8"))
        if size > limit:
            return error_response(400, f"Object name length of {size} longer than {limit}")
        return None

    def container_info(self) -> dict:
        return self.app.container_info(self.req.environ, self, self.account, self.container)

    def object_ring(self, info: dict) -> Ring:
        return self.app.object_ring(info["storage_policy"])

    def backend_headers(self, info: dict, prefixes: tuple[str, ...],
                        names: frozenset[str]) -> dict[str, str]:
        headers = self.pass_through(prefixes, names)
        headers["X-Trans-Id"] = self.req.txn_id
        headers["X-Backend-Storage-Policy-Index"] = str(info["storage_policy"])
        return headers

    # ---- reads -------------------------------------------------------------------
    def GET(self) -> Response:
        return self._get_or_head()

    def HEAD(self) -> Response:
        return self._get_or_head()

    def _get_or_head(self) -> Response:
        info = self.container_info()
        denial = self.authorize(info["read_acl"])
        if denial is not None:
            return denial
        ring = self.object_ring(info)
        part = ring.get_part(self.account, self.container, self.obj)
        headers = self.backend_headers(info, (), _READ_NAMES)
        reader = self.reader(ring, part, headers, resumable=True)
        response = reader.response(*reader.fetch(self.app.wants_newest(self.req)))
        if response.status < 300 or response.status == 416:
            response.headers.setdefault("accept-ranges", "bytes")
        return response

    # ---- writes ------------------------------------------------------------------
    def _writable(self) -> tuple[dict, Response | None]:
        """Container info if the client may write here, else the error."""
        info = self.container_info()
        denial = self.authorize(info["write_acl"])
        if denial is not None:
            return info, denial
        if info["status"] == 404:
            return info, error_response(404, "Container not found")
        if info["status"] // 100 != 2:
            return info, error_response(503, "Container info unavailable")
        return info, None

    def _update_headers(self, base: dict[str, str], count: int) -> list[dict[str, str]]:
        targets = self.update_targets(self.app.container_ring, "Container",
                                      (self.account, self.container), count)
        return [{**base, **target} for target in targets]

    def _meta_headers(self, info: dict) -> tuple[dict[str, str], Response | None]:
        headers = self.backend_headers(info, _WRITE_PREFIXES, _WRITE_NAMES)
        remove_headers_to_empty(headers, "object")
        err = check_metadata(headers, "object", self.app.constraints) or delete_at_error(headers)
        return headers, err

    def POST(self) -> Response:
        info, err = self._writable()
        err = err or self.name_error()
        if err:
            return err
        headers, err = self._meta_headers(info)
        if err:
            return err
        headers["X-Timestamp"] = Timestamp.now().internal
        return self._fan_out("POST", info, headers)

    def DELETE(self) -> Response:
        info, err = self._writable()
        if err:
            return err
        headers = self.backend_headers(info, (), frozenset({"x-if-delete-at"}))
        err = if_delete_at_error(headers)
        if err:
            return err
        headers["X-Timestamp"] = Timestamp.now().internal
        return self._fan_out("DELETE", info, headers)

    def _fan_out(self, method: str, info: dict, base: dict[str, str]) -> Response:
        ring = self.object_ring(info)
        part, nodes = ring.get_nodes(self.account, self.container, self.obj)
        result = self.app.fanout.make_requests(method, ring, part,
                                               self.app.backend_path(part, self.wsgi_path),
                                               self._update_headers(base, len(nodes)),
                                               majority(len(nodes)))
        return self.result_response(result)

    def PUT(self) -> Response:
        info, err = self._writable()
        err = (err or self.name_error()
               or content_length_error(self.req, self.app.constraints.max_file_size))
        if err:
            return err
        if_none_match = self.req.headers.get("if-none-match")
        if if_none_match is not None and if_none_match.strip() != "*":
            return error_response(400, "If-None-Match only supports *")
        headers, err = self._meta_headers(info)
        if err:
            return err
        self._set_content_type(headers)
        timestamp = Timestamp.now().internal
        headers["X-Timestamp"] = timestamp
        chunked = "transfer-encoding" in self.req.headers
        length = None if chunked else int(self.req.headers["content-length"])
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
        else:
            headers["Content-Length"] = str(length)
        ring = self.object_ring(info)
        part, primaries = ring.get_nodes(self.account, self.container, self.obj)
        path = self.app.backend_path(part, self.wsgi_path)
        headers_list = self._update_headers(headers, len(primaries))
        try:
            if length is not None and length <= CHUNK_SIZE:
                return self._put_small(ring, part, path, headers_list, length, timestamp)
            return self._put_streaming(ring, part, primaries, path, headers_list, length, timestamp)
        except UploadError as err:
            return err.response

    def _put_small(self, ring, part: int, path: str, headers_list: list[dict[str, str]],
                   length: int, timestamp: str) -> Response:
        """A body of at most one chunk goes in the same packet as the head (no
        100-continue round trip); a failed node's replica is re-sent to a handoff."""
        body = b"".join(self._client_chunks(length))
        result = self.app.fanout.make_requests("PUT", ring, part, path, headers_list,
                                               majority(len(headers_list)), body=body)
        return self._put_response(result, timestamp)

    def _put_streaming(self, ring, part: int, primaries: list[dict], path: str,
                       headers_list: list[dict[str, str]], length: int | None,
                       timestamp: str) -> Response:
        for headers in headers_list:
            headers["Expect"] = "100-continue"
        putters, refusals = self._connect_all(ring, part, primaries, path, headers_list)
        quorum = majority(len(primaries))
        if len(putters) < quorum:
            self._close(putters)
            self.app.logger.error("PUT %s: only %d of %d replicas connected", self.req.path,
                                  len(putters), len(primaries))
            refused = best_result(refusals, quorum)
            if refused.status < 500:
                return self._put_response(refused, timestamp)
            return error_response(503, "Not enough storage nodes available for the upload")
        try:
            self._send_body(putters, quorum, length)
        except UploadError:
            self._close(putters)
            raise
        results = self._responses(putters, quorum) + refusals
        return self._put_response(best_result(results, quorum), timestamp,
                                  {r.headers.get("etag") for r in results if r.status // 100 == 2})

    def _set_content_type(self, headers: dict[str, str]) -> None:
        """Guess from the name when not given (or when X-Detect-Content-Type says so)."""
        detect = config_true_value(self.req.headers.get("x-detect-content-type", ""))
        if detect or not headers.get("content-type"):
            guessed = mimetypes.guess_type(self.obj)[0]
            headers["content-type"] = guessed or "application/octet-stream"

    def _connect_all(self, ring, part: int, primaries: list[dict], path: str,
                     headers_list: list[dict[str, str]]) -> tuple[list[Putter], list[BackendResult]]:
        fanout = self.app.fanout
        outcomes = fanout.gather([functools.partial(self._connect_one, nodes, path, headers)
                                  for nodes, headers in zip(fanout.nodes(ring, part, primaries).per_replica(),
                                                            headers_list)])
        putters = [o for o in outcomes if isinstance(o, Putter)]
        return putters, [o for o in outcomes if isinstance(o, BackendResult)]

    def _connect_one(self, nodes, path: str, headers: dict[str, str]) -> Putter | BackendResult | None:
        """A connection that said 100 Continue (a handoff if need be), or the
        node's refusal (e.g. 409, 412, 422), or None when no node could take it."""
        limiter = self.app.fanout.error_limiter
        for node in nodes:
            try:
                conn = self.app.fanout.open(node)
            except NET_ERRORS as err:
                limiter.error(node, f"connect for PUT: {err!r}")
                continue
            try:
                conn.send_request("PUT", f"/{node['device']}{path}", headers)
                resp = conn.expect_continue()
                if resp is None:
                    return Putter(conn, node)
                body = resp.read_all(65536)
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
                return BackendResult(resp.status, resp.headers, body)
        return None

    def _client_chunks(self, length: int | None) -> Iterator[bytes]:
        """The client's body in chunks of at most CHUNK_SIZE; UploadError with
        the answer to give when the client is too slow, leaves or sends too much."""
        wsgi_input = self.req.environ["wsgi.input"]
        max_size = self.app.constraints.max_file_size
        received = 0
        while length is None or received < length:
            want = CHUNK_SIZE if length is None else min(CHUNK_SIZE, length - received)
            try:
                chunk = wsgi_input.read(want)
            except (socket.timeout, eventlet.Timeout):
                raise UploadError(408, "Timed out reading the request body") from None
            except (OSError, ValueError):
                raise UploadError(499, "Client disconnected") from None
            if not chunk:
                if length is None:
                    return
                raise UploadError(499, "Client disconnected before sending the whole body")
            received += len(chunk)
            if received > max_size:
                raise UploadError(413, f"Your request is too large; max object size is {max_size}")
            yield chunk

    def _send_body(self, putters: list[Putter], quorum: int, length: int | None) -> None:
        """Stream the client's body to every putter, dropping putters that fail."""
        for chunk in self._client_chunks(length):
            self._to_all(putters, lambda conn: conn.send(chunk))
            if len(putters) < quorum:
                raise UploadError(503, "Too many storage nodes failed during the upload")
        self._to_all(putters, lambda conn: conn.finish_body())
        if len(putters) < quorum:
            raise UploadError(503, "Too many storage nodes failed during the upload")

    def _to_all(self, putters: list[Putter], action) -> None:
        for putter in list(putters):
            try:
                action(putter.conn)
            except NET_ERRORS as err:
                self.app.fanout.error_limiter.error(putter.node, f"PUT send: {err!r}")
                putter.conn.close()
                putters.remove(putter)

    def _responses(self, putters: list[Putter], quorum: int) -> list[BackendResult]:
        def get(putter: Putter) -> BackendResult | None:
            try:
                resp = putter.conn.getresponse()
                body = resp.read_all(65536)
            except NET_ERRORS as err:
                putter.conn.close()
                self.app.fanout.error_limiter.error(putter.node, f"PUT response: {err!r}")
                return None
            resp.close()
            return BackendResult(resp.status, resp.headers, body)

        return self.app.fanout.gather([functools.partial(get, p) for p in putters], quorum)

    @staticmethod
    def _close(putters: list[Putter]) -> None:
        for putter in putters:
            putter.conn.close()

    def _put_response(self, result: BackendResult, timestamp: str,
                      etags: set | None = None) -> Response:
        if result.status == 409:
            # a newer (or same-instant) write already won: Swift answers 202
            return empty_response(202)
        if result.status // 100 != 2:
            return self.result_response(result)
        if etags is not None and len(etags) > 1:
            self.app.logger.error("PUT %s: replicas disagree on ETag: %s", self.req.path, etags)
            return error_response(500, "Storage nodes disagreed about the object's ETag")
        return empty_response(201, {"etag": result.headers.get("etag", ""),
                                    "last-modified": Timestamp(timestamp).http_date})
