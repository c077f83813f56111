"""What every controller shares: request headers for the backend, ACL checks
with the container's ACL, and the client's answer to a quorum write.

Talking to the replicas (node order, handoffs, quorum) is
``objstore.common.fanout``'s job; controllers use the Application's FanOut.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from objstore.common.fanout import BackendResult, RingLike
from proxy.controllers.reader import Reader
from objstore.common.http import Response, error_response
from proxy.http import Request

if TYPE_CHECKING:
    from proxy.server import Application

# request headers a client may not choose for a backend request
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                         "te", "trailer", "transfer-encoding", "upgrade", "host", "expect",
                         "content-length", "x-timestamp", "x-trans-id", "x-auth-token",
                         "x-storage-token", "authorization", "cookie"})


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

    def reader(self, ring: RingLike, part: int, headers: dict[str, str],
               resumable: bool = False) -> Reader:
        """A Reader of this request's item on the nodes of ``part``."""
        fanout = self.app.fanout
        return Reader(fanout, fanout.read_nodes(ring, part),
                      self.app.backend_path(part, self.wsgi_path), headers, self.req.method,
                      self.req.query_string, resumable)

    def result_response(self, result: BackendResult, headers: dict[str, str] | None = None) -> Response:
        """Client response for a write's quorum result: empty body on success."""
        if result.status >= 300:
            message = result.body.decode("utf-8", "replace").strip() or None
            return error_response(result.status, message)
        merged = {"content-type": "text/html; charset=UTF-8", "content-length": "0"}
        merged.update(headers or {})
        return Response(result.status, merged, [])
