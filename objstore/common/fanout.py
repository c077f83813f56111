"""Talking to every replica of one partition: node order, handoffs, quorum.

Any daemon that must reach the replicas of an item uses this: the proxy's
controllers for client requests, and (later) the replicators, the EC
reconstructor and the internal client, which have a ring, a partition and a
policy but no client request.  It knows nothing of the Swift API: a caller
gives the method, the backend path and the headers; the fan-out picks nodes,
retries failed ones on handoffs, and says what a quorum of them answered.

The nodes of a partition are its primaries, then as many handoffs as there
are primaries; nodes the error limiter has put aside are skipped.  A node
fails when it cannot be reached, times out, or answers 5xx (507, a bad disk,
error-limits it at once).  Outside the proxy, e.g. in a replicator::

    fanout = FanOut(ConnectionPool(8).connect, ErrorLimiter(10, 60.0, logger), logger)
    nodes = fanout.nodes(ring, part)              # a NodeIter: primaries, then handoffs
    result = fanout.make_requests("DELETE", ring, part, f"/{part}/a/c/o",
                                  [headers] * len(nodes.primaries),
                                  policy.quorum(len(nodes.primaries)))
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import random
import time
from collections import Counter
from typing import Callable, Iterable, Iterator, Mapping, Protocol, TypeVar

import eventlet
import eventlet.queue

from objstore.common.backend_http import BackendConnection, BackendResponse, Connector
from objstore.common.checks import MAX_NUMBER, parse_int
from objstore.common.error_limiter import ErrorLimiter
from objstore.common.logs import bind_txn_id, current_txn_id
from objstore.common.policies import majority
from objstore.common.timestamp import Timestamp

NET_ERRORS = (OSError, eventlet.Timeout)
T = TypeVar("T")
# numbers in a node's answer that callers turn into ints and Timestamps
TIMESTAMP_HEADERS = ("x-backend-timestamp", "x-timestamp", "x-put-timestamp",
                     "x-backend-data-timestamp", "x-backend-put-timestamp",
                     "x-backend-delete-timestamp")
COUNT_HEADERS = ("x-container-object-count", "x-container-bytes-used",
                 "x-account-container-count", "x-account-object-count", "x-account-bytes-used")


def _count(text: str) -> None:
    parse_int(text, "count", minimum=-MAX_NUMBER)  # Swift's byte counts may dip below 0


def _whole_number(text: str) -> None:
    parse_int(text, "number")


ANSWER_NUMBERS: dict[str, Callable[[str], object]] = {
    **{name: Timestamp for name in TIMESTAMP_HEADERS},
    **{name: _count for name in COUNT_HEADERS},
    # a HEAD's Content-Length is the object's size, which no body read checks
    "content-length": _whole_number,
    "x-backend-storage-policy-index": _whole_number,
}


def malformed_answer(headers: Mapping[str, str]) -> str | None:
    """Why a node's answer cannot be used (a timestamp, count or policy index
    that is not one), or None.  A corrupt or misbehaving node fails like a
    node that cannot be reached: the caller error-limits it and asks the next,
    so no client gets a 500 from an ``int()`` deep in the proxy."""
    for name, parse in ANSWER_NUMBERS.items():
        if name in headers:
            try:
                parse(headers[name])
            except ValueError as err:  # InputError too
                return f"bad {name} in the answer: {str(err)[:80]}"
    return None


class RingLike(Protocol):
    """What the fan-out needs of a ring (objstore.common sits below ring/)."""

    def get_part_nodes(self, part: int) -> list[dict]: ...

    def get_more_nodes(self, part: int) -> Iterator[dict]: ...


@dataclasses.dataclass
class BackendResult:
    """One node's (or the quorum's) answer to a small request, body read."""
    status: int
    headers: dict[str, str]
    body: bytes = b""


def is_server_error(status: int) -> bool:
    return status >= 500


def best_result(results: list[BackendResult], quorum: int) -> BackendResult:
    """The answer of the status class at least ``quorum`` results share (most
    common status in it, ties to the highest), else 503."""
    for hundred in (200, 300, 400):
        in_class = [r for r in results if hundred <= r.status < hundred + 100]
        if len(in_class) >= quorum:
            counts = Counter(r.status for r in in_class)
            status = max(counts, key=lambda s: (counts[s], s))
            return next(r for r in in_class if r.status == status)
    return BackendResult(503, {}, b"")


def server_type(path: str) -> str:
    """What a backend path ``/<part>/<account>[/<container>[/<object>]]`` names."""
    return ("account", "container", "object")[min(path.count("/"), 4) - 2]


def unavailable_message(method: str, path: str, answered: int = 0, total: int = 0) -> str:
    """A 503's body: which part of the cluster did not answer enough."""
    kind = server_type(path)
    if answered == 0:
        return f"{kind.capitalize()} {method}: no {kind} server answered"
    return f"{kind.capitalize()} {method}: only {answered} of {total} {kind} servers answered"


