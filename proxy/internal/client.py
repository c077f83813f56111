"""``InternalClient``: the cluster's own code reading and writing the cluster.

Three layers, as in ``requests``: this small client (account, container and
object calls, listings page by page, streamed bodies, one exception type) on
top of the sub-request builder (``subrequest.make_env`` in system mode) on top
of the in-process proxy pipeline, a plain WSGI app.  No HTTP hop: a request
is a function call into the proxy ``Application``, which talks to the storage
nodes itself.

Every request is a pre-authorized system request: the callers (background
daemons such as the object expirer, the auth middleware's store) work on
hidden accounts no client may reach (``AUTH_.auth``, ``.expiring_objects``)
and have no user identity to inherit.  Middleware making requests *as the
client* use ``make_env`` directly instead.
"""
from __future__ import annotations

import configparser
import io
import json
import logging
import sys
from typing import BinaryIO, Collection, Iterable, Iterator

from objstore.common.logs import new_txn_id
from objstore.common.wsgi import WSGIApp
from proxy.internal.subrequest import IterReader, SubResponse, call_app, make_env
from proxy.pipeline import load_pipeline, pipeline_names
from proxy.server import Application

OK = frozenset(range(200, 300))
OK_OR_MISSING = OK | {404}
# the proxy pipeline filters that change what a request *means* (large objects
# assembled, server-side copy); the client-facing ones are left out, see from_config
INTERNAL_FILTERS = ("dlo", "slo", "copy")
ERROR_BODY_LIMIT = 4096
DEFAULT_PAGE_SIZE = 1000

Body = bytes | BinaryIO | Iterable[bytes]


class UnexpectedResponse(Exception):
    """A request answered with a status its caller did not accept."""

    def __init__(self, method: str, path: str, status: str, headers: list[tuple[str, str]],
                 body: bytes) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.status_int = int(status[:3])
        self.headers = headers
        self.body = body  # at most ERROR_BODY_LIMIT bytes of it
        super().__init__(f"{method} {path}: {status}: {body[:200]!r}")


