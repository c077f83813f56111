"""Objects: streaming GET/HEAD with failover, quorum PUT, POST, DELETE.

The object controller is chosen by the container's storage policy type
(``OBJECT_CONTROLLERS``).  ``ReplicatedObjectController`` stores whole copies:
a PUT opens a connection to every replica's node at once with ``Expect:
100-continue`` (a handoff replaces a node that fails to connect, times out or
answers 507), streams the client's body to all of them in 64 KiB chunks (see
``putters``) and succeeds when a quorum answers 201.  Every backend write of
one client request carries the same ``X-Timestamp``; replica i names container
replica i as the one to update.
"""
from __future__ import annotations

import mimetypes
import socket
import uuid
from typing import TYPE_CHECKING, Iterator

import eventlet

from objstore.common import conditional
from objstore.common.checks import name_length_error, too_large_message
from objstore.common.http import CHUNK_SIZE, Response, empty_response, error_response
from objstore.common.config import config_true_value
from objstore.common.expiring import EXPIRING_ACCOUNT, queue_container
from objstore.common.fanout import BackendResult, best_result, unavailable_message
from objstore.common.erasure import OBJECT_ETAG
from objstore.common.policies import ERASURE_CODING, REPLICATION, StoragePolicy, majority
from objstore.common.timestamp import Timestamp
from proxy.checks import (check_metadata, content_length_error, delete_at_error,
                          if_delete_at_error, remove_headers_to_empty)
from proxy.controllers.base import Controller
from proxy.controllers.ec_putters import LISTING_ETAG, LISTING_SIZE, ECPutters, fragment_headers
from proxy.controllers.ec_reader import ECReader, object_headers
from proxy.controllers.putters import (
    LateMetadata, ReplicaPutters, UploadError, footer_put_headers, late_metadata)
from proxy.http import Request
from ring.ring import Ring

if TYPE_CHECKING:
    from proxy.server import Application

_READ_NAMES = frozenset({"range", *conditional.HEADERS})
_WRITE_PREFIXES = ("x-object-meta-", "x-object-sysmeta-", "x-object-transient-sysmeta-",
                   "x-remove-object-meta-")
_WRITE_NAMES = frozenset({"content-type", "etag", "content-encoding", "content-disposition",
                          "cache-control", "content-language", "expires", "x-delete-at", "x-delete-after", "x-static-large-object",
                          "x-object-manifest", "if-none-match"})


