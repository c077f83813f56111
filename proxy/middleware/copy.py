"""Server-side copy: ``COPY`` with ``Destination`` and ``PUT`` with ``X-Copy-From``.

The source is read with a GET through the rest of the pipeline (so large
objects arrive assembled and the caller's read permission applies) and
streamed into a PUT of the destination (write permission applies).  Metadata
is copied and merged with the request's headers (``X-Fresh-Metadata: true``
drops the source's user metadata).  ``?multipart-manifest=get`` copies an SLO
or DLO manifest itself instead of the object's bytes.

The source must be fetched *through* the large-object middleware.  Swift puts
``copy`` left of ``dlo``/``slo``; if they sit left of copy instead, copy wraps
its own sub-requests with them so either order behaves the same.
"""
from __future__ import annotations

import configparser
from typing import Callable, Iterable
from urllib.parse import quote, unquote

from objstore.common import conditional
from objstore.common.checks import MAX_NUMBER, is_whole_number, name_error
from objstore.common.config import config_true_value, section
from objstore.common.constraints import Constraints, load_constraints, wsgi_to_str
from objstore.common.http import HTTPError, error_response
from objstore.common.paths import split_object_path, split_object_ref
from objstore.common.wsgi import WSGIApp
from proxy.middleware.dlo import DynamicLargeObject
from proxy.middleware.slo import StaticLargeObject, is_slo
from proxy.internal.subrequest import (
    IterReader, SourceReadError, SubResponse, call_app, make_env, query_param)

SOURCE = "COPY"
COPIED_HEADERS = ("content-type", "content-encoding", "content-disposition")
# request keys that describe the copy itself, not the new object
COPY_REQUEST_KEYS = frozenset({
    "HTTP_DESTINATION", "HTTP_DESTINATION_ACCOUNT", "HTTP_X_COPY_FROM", "HTTP_X_COPY_FROM_ACCOUNT",
    "HTTP_X_FRESH_METADATA", *conditional.ENVIRON_KEYS, "HTTP_RANGE", "HTTP_ETAG", "CONTENT_LENGTH",
    "HTTP_TRANSFER_ENCODING", "HTTP_X_STATIC_LARGE_OBJECT", "HTTP_X_OBJECT_MANIFEST"})
# source request headers: conditions on the source, and Range (copies just those bytes)
SOURCE_CONDITIONALS = (*conditional.ENVIRON_KEYS, "HTTP_RANGE")


def parse_object_ref(value: str, header: str, limits: Constraints = Constraints()) -> tuple[str, str]:
    """``[/]container/object`` (URL-quoted WSGI string) -> decoded (container,
    object); 412 when it is not of that form (as Swift), 400 naming the header
    when the container name is invalid or either name is not UTF-8 or holds NUL."""
    decoded = wsgi_to_str(unquote(value, encoding="latin-1"))
    if decoded is None:
        raise HTTPError(400, f"{header}: not valid UTF-8")
    names = split_object_ref(decoded)
    if names is None:
        raise HTTPError(412,
                        f"{header} header must be of the form <container name>/<object name>")
    container, obj = names
    error = (name_error(container, "Container", limits.max_container_name_length)
             or name_error(obj, "Object", MAX_NUMBER))  # the PUT checks the object name's length
    if error:
        raise HTTPError(400, f"{header}: {error}")
    return container, obj


def parse_account_header(environ: dict, header: str, default: str,
                         limits: Constraints = Constraints()) -> str:
    """The decoded account a ``Destination-Account`` / ``X-Copy-From-Account``
    names (``default`` when absent); 400 naming the header when it is invalid,
    never a silent fallback to the request's own account."""
    raw = environ.get("HTTP_" + header.upper().replace("-", "_"))
    if not raw:
        return default
    account = wsgi_to_str(unquote(raw, encoding="latin-1"))
    error = ("Account name is not valid UTF-8" if account is None
             else name_error(account, "Account", limits.max_account_name_length))
    if error:
        raise HTTPError(400, f"{header}: {error}")
    return account  # type: ignore[return-value]


def _has_filter(app: object, kind: type) -> bool:
    for _ in range(64):  # pipelines are short; guards against cycles
        if app is None:
            return False
        if isinstance(app, kind):
            return True
        app = getattr(app, "app", None)
    return False


