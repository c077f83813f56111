"""An in-memory stand-in for the proxy app, to unit test middleware without daemons.

``FakeSwift`` answers ``/v1/<account>[/<container>[/<object>]]`` (and ``/v1.0/``) like the Swift
v1 API: container PUT/POST/HEAD/GET/DELETE with JSON/plain listings (prefix,
delimiter, marker, end_marker, limit, reverse), object PUT/POST/HEAD/GET/DELETE
with ETags, stored metadata and single Range requests.  Like the real proxy it
calls ``environ['swift.authorize']`` with ``req.acl`` set to the container's
read or write ACL.  Every request is recorded in ``calls`` for assertions.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Callable

from webob import Request, Response

from objstore.common.config import config_true_value
from objstore.common.constraints import wsgi_to_str
from objstore.common.http import CHUNK_SIZE
from objstore.common.paths import split_api_path
from proxy.internal.segments import parse_range

OBJECT_HEADER_PREFIXES = ("x-object-meta-", "x-object-sysmeta-", "x-object-transient-sysmeta-")
STORED_OBJECT_HEADERS = ("content-type", "content-encoding", "content-disposition",
                         "x-static-large-object", "x-object-manifest", "x-delete-at")
CONTAINER_HEADER_PREFIXES = ("x-container-meta-", "x-container-sysmeta-")
ACCOUNT_HEADER_PREFIXES = ("x-account-meta-", "x-account-sysmeta-")
CONTAINER_ACL_HEADERS = ("x-container-read", "x-container-write")
_clock = itertools.count(1)


def _timestamp() -> float:
    # strictly increasing so that "last write wins" is deterministic in tests
    return round(time.time(), 5) + next(_clock) * 1e-5


@dataclass
class FakeObject:
    data: bytes
    headers: dict[str, str]  # lower-case names
    timestamp: float
    etag: str = ""

    def __post_init__(self) -> None:
        self.etag = self.etag or hashlib.md5(self.data).hexdigest()


@dataclass
class FakeContainer:
    headers: dict[str, str] = field(default_factory=dict)
    objects: dict[str, FakeObject] = field(default_factory=dict)


@dataclass
class Call:
    method: str
    path: str          # decoded (UTF-8) path
    query: str
    headers: dict[str, str]
    environ: dict


class FakeSwift:
    def __init__(self, listing_limit: int = 10000) -> None:
        self.listing_limit = listing_limit
        self.accounts: dict[str, dict[str, FakeContainer]] = {}
        self.account_headers: dict[str, dict[str, str]] = {}
        self.calls: list[Call] = []

    # ---- helpers for tests -------------------------------------------------------
    @classmethod
    def with_containers(cls, account: str, *containers: str) -> "FakeSwift":
        fake = cls()
        for container in containers:
            fake.put_container(account, container)
        return fake

    def put_container(self, account: str, container: str, **headers: str) -> None:
        cont = self.accounts.setdefault(account, {}).setdefault(container, FakeContainer())
        cont.headers.update({k.lower().replace("_", "-"): v for k, v in headers.items()})

    def put_object(self, account: str, container: str, name: str, data: bytes,
                   headers: dict[str, str] | None = None) -> str:
        self.put_container(account, container)
        hdrs = {"content-type": "application/octet-stream", **{k.lower(): v for k, v in (headers or {}).items()}}
        obj = FakeObject(data, hdrs, _timestamp())
        self.accounts[account][container].objects[name] = obj
        return obj.etag

    def get_object(self, account: str, container: str, name: str) -> FakeObject | None:
        return self.accounts.get(account, {}).get(container, FakeContainer()).objects.get(name)

    def paths(self, method: str | None = None) -> list[str]:
        return [c.path for c in self.calls if method is None or c.method == method]

    # ---- WSGI ------------------------------------------------------------------------
    def __call__(self, environ: dict, start_response):
        req = Request(environ)
        path = wsgi_to_str(environ.get("PATH_INFO", "")) or ""
        self.calls.append(Call(req.method, path, environ.get("QUERY_STRING", ""),
                               dict(req.headers), environ))
        api = split_api_path(path)
        if api is None:
            return _respond(start_response, req, "404 Not Found", b"Not Found")
        account, container, obj = api.account, api.container or "", api.obj or ""
        denial = self._authorize(req, account, container, obj)
        if denial is not None:
            return denial(environ, start_response)
        if obj:
            handler = self._object
        elif container:
            handler = self._container
        else:
            handler = self._account
        return handler(req, start_response, account, container, obj)

    def _authorize(self, req: Request, account: str, container: str, obj: str):
        authorize = req.environ.get("swift.authorize")
        if authorize is None or req.environ.get("swift.authorize_override"):
            return None
        cont = self.accounts.get(account, {}).get(container)
        if cont is not None and container:
            if req.method in ("GET", "HEAD"):
                req.acl = cont.headers.get("x-container-read")
            elif obj:
                req.acl = cont.headers.get("x-container-write")
        return authorize(req)

    def _account(self, req, start_response, account, container, obj):
        containers = self.accounts.setdefault(account, {})
        stored = self.account_headers.setdefault(account, {})
        if req.method in ("HEAD", "GET"):
            names = sorted(containers)
            body = "".join(n + "\n" for n in names).encode("utf-8") if req.method == "GET" else b""
            headers = {k.title(): v for k, v in stored.items()}
            headers["X-Account-Container-Count"] = str(len(names))
            return _respond(start_response, req, "200 OK" if names else "204 No Content", body, headers)
        if req.method in ("PUT", "POST"):
            for name, value in req.headers.items():
                if name.lower().startswith(ACCOUNT_HEADER_PREFIXES):
                    if value:
                        stored[name.lower()] = value
                    else:
                        stored.pop(name.lower(), None)
            return _respond(start_response, req, "204 No Content" if req.method == "POST" else "201 Created", b"")
        return _respond(start_response, req, "405 Method Not Allowed", b"")

    def _container(self, req, start_response, account, container, obj):
        containers = self.accounts.setdefault(account, {})
        cont = containers.get(container)
        if req.method in ("PUT", "POST"):
            if cont is None and req.method == "POST":
                return _respond(start_response, req, "404 Not Found", b"Not Found")
            created = cont is None
            cont = containers.setdefault(container, FakeContainer())
            for name, value in req.headers.items():
                low = name.lower()
                if low.startswith(CONTAINER_HEADER_PREFIXES) or low in CONTAINER_ACL_HEADERS:
                    cont.headers[low] = value
            status = "204 No Content" if req.method == "POST" else (
                "201 Created" if created else "202 Accepted")
            return _respond(start_response, req, status, b"")
        if cont is None:
            return _respond(start_response, req, "404 Not Found", b"Not Found")
        if req.method == "DELETE":
            if cont.objects:
                return _respond(start_response, req, "409 Conflict", b"Container not empty")
            del containers[container]
            return _respond(start_response, req, "204 No Content", b"")
        if req.method not in ("GET", "HEAD"):
            return _respond(start_response, req, "405 Method Not Allowed", b"")
        headers = {name.title(): value for name, value in cont.headers.items()}
        headers["X-Container-Object-Count"] = str(len(cont.objects))
        headers["X-Container-Bytes-Used"] = str(sum(len(o.data) for o in cont.objects.values()))
        entries = self._listing(cont, req.GET)
        fmt = req.GET.get("format") or ("json" if "json" in req.headers.get("Accept", "") else "plain")
        if fmt == "json":
            body = json.dumps(entries).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
            status = "200 OK"
        else:
            body = "".join((e.get("name") or e["subdir"]) + "\n" for e in entries).encode("utf-8")
            headers["Content-Type"] = "text/plain; charset=utf-8"
            status = "200 OK" if body else "204 No Content"
        return _respond(start_response, req, status, body if req.method == "GET" else b"", headers,
                        content_length=len(body))

    def _listing(self, cont: FakeContainer, params) -> list[dict]:
        prefix = params.get("prefix", "")
        marker = params.get("marker", "")
        end_marker = params.get("end_marker", "")
        delimiter = params.get("delimiter", "")
        limit = min(int(params.get("limit", self.listing_limit)), self.listing_limit)
        names = sorted(cont.objects, reverse=config_true_value(params.get("reverse")))
        entries: list[dict] = []
        for name in names:
            if not name.startswith(prefix):
                continue
            if marker and (name >= marker if params.get("reverse") else name <= marker):
                continue
            if end_marker and (name <= end_marker if params.get("reverse") else name >= end_marker):
                continue
            if delimiter:
                cut = name.find(delimiter, len(prefix))
                if cut >= 0:
                    subdir = name[:cut + len(delimiter)]
                    # as Swift: a subdir that is the marker was on the previous page
                    if subdir != marker and (not entries or entries[-1].get("subdir") != subdir):
                        entries.append({"subdir": subdir})
                    continue
            obj = cont.objects[name]
            entries.append({"name": name, "hash": obj.etag, "bytes": len(obj.data),
                            "content_type": obj.headers.get("content-type", ""),
                            "last_modified": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(obj.timestamp))
                            + ".%06d" % int((obj.timestamp % 1) * 1e6)})
            if len(entries) >= limit:
                break
        return entries[:limit]

    def _object(self, req, start_response, account, container, obj):
        cont = self.accounts.setdefault(account, {}).get(container)
        if cont is None:
            return _respond(start_response, req, "404 Not Found", b"Container Not Found")
        if req.method == "PUT":
            return self._put_object(req, start_response, cont, obj)
        stored = cont.objects.get(obj)
        if stored is None:
            return _respond(start_response, req, "404 Not Found", b"Not Found")
        if req.method == "DELETE":
            del cont.objects[obj]
            return _respond(start_response, req, "204 No Content", b"")
        if req.method == "POST":
            kept = {k: v for k, v in stored.headers.items()
                    if not k.startswith(("x-object-meta-", "x-object-transient-sysmeta-"))}
            kept.update({k.lower(): v for k, v in req.headers.items()
                         if k.lower().startswith(("x-object-meta-", "x-object-transient-sysmeta-"))})
            stored.headers = kept
            return _respond(start_response, req, "202 Accepted", b"")
        if req.method not in ("GET", "HEAD"):
            return _respond(start_response, req, "405 Method Not Allowed", b"")
        return self._get_object(req, start_response, stored)

    def _put_object(self, req, start_response, cont, name):
        data = _read_body(req.environ)
        etag = hashlib.md5(data).hexdigest()
        expected = req.headers.get("ETag", "").strip('"')
        if expected and expected != etag:
            return _respond(start_response, req, "422 Unprocessable Entity", b"ETag mismatch")
        headers = {"content-type": req.headers.get("Content-Type", "application/octet-stream")}
        for key, value in req.headers.items():
            low = key.lower()
            if low.startswith(OBJECT_HEADER_PREFIXES) or low in STORED_OBJECT_HEADERS:
                headers[low] = value
        cont.objects[name] = FakeObject(data, headers, _timestamp(), etag)
        return _respond(start_response, req, "201 Created", b"", {"ETag": etag})

    def _get_object(self, req, start_response, stored: FakeObject):
        headers = {key.title(): value for key, value in stored.headers.items()}
        headers.update({"ETag": stored.etag, "X-Timestamp": "%.5f" % stored.timestamp,
                        "Last-Modified": formatdate(stored.timestamp, usegmt=True),
                        "Accept-Ranges": "bytes"})
        data = stored.data
        status = "200 OK"
        if_match = req.headers.get("If-Match")
        if if_match and if_match != "*" and stored.etag not in if_match:
            return _respond(start_response, req, "412 Precondition Failed", b"", headers)
        if_none_match = req.headers.get("If-None-Match")
        if if_none_match and (if_none_match == "*" or stored.etag in if_none_match):
            return _respond(start_response, req, "304 Not Modified", b"", headers)
        if req.headers.get("Range"):
            ranges = parse_range(req.headers["Range"], len(data))
            if ranges == []:
                headers["Content-Range"] = f"bytes */{len(data)}"
                return _respond(start_response, req, "416 Requested Range Not Satisfiable",
                                b"Requested Range Not Satisfiable", headers)
            if ranges is not None and len(ranges) == 1:
                start, end = ranges[0]
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                data = data[start:end + 1]
                status = "206 Partial Content"
        return _respond(start_response, req, status, b"" if req.method == "HEAD" else data, headers,
                        content_length=len(data))


def pattern(seed: int, size: int) -> bytes:
    """Deterministic bytes that differ per seed, so a misplaced segment shows."""
    return bytes((seed * 7 + j) % 251 for j in range(size))


def req(app: Callable, path: str, method: str = "GET", body: bytes | None = None,
        **headers: str) -> Response:
    """One request through a middleware over FakeSwift (Request.blank: even
    without a body the request says Content-Length: 0)."""
    return Request.blank(path, method=method, body=body, headers=headers).get_response(app)


def _read_body(environ: dict) -> bytes:
    stream = environ["wsgi.input"]
    if environ.get("CONTENT_LENGTH"):
        return stream.read(int(environ["CONTENT_LENGTH"]))
    chunks = []
    while True:
        chunk = stream.read(CHUNK_SIZE)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _respond(start_response, req, status: str, body: bytes, headers: dict | None = None,
             content_length: int | None = None):
    out = dict(headers or {})
    out.setdefault("Content-Type", "text/plain; charset=utf-8")
    out["Content-Length"] = str(len(body) if content_length is None else content_length)
    if req.method == "HEAD":
        body = b""
    start_response(status, list(out.items()))
    return [body[i:i + CHUNK_SIZE] for i in range(0, len(body), CHUNK_SIZE)] or [b""]
