"""The proxy's own small request and response types.

A ``Request`` parses the WSGI environ once (path, headers, query) for the
controllers; a ``Response`` is a WSGI app with an int status, lower-cased
header dict and a body iterable.  Header values stay WSGI strings (latin-1
carrying the raw bytes) so metadata bytes pass through unchanged.
"""
from __future__ import annotations

from typing import Callable, Iterable
from urllib.parse import parse_qsl

from objstore.common.constraints import wsgi_to_str
from objstore.common.wsgi import REASONS, status_line


_ENVIRON_HEADERS = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}


def environ_headers(environ: dict) -> dict[str, str]:
    """Request headers as ``{lower-case name: value}``."""
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = value
        elif key in _ENVIRON_HEADERS and value != "":
            headers[_ENVIRON_HEADERS[key]] = value
    return headers


class Request:
    """The parts of a client request the controllers use, parsed once."""

    def __init__(self, environ: dict) -> None:
        self.environ = environ
        self.method: str = environ["REQUEST_METHOD"]
        self.path: str = environ.get("PATH_INFO", "")
        self.query_string: str = environ.get("QUERY_STRING", "")
        self.headers = environ_headers(environ)
        self._params: dict[str, str] | None = None

    @property
    def params(self) -> dict[str, str]:
        """Query parameters, values as WSGI strings (last one wins)."""
        if self._params is None:
            self._params = dict(parse_qsl(self.query_string, keep_blank_values=True,
                                          encoding="latin-1"))
        return self._params

    def param(self, name: str) -> str | None:
        """A query parameter decoded as UTF-8; raises ValueError if it is not."""
        value = self.params.get(name)
        if value is None:
            return None
        decoded = wsgi_to_str(value)
        if decoded is None:
            raise ValueError(f"query parameter {name!r} is not valid UTF-8")
        return decoded

    @property
    def txn_id(self) -> str:
        return self.environ.get("HTTP_X_TRANS_ID", "-")


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
    merged = {"content-type": "text/plain; charset=UTF-8"}
    merged.update(headers or {})
    return Response(status, merged, body)


def empty_response(status: int, headers: dict[str, str] | None = None) -> Response:
    """Success without a body (201, 202, 204): Swift sends an HTML content type."""
    merged = {"content-type": "text/html; charset=UTF-8", "content-length": "0"}
    merged.update(headers or {})
    return Response(status, merged, [])

