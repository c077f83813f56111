"""HTTP shapes every layer shares (proxy, middleware, storage servers).

One ``Response`` type (a WSGI app with an int status, lower-cased header dict
and a body iterable) and one raisable ``HTTPError`` carrying one, so every
layer answers and fails the same way.  Header values stay WSGI strings
(latin-1 carrying the raw bytes) so metadata bytes pass through unchanged.
"""
from __future__ import annotations

import http
from typing import Callable, Iterable

# The one unit in which bodies are read and written: socket reads and writes,
# disk reads and the write buffer of a .data file.  One size keeps a body moving
# from client to disk (and back) without re-chunking at every hop.
CHUNK_SIZE = 65536

# reason phrases for status lines; 499 is Swift's "the client went away"
REASONS = {s.value: s.phrase for s in http.HTTPStatus}
REASONS[499] = "Client Disconnect"
TEXT_PLAIN = "text/plain; charset=UTF-8"


def status_line(status: int) -> str:
    """``404`` -> ``404 Not Found``, the form ``start_response`` takes."""
    return f"{status} {REASONS.get(status, 'Unknown')}"


def header_dict(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """WSGI header pairs as the lower-case dict a ``Response`` takes (the last one wins).
    A name with non-ASCII bytes (latin-1 carrying UTF-8) is kept as it is: lower-casing
    would change its bytes (``\xc3`` -> ``\xe3``), and ``Response`` sends it unchanged."""
    return {(name.lower() if name.isascii() else name): value for name, value in pairs}


def _wire_name(name: str) -> str:
    return name.title() if name.isascii() else name


class Response:
    """A WSGI app: status, headers (lower-case names) and a body iterable."""

    def __init__(self, status: int, headers: dict[str, str] | None = None,
                 body: bytes | Iterable[bytes] = b"") -> None:
        self.status = status
        self.headers = headers if headers is not None else {}
        if isinstance(body, bytes):
            self.headers.setdefault("content-length", str(len(body)))
            body = [body] if body else []
        self.app_iter = body

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        start_response(status_line(self.status),
                       [(_wire_name(k), v) for k, v in self.headers.items()])
        if environ["REQUEST_METHOD"] == "HEAD":
            close = getattr(self.app_iter, "close", None)
            if close:
                close()
            return []
        return self.app_iter


def error_response(status: int, message: str | None = None,
                   headers: dict[str, str] | None = None, newline: bool = True) -> Response:
    """A short text body saying why; the reason phrase when there is nothing more to say.
    ``newline=False`` for the few bodies Swift sends (and clients compare) verbatim."""
    body = (message or REASONS.get(status, "Error")).encode("utf-8") + (b"\n" if newline else b"")
    merged = {"content-type": TEXT_PLAIN}
    merged.update(headers or {})
    return Response(status, merged, body)


def empty_response(status: int, headers: dict[str, str] | None = None) -> Response:
    """Success without a body (201, 202, 204): Swift sends an HTML content type."""
    merged = {"content-type": "text/html; charset=UTF-8", "content-length": "0"}
    merged.update(headers or {})
    return Response(status, merged, [])


class HTTPError(Exception):
    """Stop handling a request from code deep below the WSGI entry, which
    answers with ``response`` instead of threading an error value back up."""

    def __init__(self, status: int, message: str | None = None,
                 headers: dict[str, str] | None = None, newline: bool = True) -> None:
        super().__init__(status, message)
        self.response = error_response(status, message, headers, newline)

    @property
    def status(self) -> int:
        return self.response.status


def host_url(environ: dict, scheme: str | None = None) -> str:
    """``<scheme>://<host>`` a request was sent to (its Host header, else the
    server's name and port): where URLs handed back to the client start."""
    host = environ.get("HTTP_HOST") or "%s:%s" % (environ.get("SERVER_NAME", "127.0.0.1"),
                                                  environ.get("SERVER_PORT", "8080"))
    return f"{scheme or environ.get('wsgi.url_scheme', 'http')}://{host}"