class ReplicatedObjectController(Controller):
    """Objects of a policy whose every node holds a whole copy."""

    delay_denial = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE"})
    # how the client's body becomes what each node receives
    putter_set = ReplicaPutters

    def name_error(self) -> Response | None:
        error = name_length_error(self.obj, "Object", self.app.constraints.max_object_name_length)
        return error_response(400, error) if error else None

    def __init__(self, app: "Application", req: Request, wsgi_path: str, account: str,
                 container: str, obj: str, container_info: dict) -> None:
        """``container_info``: what the router read to choose this controller."""
        super().__init__(app, req, wsgi_path, account, container, obj)
        self.container_info = container_info

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
        info = self.container_info
        denial = self.authorize(info["read_acl"])
        if denial is not None:
            return denial
        ring = self.object_ring(info)
        response = self._read(ring, ring.get_part(self.account, self.container, self.obj), info)
        if response.status < 300 or response.status == 416:
            response.headers.setdefault("accept-ranges", "bytes")
        return response

    def _read(self, ring: Ring, part: int, info: dict) -> Response:
        """The client's GET/HEAD answer from the nodes of ``part``."""
        headers = self.backend_headers(info, (), _READ_NAMES)
        reader = self.reader(ring, part, headers, resumable=True)
        return reader.response(*reader.fetch(self.app.wants_newest(self.req)))

    # ---- writes ------------------------------------------------------------------
    def _writable(self) -> tuple[dict, Response | None]:
        """Container info if the client may write here, else the error."""
        info = self.container_info
        denial = self.authorize(info["write_acl"])
        if denial is not None:
            return info, denial
        if info["status"] == 404:
            return info, error_response(404, "Container not found")
        if info["status"] // 100 != 2:
            return info, error_response(503, "Container info unavailable: "
                                             "no container server answered")
        return info, None

    def _update_headers(self, base: dict[str, str], count: int) -> list[dict[str, str]]:
        """Per replica: the container replica to update and, for an object
        with ``X-Delete-At``, the replica of its expiry queue container
        (``X-Delete-At-Host/-Partition/-Device``, see objstore.common.expiring)."""
        ring = self.app.container_ring
        targets = self.update_targets(ring, "Container", (self.account, self.container), count)
        delete_at = base.get("x-delete-at")
        if delete_at:
            queue = self.update_targets(ring, "Delete-At",
                                        (EXPIRING_ACCOUNT, queue_container(delete_at)), count)
            targets = [{**target, **entry} for target, entry in zip(targets, queue)]
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
        # a 404 stored the tombstone too: it counts with the 204s
        return self._fan_out("DELETE", info, headers, {404: 204})

    @staticmethod
    def quorum(replicas: int) -> int:
        """Whole copies that must succeed: a majority."""
        return majority(replicas)

    def _fan_out(self, method: str, info: dict, base: dict[str, str],
                 overrides: dict[int, int] | None = None) -> Response:
        ring = self.object_ring(info)
        part, nodes = ring.get_nodes(self.account, self.container, self.obj)
        result = self.app.fanout.make_requests(method, ring, part,
                                               self.app.backend_path(part, self.wsgi_path),
                                               self._update_headers(base, len(nodes)),
                                               self.quorum(len(nodes)), overrides=overrides)
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
        self.late = late_metadata(self.req.environ)
        try:
            if length is not None and length <= CHUNK_SIZE and self.small_puts:
                return self._put_small(ring, part, path, headers_list, length, timestamp)
            return self._put_streaming(ring, part, primaries, path, headers_list, length, timestamp)
        except UploadError as err:
            return err.response

    # a body of one chunk goes with the head, no 100-continue (whole copies only)
    small_puts = True
    # a PUT's metadata for after the body (putters.LATE_METADATA), if middleware has some
    late: LateMetadata | None = None

    def _streaming_headers(self, headers_list: list[dict[str, str]],
                           length: int | None) -> list[dict[str, str]]:
        """Replica i's backend PUT headers for a streamed body (a footer PUT when
        middleware has metadata for after the body)."""
        if self.late is not None:
            self.boundary = uuid.uuid4().hex
            return [footer_put_headers(headers, self.boundary, length) for headers in headers_list]
        return [{**headers, "Expect": "100-continue"} for headers in headers_list]

    def _open_putters(self, fanout, nodes: list, path: str, headers_list: list[dict[str, str]],
                      quorum: int) -> tuple[ReplicaPutters, list[BackendResult]]:
        if self.late is not None:
            return self.putter_set.connect(fanout, nodes, path, headers_list, quorum,
                                           late=self.late, boundary=self.boundary)
        return self.putter_set.connect(fanout, nodes, path, headers_list, quorum)

    def _put_small(self, ring, part: int, path: str, headers_list: list[dict[str, str]],
                   length: int, timestamp: str) -> Response:
        """A body of at most one chunk goes in the same packet as the head (no
        100-continue round trip); a failed node's replica is re-sent to a handoff."""
        body = b"".join(self._client_chunks(length))
        if self.late is not None:  # the body is all read: its late metadata goes up front
            late = self.late()
            headers_list = [{**headers, **late} for headers in headers_list]
        result = self.app.fanout.make_requests("PUT", ring, part, path, headers_list,
                                               self.quorum(len(headers_list)), body=body)
        return self._put_response(result, timestamp)

    def _put_streaming(self, ring, part: int, primaries: list[dict], path: str,
                       headers_list: list[dict[str, str]], length: int | None,
                       timestamp: str) -> Response:
        headers_list = self._streaming_headers(headers_list, length)
        quorum = self.quorum(len(primaries))
        fanout = self.app.fanout
        putters, refusals = self._open_putters(
            fanout, fanout.nodes(ring, part, primaries, quorum).per_replica(), path, headers_list,
            quorum)
        if len(putters) < quorum:
            putters.close()
            self.app.logger.error("PUT %s: only %d of %d replicas connected", self.req.path,
                                  len(putters), len(primaries))
            refused = best_result(refusals, quorum)
            if refused.status < 500:
                return self._put_response(refused, timestamp)
            return error_response(503, unavailable_message("PUT", path, len(putters) + len(refusals),
                                                           len(primaries)))
        try:
            for chunk in self._client_chunks(length):
                putters.send_chunk(chunk)
            putters.finish()
        except UploadError:
            putters.close()
            raise
        return self._put_outcome(putters, refusals, quorum, path, headers_list, timestamp)

    def _put_outcome(self, putters: ReplicaPutters, refusals: list[BackendResult], quorum: int,
                     path: str, headers_list: list[dict[str, str]], timestamp: str) -> Response:
        """The client's answer once every node has the whole body."""
        results = putters.responses() + refusals
        return self._put_response(best_result(results, quorum), timestamp,
                                  {r.headers.get("etag") for r in results if r.status // 100 == 2})

    def _set_content_type(self, headers: dict[str, str]) -> None:
        """Guess from the name when not given (or when X-Detect-Content-Type says so)."""
        detect = config_true_value(self.req.headers.get("x-detect-content-type", ""))
        if detect or not headers.get("content-type"):
            guessed = mimetypes.guess_type(self.obj)[0]
            headers["content-type"] = guessed or "application/octet-stream"

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
                raise UploadError(413, too_large_message(max_size))
            yield chunk

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


class ErasureCodedObjectController(ReplicatedObjectController):
    """Objects of an erasure-coding policy: node i holds fragment archive i
    (``ec_putters`` writes them, ``ec_reader`` decodes them); HEAD, POST
    and DELETE go to every node as for whole copies, with the policy's
    quorum (k + 1)."""

    small_puts = False  # every EC PUT streams: it has footers and a second phase

    @property
    def policy(self) -> StoragePolicy:
        return self.app.storage_policy(self.container_info["storage_policy"])

    def quorum(self, replicas: int) -> int:
        return self.policy.quorum(replicas)

    # ---- reads -------------------------------------------------------------------
    def _read(self, ring: Ring, part: int, info: dict) -> Response:
        headers = self.backend_headers(info, (), _READ_NAMES - {"range"})
        # conditionals are about the whole object's ETag, not an archive's
        headers.setdefault("x-backend-etag-is-at", OBJECT_ETAG)
        if self.req.method == "HEAD":
            reader = self.reader(ring, part, headers)
            response = reader.response(*reader.fetch())
            if response.status < 300 or response.status in (304, 412):
                response.headers = object_headers(response.headers)
            return response
        fanout = self.app.fanout
        return ECReader(fanout, fanout.nodes(ring, part),
                        self.app.backend_path(part, self.wsgi_path), headers,
                        self.req.query_string, self.policy.ec_layout,
                        self.req.headers.get("range")).response()

    # ---- writes ------------------------------------------------------------------
    def _streaming_headers(self, headers_list: list[dict[str, str]],
                           length: int | None) -> list[dict[str, str]]:
        self.boundary = uuid.uuid4().hex
        archive_length = None if length is None else self.policy.ec_layout.archive_length(length)
        return [fragment_headers(headers, index, self.boundary, archive_length)
                for index, headers in enumerate(headers_list)]

    def _open_putters(self, fanout, nodes: list, path: str, headers_list: list[dict[str, str]],
                      quorum: int) -> tuple[ECPutters, list[BackendResult]]:
        listing_set = any(name.lower() in (LISTING_ETAG.lower(), LISTING_SIZE.lower())
                          for name in headers_list[0])
        return ECPutters.connect(fanout, nodes, path, headers_list, quorum,
                                 layout=self.policy.ec_layout, boundary=self.boundary,
                                 listing_set=listing_set, late=self.late)

    def _put_outcome(self, putters: ECPutters, refusals: list[BackendResult], quorum: int,
                     path: str, headers_list: list[dict[str, str]], timestamp: str) -> Response:
        """Phase one's answers; if the client's ETag matches and a quorum
        stored their archive, phase two (COMMIT) makes them durable."""
        expected = self.req.headers.get("etag", "").strip('"').lower()
        if expected and expected != putters.etag:
            putters.close()
            return error_response(422, "Unprocessable Entity: body does not match ETag")
        stored, results = putters.stored()
        if len(stored) < quorum:
            best = best_result(results + refusals, quorum)
            return self._put_response(best, timestamp) if best.status != 503 else \
                error_response(503, f"Object PUT: only {len(stored)} of {len(headers_list)} "
                                    f"fragment archives stored, {quorum} needed")
        committed = putters.commit(stored, path, headers_list)
        best = best_result(committed, quorum)
        if best.status // 100 != 2:
            return error_response(503, f"Object PUT: only {len(committed)} of {len(stored)} "
                                       f"fragment archives made durable, {quorum} needed")
        return empty_response(201, {"etag": putters.etag,
                                    "last-modified": Timestamp(timestamp).http_date})


# the object controller for each storage policy type
OBJECT_CONTROLLERS: dict[str, type[Controller]] = {
    REPLICATION: ReplicatedObjectController,
    ERASURE_CODING: ErasureCodedObjectController,
}


def object_controller(app: "Application", req: Request, wsgi_path: str, account: str,
                      container: str, obj: str) -> Controller:
    """The controller for the type of the container's storage policy."""
    info = app.container_info(req, wsgi_path, account, container)
    policy = app.storage_policy(info["storage_policy"])
    return OBJECT_CONTROLLERS[policy.policy_type](app, req, wsgi_path, account, container, obj,
                                                  info)
