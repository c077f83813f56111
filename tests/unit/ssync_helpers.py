"""In-process ssync peers for unit tests: requests go straight into a WSGI app."""
from __future__ import annotations

from typing import Iterable, Mapping

from webob import Request, Response

from objstore.obj import ssync


class WsgiPeer:
    """A ``replicator.ssync_sender.Peer`` that calls an object server app."""

    def __init__(self, app) -> None:
        self.app = app
        self.requests: list[tuple[str, str]] = []

    def request(self, method: str, path: str, headers: Mapping[str, str],
                body: bytes | Iterable[bytes] | None) -> tuple[int, bytes]:
        self.requests.append((method, path))
        data = body if body is None or isinstance(body, bytes) else b"".join(body)
        request = Request.blank(path, method=method, headers=dict(headers))
        request.body = data or b""
        response = request.get_response(self.app)
        return response.status_int, response.body


def ssync_request(app, phase: str, body: bytes, path: str = "/sda/1",
                  policy: int = 0) -> Response:
    request = Request.blank(path, method="SSYNC", headers={
        ssync.PHASE_HEADER: phase, "X-Backend-Storage-Policy-Index": str(policy)})
    request.body = body
    return request.get_response(app)