class ServerSideCopy:
    """The filter: turns COPY and PUT+X-Copy-From into a streamed GET -> PUT."""

    def __init__(self, app: WSGIApp, limits: Constraints = Constraints(),
                 slo_options: dict[str, str] | None = None) -> None:
        self.app = app
        self.limits = limits
        wrapped = app
        if not _has_filter(app, DynamicLargeObject):
            wrapped = DynamicLargeObject(wrapped)
        if not _has_filter(app, StaticLargeObject):
            wrapped = StaticLargeObject(wrapped, slo_options or {})
        self.subrequest_app = wrapped

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if method == "COPY" or (method == "PUT" and "HTTP_X_COPY_FROM" in environ):
            target = split_object_path(environ.get("PATH_INFO", ""))
            if target is not None:
                try:
                    return self.handle_copy(environ, start_response, target)
                except HTTPError as err:
                    return err.response(environ, start_response)
        return self.app(environ, start_response)

    def handle_copy(self, environ: dict, start_response: Callable, target) -> Iterable[bytes]:
        account, container, obj = (wsgi_to_str(p) or "" for p in target)
        if environ["REQUEST_METHOD"] == "COPY":
            if not environ.get("HTTP_DESTINATION"):
                raise HTTPError(412, "Destination header required")
            dest_container, dest_obj = parse_object_ref(environ["HTTP_DESTINATION"], "Destination",
                                                        self.limits)
            dest_account = parse_account_header(environ, "Destination-Account", account, self.limits)
            src_account, src = account, (container, obj)
            dest = (dest_account, dest_container, dest_obj)
        else:
            if environ.get("CONTENT_LENGTH") not in (None, "", "0"):
                raise HTTPError(400, "Copy requests require a zero byte body")
            src = parse_object_ref(environ["HTTP_X_COPY_FROM"], "X-Copy-From", self.limits)
            src_account = parse_account_header(environ, "X-Copy-From-Account", account, self.limits)
            dest = (account, container, obj)
        source_path = f"/v1/{src_account}/{src[0]}/{src[1]}"
        manifest_copy = query_param(environ, "multipart-manifest") == "get"
        source, sink_query = self._fetch_source(environ, source_path, manifest_copy)
        if not source.ok:
            return source.forward(start_response)
        reader = IterReader(source)
        resp = None
        try:
            resp = self._put(environ, source, dest, sink_query, reader)
        except SourceReadError:
            pass  # an app that does not handle broken input itself; reader.error says why
        finally:
            source.close()
        if reader.error is not None or resp is None:
            if resp is not None:
                resp.close()
            return error_response(409, f"copy source failed: {reader.error}")(environ, start_response)
        if not resp.ok:
            return resp.forward(start_response)
        extra = [("X-Copied-From", quote(f"{src[0]}/{src[1]}")),
                 ("X-Copied-From-Last-Modified", source.header("last-modified") or "")]
        if src_account != dest[0] or "HTTP_X_COPY_FROM_ACCOUNT" in environ:
            extra.append(("X-Copied-From-Account", quote(src_account)))
        return resp.forward(start_response, resp.headers + extra)

    def _fetch_source(self, environ: dict, path: str, manifest_copy: bool) -> tuple[SubResponse, str]:
        """GET the source; for an SLO manifest copy, its PUT-able (raw) form."""
        conditionals = {k: environ[k] for k in SOURCE_CONDITIONALS if k in environ}
        query: str | dict[str, str] = ""
        sink_query = ""
        if manifest_copy:
            head = call_app(self.subrequest_app, make_env(environ, "HEAD", path, source=SOURCE,
                                                      query={"multipart-manifest": "get",
                                                             "format": "raw"}))
            head.close()
            if head.ok and is_slo(head):
                query, sink_query = "multipart-manifest=get&format=raw", "multipart-manifest=put"
                env = make_env(environ, "GET", path, source=SOURCE, query=query)
                env.update(conditionals)
                raw = call_app(self.subrequest_app, env)
                # the manifest-get answer is JSON; keep the object's own type and metadata
                return SubResponse(raw.status, _merge_headers(head.headers, raw.headers), raw), sink_query
            query = "multipart-manifest=get"
        elif query_param(environ, "part-number") is not None:
            # as in Swift, the copy request's part-number selects the source's part
            query = {"part-number": query_param(environ, "part-number") or ""}
        env = make_env(environ, "GET", path, source=SOURCE, query=query)
        env.update(conditionals)
        return call_app(self.subrequest_app, env), sink_query

    def _put(self, environ: dict, source: SubResponse, dest: tuple[str, str, str],
             query: str, reader: IterReader) -> SubResponse:
        length = source.header("content-length")
        if is_whole_number(length) and int(length) > self.limits.max_file_size:
            raise HTTPError(413, "Source object too large")
        headers = {name: value for name, value in source.headers
                   if name.lower() in COPIED_HEADERS or name.lower().startswith("x-object-meta-")}
        if query == "" and source.header("x-object-manifest") is not None \
                and query_param(environ, "multipart-manifest") == "get":
            headers["X-Object-Manifest"] = source.header("x-object-manifest") or ""
        etag = source.header("etag") or ""
        if (source.status_int == 200 and not etag.startswith('"') and not is_slo(source)
                and source.header("x-object-manifest") is None):
            headers["ETag"] = etag  # a plain object: the object server verifies what it receives
        if config_true_value(environ.get("HTTP_X_FRESH_METADATA")):
            headers = {k: v for k, v in headers.items() if not k.lower().startswith("x-object-meta-")}
        env = make_env(environ, "PUT", "/v1/%s/%s/%s" % dest, source=SOURCE, query=query,
                       headers=headers, body=reader)
        for key, value in environ.items():  # the request's own headers win
            if (key.startswith("HTTP_") or key == "CONTENT_TYPE") and key not in COPY_REQUEST_KEYS:
                env[key] = value
        if is_whole_number(length):
            env["CONTENT_LENGTH"] = length
        else:
            env["HTTP_TRANSFER_ENCODING"] = "chunked"
        return call_app(self.subrequest_app, env)


def _merge_headers(base: list[tuple[str, str]], override: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``base`` except where ``override`` names the body (length, etag)."""
    body_headers = {"content-length", "etag"}
    return [(k, v) for k, v in base if k.lower() not in body_headers] + \
        [(k, v) for k, v in override if k.lower() in body_headers]


def filter_factory(conf: configparser.ConfigParser, options: dict | None = None
                   ) -> Callable[[WSGIApp], WSGIApp]:
    """Pipeline entry: ``[filter:copy] use = proxy.middleware.copy:filter_factory``."""
    if conf is None:
        return ServerSideCopy
    limits = load_constraints(conf)
    slo_options = section(conf, "filter:slo")
    return lambda app: ServerSideCopy(app, limits, slo_options)
