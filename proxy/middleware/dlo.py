"""Dynamic large objects: ``X-Object-Manifest: <container>/<prefix>``.

A DLO manifest is an (often empty) object whose header names a container and
an object-name prefix.  GET/HEAD of it lists that container (all listing
pages) and serves the matching objects, concatenated in name order, with
``Content-Length`` = their total and ``ETag`` = quoted MD5 of their
concatenated ETags.  ``?multipart-manifest=get`` returns the manifest itself.
PUT checks the header's format.  The segment list is whatever the listing says
at GET time, so a DLO grows as segments are uploaded.
"""
from __future__ import annotations

import configparser
import hashlib
import json
from typing import Callable, Iterable, Iterator
from urllib.parse import unquote

from objstore.common.checks import name_error
from objstore.common.constraints import Constraints, load_constraints, wsgi_to_str
from objstore.common.http import Response, error_response
from objstore.common.paths import split_api_path, split_object_path
from objstore.common.wsgi import WSGIApp
from proxy.internal.segments import SegmentPart, fetch_object, large_object_response
from proxy.internal.subrequest import (
    call_app, make_env, proxy_logger, query_param)

SOURCE = "DLO"
MAX_LISTING_BYTES = 64 * 1024 * 1024


class ManifestError(ValueError):
    """The X-Object-Manifest value is not ``container/prefix``."""


def parse_manifest_header(value: str, max_container_name_length: int = Constraints.max_container_name_length
                          ) -> tuple[str, str]:
    """``container/prefix`` (a URL-quoted WSGI string) -> decoded (container, prefix)."""
    decoded = wsgi_to_str(unquote(value, encoding="latin-1"))
    container, sep, prefix = (decoded or "").partition("/")
    if decoded is None or not sep or not container or "?" in container:
        raise ManifestError("X-Object-Manifest must be in the format container/prefix")
    bad_name = name_error(container, "Container", max_container_name_length)
    if bad_name:
        raise ManifestError(f"X-Object-Manifest: {bad_name}")
    return container, prefix


class DynamicLargeObject:
    """The filter: header check on PUT, assembled GET/HEAD of manifests."""

    def __init__(self, app: WSGIApp,
                 max_container_name_length: int = Constraints.max_container_name_length) -> None:
        self.app = app
        self.max_container_name_length = max_container_name_length
        self.logger = proxy_logger()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if split_object_path(environ.get("PATH_INFO", "")) is None:
            return self.app(environ, start_response)
        if method == "PUT" and "HTTP_X_OBJECT_MANIFEST" in environ:
            try:
                parse_manifest_header(environ["HTTP_X_OBJECT_MANIFEST"], self.max_container_name_length)
            except ManifestError as err:
                return error_response(400, str(err))(environ, start_response)
            return self.app(environ, start_response)
        if method not in ("GET", "HEAD") or query_param(environ, "multipart-manifest") == "get":
            return self.app(environ, start_response)
        resp, is_manifest = fetch_object(self.app, environ,
                                         lambda r: r.header("x-object-manifest") is not None)
        if not is_manifest:
            return resp.forward(start_response)
        resp.close()
        return self.serve_manifest(environ, start_response, resp.headers,
                                   resp.header("x-object-manifest") or "")

    def serve_manifest(self, environ: dict, start_response: Callable,
                       manifest_headers: list[tuple[str, str]], value: str) -> Iterable[bytes]:
        account = wsgi_to_str(split_api_path(environ["PATH_INFO"]).account) or ""
        try:
            container, prefix = parse_manifest_header(value, self.max_container_name_length)
        except ManifestError as err:
            return error_response(409, f"bad manifest: {err}")(environ, start_response)
        segments: list[tuple[str, str, int]] = []
        for page in self._listing_pages(environ, account, container, prefix):
            if isinstance(page, Response):  # the listing failed
                return page(environ, start_response)
            segments.extend((entry["name"], entry["hash"], entry["bytes"]) for entry in page)
        etag = '"%s"' % hashlib.md5("".join(s[1] for s in segments).encode("ascii")).hexdigest()
        total = sum(s[2] for s in segments)

        def parts_for(first: int, last: int) -> Iterator[SegmentPart]:
            offset = 0
            for name, seg_etag, size in segments:
                start, end = max(first - offset, 0), min(last - offset, size - 1)
                if start <= end:
                    yield SegmentPart(f"/v1/{account}/{container}/{name}", start, end, seg_etag, size)
                offset += size
                if offset > last:
                    return

        return large_object_response(self.app, environ, start_response,
                                     manifest_headers=manifest_headers, total=total, etag=etag,
                                     parts_for=parts_for, source=SOURCE, logger=self.logger,
                                     multirange=False)

    def _listing_pages(self, environ: dict, account: str, container: str, prefix: str):
        """Yield listing pages (lists of dicts) until an empty one, or one
        error response if the listing fails."""
        marker = ""
        while True:
            query = {"format": "json", "prefix": prefix}
            if marker:
                query["marker"] = marker
            resp = call_app(self.app, make_env(environ, "GET", f"/v1/{account}/{container}",
                                               source=SOURCE, query=query))
            if resp.status_int == 404:
                resp.close()
                return
            if not resp.ok:
                resp.close()
                yield error_response(resp.status_int,
                                     f"Listing segment container {container} failed: {resp.status}")
                return
            try:
                page = json.loads(resp.read(MAX_LISTING_BYTES) or b"[]")
            except ValueError:
                page = None
            if not isinstance(page, list) or not all(isinstance(e, dict) for e in page):
                yield error_response(502, f"bad listing of segment container {container}")
                return
            page = [entry for entry in page if "subdir" not in entry]
            if not page:
                return
            if not all(isinstance(e.get("name"), str) and isinstance(e.get("hash"), str)
                       and type(e.get("bytes")) is int and e["bytes"] >= 0 for e in page):
                yield error_response(502, f"listing of {container} lacks name/hash/bytes")
                return
            if page[-1]["name"] <= marker:  # a listing that ignores the marker would never end
                yield error_response(502, f"listing of {container} does not advance past {marker!r}")
                return
            yield page
            marker = page[-1]["name"]


def filter_factory(conf: configparser.ConfigParser, options: dict | None = None
                   ) -> Callable[[WSGIApp], WSGIApp]:
    """Pipeline entry: ``[filter:dlo] use = proxy.middleware.dlo:filter_factory``."""
    max_length = (Constraints() if conf is None else load_constraints(conf)).max_container_name_length
    return lambda app: DynamicLargeObject(app, max_length)