class InternalClient:
    """Account, container and object requests through ``app`` as system requests.

    ``app`` is the proxy pipeline to send them to (``from_config`` builds one);
    ``source`` names the caller in logs (``swift.source``) and the User-Agent.
    """

    def __init__(self, app: WSGIApp, *, source: str = "InternalClient") -> None:
        self.app = app
        self.source = source
        self._base_environ = {
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "SERVER_NAME": "internal-client", "SERVER_PORT": "0", "SERVER_PROTOCOL": "HTTP/1.1",
            "SCRIPT_NAME": "", "REMOTE_ADDR": "127.0.0.1",
            "HTTP_USER_AGENT": f"objstore-internal-client {source}",
        }

    @classmethod
    def from_config(cls, conf: configparser.ConfigParser, logger: logging.Logger, *,
                    source: str = "InternalClient", app: WSGIApp | None = None
                    ) -> "InternalClient":
        """A client over the proxy ``Application`` built from the proxy config
        (or over ``app``), wrapped in the pipeline's ``dlo``, ``slo`` and
        ``copy`` filters, in their configured order.

        Why those and no others: they decide what a request means (a GET of a
        manifest returns the large object, a DELETE of one with
        ``multipart-manifest=delete`` removes its segments), so a daemon must
        see the same cluster a client sees.  The client-facing filters are
        left out on purpose: ``gatekeeper`` would strip the system-request mark
        every request here carries (and the internal headers daemons may need
        to send), auth has no token to check (system requests bypass it
        anyway), ``healthcheck`` answers nothing a daemon asks, and without
        ``catch_errors`` a failure reaches the daemon as the exception it is
        rather than as a 500 page.
        """
        if app is None:
            app = Application(conf, logger)
        names = [name for name in pipeline_names(conf)[:-1] if name in INTERNAL_FILTERS]
        return cls(load_pipeline(conf, app, names), source=source)

    # ---- the request layer ----------------------------------------------------------
    def make_request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                     query: dict[str, str] | None = None, body: Body | None = None,
                     content_length: int | None = None, acceptable: Collection[int] = OK,
                     stream: bool = False) -> SubResponse:
        """Send ``method path`` (decoded, ``/v1/a/c/o``) as a system request.

        ``body`` may be bytes, a file-like object or an iterable of byte chunks
        (streamed; chunked unless ``content_length`` is given).  With ``stream``
        the response body is left to the caller to iterate (always close it, or
        use it as a context manager); otherwise it is read and closed here.
        Raises UnexpectedResponse if the status is not in ``acceptable``.
        """
        reader = IterReader(body) if _is_chunk_iterable(body) else None
        env = make_env({**self._base_environ, "HTTP_X_TRANS_ID": new_txn_id()}, method, path,
                       source=self.source, query=query or {}, headers=headers,
                       body=reader or body, system=True)
        if not isinstance(body, bytes) and body is not None:
            if content_length is None:
                env["HTTP_TRANSFER_ENCODING"] = "chunked"
            else:
                env["CONTENT_LENGTH"] = str(content_length)
        resp = call_app(self.app, env)
        if reader is not None and reader.error is not None:
            resp.close()
            raise reader.error  # the caller's body iterator failed: that is the error
        if resp.status_int not in acceptable:
            body_start = _read_start(resp, ERROR_BODY_LIMIT)
            raise UnexpectedResponse(method, path, resp.status, resp.headers, body_start)
        if stream:
            return resp
        return SubResponse(resp.status, resp.headers, [resp.read()])

    # ---- accounts, containers, objects ----------------------------------------------
    def head(self, account: str, container: str | None = None, obj: str | None = None, *,
             headers: dict[str, str] | None = None, acceptable: Collection[int] = OK
             ) -> SubResponse:
        """HEAD of an account, container or object (its metadata in the headers)."""
        return self.make_request("HEAD", _path(account, container, obj), headers=headers,
                                 acceptable=acceptable)

    def get(self, account: str, container: str | None = None, obj: str | None = None, *,
            headers: dict[str, str] | None = None, query: dict[str, str] | None = None,
            acceptable: Collection[int] = OK) -> SubResponse:
        """GET with the body streamed: iterate the response, then close it (``with``)."""
        return self.make_request("GET", _path(account, container, obj), headers=headers,
                                 query=query, acceptable=acceptable, stream=True)

    def put(self, account: str, container: str | None = None, obj: str | None = None, *,
            body: Body | None = None, content_length: int | None = None,
            headers: dict[str, str] | None = None, query: dict[str, str] | None = None,
            acceptable: Collection[int] = OK) -> SubResponse:
        """PUT an account, a container, or an object with ``body`` (see make_request)."""
        if obj is not None and body is None:
            body = b""
        return self.make_request("PUT", _path(account, container, obj), headers=headers,
                                 query=query, body=body, content_length=content_length,
                                 acceptable=acceptable)

    def post(self, account: str, container: str | None = None, obj: str | None = None, *,
             headers: dict[str, str] | None = None, acceptable: Collection[int] = OK
             ) -> SubResponse:
        """POST metadata (``X-<Kind>-Meta-*`` and the like) to an account, container or object."""
        return self.make_request("POST", _path(account, container, obj), headers=headers,
                                 acceptable=acceptable)

    def delete(self, account: str, container: str | None = None, obj: str | None = None, *,
               headers: dict[str, str] | None = None, query: dict[str, str] | None = None,
               acceptable: Collection[int] = OK_OR_MISSING) -> SubResponse:
        """DELETE; by default something already gone (404) is no error."""
        return self.make_request("DELETE", _path(account, container, obj), headers=headers,
                                 query=query, acceptable=acceptable)

    # ---- listings -------------------------------------------------------------------
    def iter_listing_pages(self, account: str, container: str | None = None, *,
                           prefix: str = "", delimiter: str = "", marker: str = "",
                           end_marker: str = "", page_size: int = DEFAULT_PAGE_SIZE,
                           acceptable: Collection[int] = OK) -> Iterator[list[dict]]:
        """The account's containers (or the container's objects) as JSON pages of
        at most ``page_size`` items, each page asked for after the last name of
        the one before.  A 404 in ``acceptable`` lists nothing."""
        path = _path(account, container)
        while True:
            query = {"format": "json", "limit": str(page_size), "marker": marker,
                     "prefix": prefix, "delimiter": delimiter, "end_marker": end_marker}
            resp = self.make_request("GET", path, query={k: v for k, v in query.items() if v},
                                     acceptable=acceptable)
            page = json.loads(resp.read() or b"[]") if resp.ok and resp.status_int != 204 else []
            if not page:
                return
            yield page
            last = page[-1].get("name") or page[-1].get("subdir") or ""
            if last <= marker:  # a server ignoring the marker would have us loop forever
                raise UnexpectedResponse("GET", path, resp.status, resp.headers,
                                         f"listing did not advance past {marker!r}".encode())
            marker = last

    def iter_listing(self, account: str, container: str | None = None, **options
                     ) -> Iterator[dict]:
        """Every item of ``iter_listing_pages`` (same options), one by one."""
        for page in self.iter_listing_pages(account, container, **options):
            yield from page


def _path(account: str, container: str | None = None, obj: str | None = None) -> str:
    """``/v1/<account>[/<container>[/<object>]]``; empty names or a container
    with a slash would address something else, so they are refused."""
    if not account or "/" in account:
        raise ValueError(f"bad account name {account!r}")
    if container is None:
        if obj is not None:
            raise ValueError("an object needs a container")
        return f"/v1/{account}"
    if not container or "/" in container:
        raise ValueError(f"bad container name {container!r}")
    if obj is None:
        return f"/v1/{account}/{container}"
    if not obj:
        raise ValueError("empty object name")
    return f"/v1/{account}/{container}/{obj}"


def _is_chunk_iterable(body: object) -> bool:
    return body is not None and not isinstance(body, (bytes, io.IOBase)) \
        and not hasattr(body, "read")


def _read_start(resp: SubResponse, limit: int) -> bytes:
    """Up to ``limit`` bytes of the body; the rest is not read, the response is closed."""
    data = b""
    try:
        for chunk in resp:
            data += chunk
            if len(data) >= limit:
                break
    finally:
        resp.close()
    return data[:limit]
