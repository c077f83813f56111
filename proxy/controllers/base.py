"""What every controller shares: node iteration, fan-out writes, quorum.

Writes to accounts and containers go to every replica in parallel; a replica
whose node fails (connect error, timeout, 5xx, 507) is retried on the next
handoff.  The client's answer is the status class a quorum agreed on.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
import time
from collections import Counter
from typing import TYPE_CHECKING, Callable, Iterator, Mapping, TypeVar

import eventlet
import eventlet.queue

from objstore.common.logs import bind_txn_id

from objstore.common.backend_http import BackendResponse
from proxy.http import Request, Response, error_response

if TYPE_CHECKING:
    from proxy.server import Application

NET_ERRORS = (OSError, eventlet.Timeout)
T = TypeVar("T")
# request headers a client may not choose for a backend request
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                         "te", "trailer", "transfer-encoding", "upgrade", "host", "expect",
                         "content-length", "x-timestamp", "x-trans-id", "x-auth-token",
                         "x-storage-token", "authorization", "cookie"})


def quorum_size(n: int) -> int:
    """Replicas that must agree: a majority."""
    return n // 2 + 1


@dataclasses.dataclass
class BackendResult:
    """One node's (or the quorum's) answer to a small request, body read."""
    status: int
    headers: dict[str, str]
    body: bytes = b""


def best_result(results: list[BackendResult], replicas: int) -> BackendResult:
    """The answer of the status class a quorum shares (most common status in
    it, ties to the highest), else 503."""
    quorum = quorum_size(replicas)
    for hundred in (200, 300, 400):
        in_class = [r for r in results if hundred <= r.status < hundred + 100]
        if len(in_class) >= quorum:
            counts = Counter(r.status for r in in_class)
            status = max(counts, key=lambda s: (counts[s], s))
            return next(r for r in in_class if r.status == status)
    return BackendResult(503, {}, b"")


def is_server_error(status: int) -> bool:
    return status >= 500


class AuthRequest:
    """What ``swift.authorize(req)`` gets: the environ and the ACL that applies
    (``acl`` is None on the first, up-front call)."""

    def __init__(self, environ: dict, acl: str | None = None) -> None:
        self.environ = environ
        self.acl = acl

    @property
    def method(self) -> str:
        return self.environ["REQUEST_METHOD"]

    @property
    def path(self) -> str:
        return self.environ.get("PATH_INFO", "")


class Controller:
    """Base of the account, container and object controllers."""

    # methods whose denial waits until the container ACLs are known
    delay_denial: frozenset[str] = frozenset()

    def __init__(self, app: "Application", req: Request, wsgi_path: str, account: str,
                 container: str | None = None, obj: str | None = None) -> None:
        """Names are decoded (for the ring); ``wsgi_path`` is the raw
        ``/account[/container[/object]]`` (for backend paths)."""
        self.app = app
        self.req = req
        self.wsgi_path = wsgi_path
        self.account = account
        self.container = container
        self.obj = obj

    def allowed_methods(self) -> list[str]:
        return sorted(m for m in ("GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS")
                      if hasattr(self, m))

    def OPTIONS(self) -> Response:
        return Response(200, {"allow": ", ".join(self.allowed_methods()),
                              "content-length": "0"}, [])

    # ---- request headers ---------------------------------------------------------
    def pass_through(self, prefixes: tuple[str, ...], names: frozenset[str]) -> dict[str, str]:
        """Client headers the backend should see: given prefixes/names plus any
        ``x-backend-*`` set by middleware (the gatekeeper drops clients' own)."""
        out = {}
        for name, value in self.req.headers.items():
            if name in _HOP_BY_HOP:
                continue
            if name in names or name.startswith(prefixes) or name.startswith("x-backend-"):
                out[name] = value
        return out

    def authorize(self, acl: str | None) -> Response | None:
        """Ask the auth middleware again now that the container ACL is known
        (only for methods that delay denial; others were checked up front)."""
        authorize = self.req.environ.get("swift.authorize")
        if authorize is None:
            return None
        return authorize(AuthRequest(self.req.environ, acl))

    def write_headers(self, timestamp: str) -> dict[str, str]:
        return {"X-Trans-Id": self.req.txn_id, "X-Timestamp": timestamp}

    def update_targets(self, ring, kind: str, names: tuple[str, ...], count: int) -> list[dict[str, str]]:
        """``X-<kind>-Host/Partition/Device`` for replica i of the parent
        (account for a container, container for an object), i in range(count)."""
        part, nodes = ring.get_nodes(*names)
        return [{f"X-{kind}-Host": f"{node['ip']}:{node['port']}",
                 f"X-{kind}-Partition": str(part), f"X-{kind}-Device": node["device"]}
                for node in (nodes[i % len(nodes)] for i in range(count))]

    # ---- talking to nodes --------------------------------------------------------
    def node_iter(self, ring, part: int, primaries: list[dict] | None = None,
                  handoffs: bool = True) -> Iterator[dict]:
        """Primaries, then as many handoffs as there are primaries;
        error-limited nodes are skipped."""
        if primaries is None:
            primaries = ring.get_part_nodes(part)
        limiter = self.app.error_limiter
        for node in primaries:
            if not limiter.is_limited(node):
                yield node
        if handoffs:
            yield from self.handoff_iter(ring, part, len(primaries))

    def handoff_iter(self, ring, part: int, count: int) -> Iterator[dict]:
        """The first ``count`` handoffs that are not error-limited."""
        limiter = self.app.error_limiter
        for node in itertools.islice(ring.get_more_nodes(part), count):
            if not limiter.is_limited(node):
                yield node

    def replica_nodes(self, ring, part: int, primaries: list[dict]) -> list[Iterator[dict]]:
        """Per replica: its primary (unless error-limited), then handoffs drawn
        from one iterator shared by all replicas, so replica i keeps its own
        headers (e.g. which container replica to update) on a handoff."""
        handoffs = self.handoff_iter(ring, part, len(primaries))
        limiter = self.app.error_limiter
        return [itertools.chain(() if limiter.is_limited(node) else (node,), handoffs)
                for node in primaries]

    def send_to_node(self, node: Mapping, method: str, path: str, headers: Mapping[str, str],
                     query_string: str = "", body: bytes = b"") -> BackendResponse:
        """Open a connection, send a request (with a small body, if any, in the
        same packet) and read the answer's head."""
        conn = self.app.connect(node, self.app.conn_timeout, self.app.node_timeout)
        try:
            conn.send_request(method, path, headers, query_string, body)
            return conn.getresponse()
        except BaseException:
            conn.close()
            raise

    def request_one(self, nodes: Iterator[dict], method: str, path: str,
                    headers: Mapping[str, str], query_string: str = "",
                    body: bytes = b"") -> BackendResult | None:
        """Try nodes from the (shared) iterator until one answers without a
        server error; None if they all failed."""
        for node in nodes:
            try:
                resp = self.send_to_node(node, method, f"/{node['device']}{path}",
                                         headers, query_string, body)
                try:
                    answer = resp.read_all()
                finally:
                    resp.close()
            except NET_ERRORS as err:
                self.app.error_limiter.error(node, f"{method} {path}: {err!r}")
                continue
            if resp.status == 507:
                self.app.error_limiter.limit_now(node, "507 Insufficient Storage")
                continue
            if is_server_error(resp.status):
                self.app.error_limiter.error(node, f"{method} {path}: {resp.status}")
                continue
            return BackendResult(resp.status, resp.headers, answer)
        return None

    def make_requests(self, method: str, ring, part: int, path: str,
                      headers_list: list[dict[str, str]], query_string: str = "",
                      body: bytes = b"") -> BackendResult:
        """The same request to every replica in parallel (each with its own
        headers), handoffs taking over for failed nodes; the quorum's answer."""
        primaries = ring.get_part_nodes(part)
        calls = [functools.partial(self.request_one, nodes, method, path, headers, query_string, body)
                 for nodes, headers in zip(self.replica_nodes(ring, part, primaries), headers_list)]
        return best_result(self.gather(calls, len(calls)), len(calls))

    def gather(self, calls: list[Callable[[], T | None]], replicas: int | None = None) -> list[T]:
        """Run ``calls`` in parallel greenthreads; their non-None results.
        With ``replicas``, stop waiting ``post_quorum_timeout`` seconds after
        a quorum of the results agree (the rest finish in the background)."""
        queue: eventlet.queue.LightQueue = eventlet.queue.LightQueue()
        txn_id = self.req.txn_id

        def run(call: Callable[[], T | None]) -> None:
            bind_txn_id(txn_id)
            try:
                result = call()
            except Exception:  # a bug: log it, count the replica as failed
                self.app.logger.exception("backend request failed")
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
            if (replicas is not None and deadline is None
                    and best_result(results, replicas).status < 500):  # type: ignore[arg-type]
                deadline = time.monotonic() + self.app.post_quorum_timeout
        return results

    def result_response(self, result: BackendResult, headers: dict[str, str] | None = None) -> Response:
        """Client response for a write's quorum result: empty body on success."""
        if result.status >= 300:
            message = result.body.decode("utf-8", "replace").strip() or None
            return error_response(result.status, message)
        merged = {"content-type": "text/html; charset=UTF-8", "content-length": "0"}
        merged.update(headers or {})
        return Response(result.status, merged, [])