def _no_quorum_message(method: str, path: str, results: list[BackendResult], total: int,
                       quorum: int) -> str:
    if len(results) < quorum:
        return unavailable_message(method, path, len(results), total)
    kind = server_type(path)
    statuses = ", ".join(str(r.status) for r in sorted(results, key=lambda r: r.status))
    return (f"{kind.capitalize()} {method}: {len(results)} of {total} {kind} servers answered "
            f"but no {quorum} agreed ({statuses})")


class NodeIter:
    """The nodes to try for one partition: primaries (in the order given),
    then, lazily, as many handoffs as there are primaries.  A node is checked
    against the error limiter when its turn comes, not up front (a suppressed
    node's probe is used only when the request really goes there).

    Suppressed nodes passed over are the last resort: they are tried once the
    other nodes are used up while fewer than ``quorum`` nodes can be counted on
    (not suppressed, no error in the last probe interval).  Trying a node that
    failed recently beats failing for certain, and its success lifts its
    suppression."""

    def __init__(self, ring: RingLike, part: int, limiter: ErrorLimiter,
                 primaries: list[dict], quorum: int) -> None:
        self.ring = ring
        self.part = part
        self.limiter = limiter
        self.primaries = primaries
        self.quorum = quorum
        self.passed_over: list[dict] = []  # suppressed nodes skipped so far, in order

    def __iter__(self) -> Iterator[dict]:
        return itertools.chain(self.primary_nodes(), self.handoff_nodes(), self.last_resort())

    def _handoffs(self) -> Iterator[dict]:
        return itertools.islice(self.ring.get_more_nodes(self.part), len(self.primaries))

    def _admitted(self, nodes: Iterable[dict]) -> Iterator[dict]:
        for node in nodes:
            if self.limiter.admit(node):
                yield node
            else:
                self.passed_over.append(node)

    def primary_nodes(self) -> Iterator[dict]:
        return self._admitted(self.primaries)

    def handoff_nodes(self) -> Iterator[dict]:
        return self._admitted(self._handoffs())

    def below_quorum(self) -> bool:
        """Fewer than ``quorum`` nodes (primaries and handoffs) can be counted on now."""
        usable = sum(not self.limiter.is_failing(node) for node in self.primaries)
        if usable < self.quorum:
            usable += sum(not self.limiter.is_failing(node) for node in self._handoffs())
        return usable < self.quorum

    def last_resort(self) -> Iterator[dict]:
        """Suppressed nodes passed over, each to one caller, while below quorum."""
        while self.passed_over and self.below_quorum():
            yield self.passed_over.pop(0)

    def per_replica(self) -> list[Iterator[dict]]:
        """Per replica: its primary (unless error-limited), then handoffs drawn
        from one iterator shared by all replicas, so replica i keeps its own
        headers (e.g. which container replica to update) on a handoff; then
        the last resort."""
        handoffs = self.handoff_nodes()
        return [itertools.chain(self._admitted((node,)), handoffs, self.last_resort())
                for node in self.primaries]


