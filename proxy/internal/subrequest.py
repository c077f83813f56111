"""Sub-requests: requests the proxy's own code sends through the pipeline.

A sub-request is a fresh environ for the next app in the pipeline, marked
with ``swift.source`` so logs show who made it.  ``make_env`` builds it in
one of two modes:

- *as the caller* (segment GETs, listings, copies): it keeps the client's
  identity (``REMOTE_USER``, ``swift.authorize``...), so the proxy authorizes
  it exactly as if the client had asked;
- *system* (``system=True``): a pre-authorized request of the cluster itself,
  for hidden accounts no client may reach (the auth store, queue accounts)
  and for info lookups after auth already passed.  It carries no identity,
  only the ``SYSTEM_REQUEST`` environ mark; the auth middleware and the proxy
  give it owner rights without asking ``swift.authorize``.  The mark is not
  an ``HTTP_`` key, so no request header can set it, and the gatekeeper
  removes it from every client request: only code right of the gatekeeper
  can make one.
"""
from __future__ import annotations

import io
import itertools
import logging
from typing import Callable, Iterable, Iterator
from urllib.parse import parse_qs, urlencode

from objstore.common.constraints import str_to_wsgi
from objstore.common.logs import bind_txn_id
from objstore.common.wsgi import WSGIApp

# marks a pre-authorized system request (see the module docstring)
SYSTEM_REQUEST = "objstore.system_request"
# environ keys every sub-request inherits: the transport, the txn id, the caches
CONTEXT_KEYS = (
    "wsgi.version", "wsgi.url_scheme", "wsgi.errors", "wsgi.multithread", "wsgi.multiprocess",
    "wsgi.run_once", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "SCRIPT_NAME",
    "REMOTE_ADDR", "HTTP_HOST", "HTTP_USER_AGENT", "HTTP_X_TRANS_ID", "HTTP_X_FORWARDED_FOR",
    "swift.cache", "swift.infocache",
)
# environ keys that say who is asking: inherited only "as the caller"
IDENTITY_KEYS = (
    "HTTP_REFERER", "REMOTE_USER", "swift.authorize", "swift.authorize_override",
    "swift.clean_acl", "objstore.identity", SYSTEM_REQUEST,
)
_SPECIAL_HEADERS = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}


def proxy_logger() -> logging.Logger:
    """The proxy daemon's logger (configured by run_wsgi_daemon before the pipeline is built)."""
    return logging.getLogger("objstore.proxy-server")


def environ_key(header: str) -> str:
    lower = header.lower()
    return _SPECIAL_HEADERS.get(lower) or "HTTP_" + lower.upper().replace("-", "_")


def query_param(environ: dict, name: str) -> str | None:
    """The (last) value of a query parameter, or None; cheap when the query is empty."""
    query = environ.get("QUERY_STRING")
    if not query or name not in query:
        return None
    values = parse_qs(query, keep_blank_values=True).get(name)
    return values[-1] if values else None


def is_system_request(environ: dict) -> bool:
    """True for a pre-authorized system request (made by ``make_env(system=True)``)."""
    return environ.get(SYSTEM_REQUEST) is True


def make_env(environ: dict, method: str, path: str, *, source: str,
             query: dict[str, str] | str = "", headers: dict[str, str] | None = None,
             body: bytes | io.RawIOBase | None = None, system: bool = False) -> dict:
    """A sub-request environ for ``method path`` (``path`` decoded, e.g. ``/v1/a/c/o``):
    as the caller of ``environ``, or with ``system`` a pre-authorized system request."""
    env = {key: environ[key] for key in CONTEXT_KEYS if key in environ}
    if system:
        env[SYSTEM_REQUEST] = True
    else:
        env.update((key, environ[key]) for key in IDENTITY_KEYS if key in environ)
    env.update({
        "REQUEST_METHOD": method,
        "PATH_INFO": str_to_wsgi(path),
        "QUERY_STRING": query if isinstance(query, str) else urlencode(query),
        "swift.source": source,
        "wsgi.input": io.BytesIO(body) if isinstance(body, bytes) else (body or io.BytesIO(b"")),
    })
    if isinstance(body, bytes):
        env["CONTENT_LENGTH"] = str(len(body))
    for name, value in (headers or {}).items():
        env[environ_key(name)] = value
    return env


class SubResponse:
    """Status, headers and body of a sub-request; always ``close()`` it."""

    def __init__(self, status: str, headers: list[tuple[str, str]], body: Iterable[bytes]) -> None:
        self.status = status
        self.status_int = int(status[:3])
        self.headers = headers
        self._body = body

    def header(self, name: str, default: str | None = None) -> str | None:
        """A header's value (case-insensitive); a scan is cheaper than a dict for
        the one or two lookups a passed-through response gets."""
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return default

    @property
    def ok(self) -> bool:
        return 200 <= self.status_int < 300

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def read(self, limit: int | None = None) -> bytes:
        """The whole body (for small bodies: listings, manifests); None limit = any size.

        Raises ValueError if the body is longer than ``limit``.
        """
        chunks, size = [], 0
        try:
            for chunk in self._body:
                size += len(chunk)
                if limit is not None and size > limit:
                    raise ValueError(f"body larger than {limit} bytes")
                chunks.append(chunk)
        finally:
            self.close()
        return b"".join(chunks)

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close:
            close()

    def __enter__(self) -> "SubResponse":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def forward(self, start_response: Callable,
                headers: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
        """Send this response to the client as is (optionally with other headers)."""
        start_response(self.status, self.headers if headers is None else headers)
        return self._body


def call_app(app: WSGIApp, env: dict) -> SubResponse:
    """Run ``app`` on ``env``; copes with apps that call start_response lazily."""
    if "HTTP_X_TRANS_ID" in env:  # also when run in a helper greenthread: logs keep the txn id
        bind_txn_id(env["HTTP_X_TRANS_ID"])
    captured: list = []

    def start_response(status, headers, exc_info=None):
        captured[:] = [status, headers]
        return lambda data: None

    body = app(env, start_response)
    if not captured:
        iterator = iter(body)
        first = next(iterator, None)
        rest = itertools.chain([] if first is None else [first], iterator)
        body = ClosingIterable(rest, body)
    return SubResponse(captured[0], list(captured[1]), body)


class ClosingIterable:
    """Iterate ``iterable`` and close ``closer`` (the original app_iter) on close()."""

    def __init__(self, iterable: Iterable[bytes], closer: object) -> None:
        self.iterable = iterable
        self.closer = closer

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.iterable)

    def close(self) -> None:
        for thing in (self.iterable, self.closer):
            close = getattr(thing, "close", None)
            if close:
                close()


class SourceReadError(OSError):
    """The iterator behind an IterReader failed; the PUT reading it must abort."""


class IterReader(io.RawIOBase):
    """A file-like ``wsgi.input`` reading from an iterator of byte chunks (streams a
    GET body into a PUT without holding it in memory).

    If the iterator fails, reads raise SourceReadError (an OSError, which the
    proxy treats as a broken upload and aborts) and ``error`` keeps the cause.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self.chunks = iter(chunks)
        self.buffer = bytearray()
        self.error: Exception | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            try:
                chunk = next(self.chunks, None)
            except Exception as err:
                self.error = err
                raise SourceReadError(str(err)) from err
            if chunk is None:
                break
            self.buffer += chunk
        if size < 0:
            size = len(self.buffer)
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data