class FanOut:
    """Connections, timeouts and the error limiter of one daemon process,
    built once and shared by every request it makes to storage nodes."""

    def __init__(self, connect: Connector, error_limiter: ErrorLimiter, logger: logging.Logger, *,
                 conn_timeout: float = 0.5, node_timeout: float = 10.0,
                 recoverable_node_timeout: float | None = None,
                 post_quorum_timeout: float = 0.5, shuffle_reads: bool = False) -> None:
        """``shuffle_reads``: reads try primaries in random order, so that they
        spread over every replica instead of always hitting replica 0."""
        self.connect = connect
        self.error_limiter = error_limiter
        self.logger = logger
        self.conn_timeout = conn_timeout
        self.node_timeout = node_timeout
        self.recoverable_node_timeout = (node_timeout if recoverable_node_timeout is None
                                         else recoverable_node_timeout)
        self.post_quorum_timeout = post_quorum_timeout
        self.shuffle_reads = shuffle_reads

    # ---- which nodes -------------------------------------------------------------
    def nodes(self, ring: RingLike, part: int, primaries: list[dict] | None = None,
              quorum: int | None = None) -> NodeIter:
        """The partition's nodes in ring order (writes: replica i is primary i);
        ``primaries``: the caller's ``ring.get_part_nodes(part)``, if it has it;
        ``quorum``: how many must succeed (default: a majority of the primaries)."""
        if primaries is None:
            primaries = ring.get_part_nodes(part)
        return NodeIter(ring, part, self.error_limiter, primaries,
                        majority(len(primaries)) if quorum is None else quorum)

    def read_nodes(self, ring: RingLike, part: int) -> NodeIter:
        """The partition's nodes in the order reads try them (one answer will do)."""
        primaries = ring.get_part_nodes(part)
        if self.shuffle_reads:
            primaries = random.sample(primaries, len(primaries))
        return NodeIter(ring, part, self.error_limiter, primaries, quorum=1)

    # ---- one node ----------------------------------------------------------------
    def open(self, node: Mapping) -> BackendConnection:
        """A connection to ``node`` with this daemon's timeouts."""
        return self.connect(node, self.conn_timeout, self.node_timeout)

    def send_to_node(self, node: Mapping, method: str, path: str, headers: Mapping[str, str],
                     query_string: str = "", body: bytes = b"") -> BackendResponse:
        """Open a connection, send a request (with a small body, if any, in the
        same packet) and read the answer's head."""
        conn = self.open(node)
        try:
            conn.send_request(method, path, headers, query_string, body)
            return conn.getresponse()
        except BaseException:
            conn.close()
            raise

    def try_node(self, node: Mapping, method: str, path: str, headers: Mapping[str, str],
                 query_string: str = "", body: bytes = b"") -> BackendResponse | None:
        """``node``'s answer (head read, body still to read), or None when the
        node failed (the error limiter hears of it).  ``path`` is the backend
        path after the device (``/<part>/<account>...``)."""
        try:
            resp = self.send_to_node(node, method, f"/{node['device']}{path}", headers,
                                     query_string, body)
        except NET_ERRORS as err:
            self.error_limiter.error(node, f"{method} {path}: {err!r}")
            return None
        if resp.status == 507:
            resp.close()
            self.error_limiter.limit_now(node, "507 Insufficient Storage")
            return None
        if is_server_error(resp.status):
            resp.close()
            self.error_limiter.error(node, f"{method} {path}: status {resp.status}")
            return None
        problem = malformed_answer(resp.headers)
        if problem is not None:
            resp.close()
            self.error_limiter.error(node, f"{method} {path}: {problem}")
            return None
        self.error_limiter.success(node)
        return resp

    def request_one(self, nodes: Iterator[dict], method: str, path: str,
                    headers: Mapping[str, str], query_string: str = "",
                    body: bytes = b"") -> BackendResult | None:
        """Try nodes from the (shared) iterator until one answers without a
        server error; its answer with the body read, None if they all failed."""
        for node in nodes:
            resp = self.try_node(node, method, path, headers, query_string, body)
            if resp is None:
                continue
            try:
                answer = resp.read_all()
            except NET_ERRORS as err:
                self.error_limiter.error(node, f"{method} {path}: {err!r}")
                continue
            finally:
                resp.close()
            return BackendResult(resp.status, resp.headers, answer)
        return None

    # ---- every replica -----------------------------------------------------------
    def make_requests(self, method: str, ring: RingLike, part: int, path: str,
                      headers_list: list[dict[str, str]], quorum: int, query_string: str = "",
                      body: bytes = b"", overrides: Mapping[int, int] | None = None) -> BackendResult:
        """The same request to every replica in parallel (replica i with
        ``headers_list[i]``), handoffs taking over for failed nodes; the answer
        ``quorum`` of them agree on (503 saying how many answered, if none).

        ``overrides``: statuses that count as another one unless every node
        answered them (a DELETE's 404 stored a tombstone too: with a 204 it
        counts as one)."""
        calls = [functools.partial(self.request_one, nodes, method, path, headers, query_string, body)
                 for nodes, headers in zip(self.nodes(ring, part, quorum=quorum).per_replica(),
                                           headers_list)]
        results = self.gather(calls, quorum)
        if overrides and not {r.status for r in results} <= overrides.keys():
            results = [dataclasses.replace(r, status=overrides.get(r.status, r.status))
                       for r in results]
        best = best_result(results, quorum)
        if best.status == 503 and not best.body:
            message = _no_quorum_message(method, path, results, len(headers_list), quorum)
            return BackendResult(503, {}, message.encode())
        return best

    def gather(self, calls: list[Callable[[], T | None]], quorum: int | None = None) -> list[T]:
        """Run ``calls`` in parallel greenthreads; their non-None results.
        With ``quorum``, stop waiting ``post_quorum_timeout`` seconds after that
        many results agree (the rest finish in the background)."""
        queue: eventlet.queue.LightQueue = eventlet.queue.LightQueue()
        txn_id = current_txn_id()

        def run(call: Callable[[], T | None]) -> None:
            bind_txn_id(txn_id)
            try:
                result = call()
            except Exception:  # a bug: log it, count the replica as failed
                self.logger.exception("backend request failed")
                result = None
            queue.put(result)

        for call in calls:
            eventlet.spawn_n(run, call)
        results: list[T] = []
        deadline = None
        for _ in calls:
            try:
                result = queue.get(timeout=None if deadline is None
                                   else max(0.0, deadline - time.monotonic()))
            except eventlet.queue.Empty:
                break
            if result is None:
                continue
            results.append(result)
            if (quorum is not None and deadline is None
                    and best_result(results, quorum).status < 500):  # type: ignore[arg-type]
                deadline = time.monotonic() + self.post_quorum_timeout
        return results
