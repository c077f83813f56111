"""Static large objects: a JSON manifest listing exact segments.

``PUT ?multipart-manifest=put`` with ``[{"path": "/c/o", "etag": ..., "size_bytes": ...,
"range": "a-b"}, {"data": "<base64>"}, ...]`` checks every segment (HEAD, a few in parallel) and stores
the manifest marked ``X-Static-Large-Object: True``; its ETag is the MD5 of the
segments' ETags (plus ``:range;``).  GET/HEAD serve the concatenation (ranges,
nested manifests up to ``max_nesting`` levels); ``?multipart-manifest=get``
returns the stored manifest (``&format=raw``: the PUT form);
``DELETE ?multipart-manifest=delete`` deletes the segments, then the manifest.
"""
from __future__ import annotations

import base64
import binascii
import configparser
import hashlib
import io
import json
import mimetypes
import re
from typing import Callable, Iterable, Iterator

import eventlet

from objstore.common.checks import MAX_NUMBER, InputError, is_whole_number, load_json, name_error, parse_int
from objstore.common.config import config_true_value, get_int, section
from objstore.common.constraints import wsgi_to_str
from objstore.common.http import CHUNK_SIZE, TEXT_PLAIN, HTTPError, Response, error_response, header_dict
from objstore.common.paths import split_object_path, split_object_ref, split_path
from objstore.common.timestamp import Timestamp, parse_http_date
from objstore.common.wsgi import WSGIApp
from proxy.internal.segments import (
    MANIFEST_ONLY_HEADERS, SegmentError, SegmentPart, fetch_object, large_object_response,
    parse_range)
from proxy.internal.subrequest import (
    SubResponse, call_app, make_env, proxy_logger, query_param)

SOURCE = "SLO"
SYSMETA_ETAG = "X-Object-Sysmeta-Slo-Etag"
SYSMETA_SIZE = "X-Object-Sysmeta-Slo-Size"
PUT_KEYS = frozenset({"path", "etag", "size_bytes", "range"})
JSON_TYPE = "application/json; charset=utf-8"


def is_slo(resp: SubResponse) -> bool:
    return config_true_value(resp.header("x-static-large-object"))


def entry_span(entry: dict) -> tuple[int, int]:
    """(first, last) bytes of the segment object that a stored manifest entry uses."""
    if "data" in entry:
        return 0, len(base64.b64decode(entry["data"])) - 1
    if entry.get("range"):
        first, _, last = entry["range"].partition("-")
        return int(first), int(last)
    return 0, int(entry["bytes"]) - 1


def slo_etag(entries: list[dict]) -> str:
    """MD5 of the segments' ETags (``etag:range;`` for ranged segments, the data's
    MD5 for inline data segments), like Swift."""
    digest = hashlib.md5()
    for entry in entries:
        if "data" in entry:
            token = hashlib.md5(base64.b64decode(entry["data"])).hexdigest()
        elif entry.get("range"):
            token = f"{entry['hash']}:{entry['range']};"
        else:
            token = entry["hash"]
        digest.update(token.encode("ascii"))
    return digest.hexdigest()


def client_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A manifest's stored headers as clients see them: no SLO (or listing) sysmeta, and no
    ``swift_bytes`` parameter (it is for the container listing) in Content-Type."""
    out = []
    for name, value in headers:
        lower = name.lower()
        if lower.startswith(("x-object-sysmeta-slo-", "x-object-sysmeta-container-update-")):
            continue
        if lower == "content-type" and "swift_bytes=" in value:
            value = ";".join(p for p in value.split(";") if not p.strip().startswith("swift_bytes="))
        out.append((name, value))
    return out


def _override_params(environ: dict) -> str:
    """``; name=value`` parameters a middleware put on the listing etag override (S3's
    ``s3_etag``): kept beside ``slo_etag``, as Swift does."""
    given = environ.get("HTTP_X_OBJECT_SYSMETA_CONTAINER_UPDATE_OVERRIDE_ETAG", "")
    params = [p.strip() for p in given.split(";")[1:] if p.strip()]
    return "".join(f"; {p}" for p in params)


def _content_type(environ: dict, obj: str) -> str:
    given = environ.get("CONTENT_TYPE", "").strip()
    if given:
        return given
    return mimetypes.guess_type(obj)[0] or "application/octet-stream"


def slo_size(entries: list[dict]) -> int:
    return sum(last - first + 1 for first, last in map(entry_span, entries))


class StaticLargeObject:
    """The filter: manifest PUT validation, assembled GET/HEAD, manifest get/delete."""

    def __init__(self, app: WSGIApp, options: dict[str, str]) -> None:
        self.app = app
        self.logger = proxy_logger()
        self.max_manifest_segments = get_int(options, "max_manifest_segments", 1000)
        self.max_manifest_size = get_int(options, "max_manifest_size", 8 * 1024 * 1024)
        self.min_segment_size = get_int(options, "min_segment_size", 1)
        self.max_nesting = get_int(options, "max_nesting", 10)
        self.concurrency = max(1, get_int(options, "concurrency", 4))

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        target = split_object_path(environ.get("PATH_INFO", ""))
        if target is None:
            return self.app(environ, start_response)
        mode = query_param(environ, "multipart-manifest")
        if method == "PUT":
            if mode == "put":
                return self.handle_put(environ, start_response, target)
            if "HTTP_X_STATIC_LARGE_OBJECT" in environ:
                return error_response(400, "X-Static-Large-Object is a reserved header. To create a "
                                      "static large object add query param multipart-manifest=put."
                                      )(environ, start_response)
        elif method in ("GET", "HEAD"):
            if mode == "get":
                return self.handle_manifest_get(environ, start_response)
            return self.handle_get(environ, start_response, target)
        elif method == "DELETE" and mode == "delete":
            return self.handle_delete(environ, start_response, target)
        return self.app(environ, start_response)

    # ---- GET / HEAD -------------------------------------------------------------
    def handle_get(self, environ: dict, start_response: Callable, target) -> Iterable[bytes]:
        resp, manifest = fetch_object(self.app, environ, is_slo)
        if not manifest:
            return resp.forward(start_response)
        method = environ["REQUEST_METHOD"]
        part_number = query_param(environ, "part-number")
        if part_number is not None and not (is_whole_number(part_number) and int(part_number) > 0):
            resp.close()
            body = b"" if method == "HEAD" else b"Part number must be an integer greater than 0"
            return Response(400, {"content-type": TEXT_PLAIN}, body)(environ, start_response)
        headers = client_headers(resp.headers) + [("X-Manifest-Etag", resp.header("etag") or "")]
        etag, size = resp.header(SYSMETA_ETAG), resp.header(SYSMETA_SIZE)
        if method == "HEAD" and etag and is_whole_number(size) and part_number is None:
            resp.close()
            entries = None
        else:
            if method == "HEAD":  # the manifest body is needed after all
                resp.close()
                resp = self._get_manifest(environ, wsgi_to_str(environ["PATH_INFO"]) or "")
            try:
                entries = self._read_manifest(resp)
            except SegmentError as err:
                return error_response(409, str(err))(environ, start_response)
            etag, size = slo_etag(entries), str(slo_size(entries))
        if part_number is not None:
            environ, err = self._part_request(environ, start_response, headers, entries or [],
                                              int(part_number), f'"{etag}"', int(size))
            if err is not None:
                return err
        account = wsgi_to_str(target[0]) or ""

        def parts_for(first: int, last: int) -> Iterator[SegmentPart]:
            return self._parts(environ, account, entries or [], first, last, 0)

        return large_object_response(self.app, environ, start_response, manifest_headers=headers,
                                     total=int(size), etag=f'"{etag}"', parts_for=parts_for,
                                     source=SOURCE, logger=self.logger)

    @staticmethod
    def _part_request(environ: dict, start_response: Callable, headers: list[tuple[str, str]],
                      entries: list[dict], number: int, etag: str, size: int
                      ) -> tuple[dict, list[bytes] | None]:
        """``?part-number=N``: the request for the bytes of the manifest's N-th
        segment (adding ``X-Parts-Count`` to ``headers``), or the 416 answer."""
        headers.append(("X-Parts-Count", str(len(entries))))
        if number > len(entries):
            kept = [(k, v) for k, v in headers
                    if k.lower() not in MANIFEST_ONLY_HEADERS and k.lower() != "content-type"]
            head = environ["REQUEST_METHOD"] == "HEAD"
            body = b"" if head else b"The requested part number is not satisfiable"
            return environ, Response(416, {"content-type": TEXT_PLAIN, **header_dict(kept), "etag": etag,
                                           "content-range": f"bytes */{size}"},
                                     body)(environ, start_response)
        first = sum(last - start + 1 for start, last in map(entry_span, entries[:number - 1]))
        start, last = entry_span(entries[number - 1])
        return {**environ, "HTTP_RANGE": f"bytes={first}-{first + last - start}"}, None

    def _get_manifest(self, environ: dict, path: str) -> SubResponse:
        """GET the manifest object at ``path`` (decoded) itself."""
        return call_app(self.app, make_env(environ, "GET", path, source=SOURCE,
                                           query={"multipart-manifest": "get"}))

    def _read_manifest(self, resp: SubResponse) -> list[dict]:
        """The entries of a manifest GET response (read fully: it is small)."""
        if not resp.ok:
            resp.close()
            raise SegmentError(f"cannot read manifest: {resp.status}")
        try:
            entries = load_json(resp.read(self.max_manifest_size * 2), "manifest",
                                self.max_manifest_size * 2)
        except InputError as err:
            raise SegmentError(f"unreadable manifest ({err})") from None
        if not isinstance(entries, list) or not all(map(_is_stored_entry, entries)):
            raise SegmentError("manifest entries lack name/hash/bytes")
        return entries

    def _parts(self, environ: dict, account: str, entries: list[dict], first: int, last: int,
               depth: int) -> Iterator[SegmentPart]:
        """The leaf segment parts covering bytes first..last, expanding nested SLOs."""
        offset = 0
        for entry in entries:
            seg_first, seg_last = entry_span(entry)
            length = seg_last - seg_first + 1
            lo, hi = max(first - offset, 0), min(last - offset, length - 1)
            path = f"/v1/{account}{entry.get('name', '')}"
            if lo <= hi and "data" in entry:
                yield SegmentPart(path, lo, hi, data=base64.b64decode(entry["data"]))
            elif lo <= hi and entry.get("sub_slo"):
                if depth + 1 >= self.max_nesting:
                    raise SegmentError(f"max recursion depth exceeded at {path}")
                sub = self._load_sub_manifest(environ, path, entry["hash"])
                yield from self._parts(environ, account, sub, seg_first + lo, seg_first + hi, depth + 1)
            elif lo <= hi:
                yield SegmentPart(path, seg_first + lo, seg_first + hi, entry["hash"], int(entry["bytes"]))
            offset += length
            if offset > last:
                return

    def _load_sub_manifest(self, environ: dict, path: str, expected_etag: str) -> list[dict]:
        resp = self._get_manifest(environ, path)
        if not resp.ok or not is_slo(resp):
            resp.close()
            raise SegmentError(f"sub-manifest {path}: {resp.status}, not a static large object")
        entries = self._read_manifest(resp)
        if slo_etag(entries) != expected_etag:
            raise SegmentError(f"sub-manifest {path} changed since the manifest was written")
        return entries

    def handle_manifest_get(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """``?multipart-manifest=get``: the stored manifest as JSON; with
        ``&format=raw`` the PUT-able form under the object's own Content-Type
        (so a copy of it is the same kind of object), as Swift."""
        raw = query_param(environ, "format") == "raw"
        head = environ["REQUEST_METHOD"] == "HEAD"
        # a raw HEAD needs the manifest body for its length and ETag
        resp = call_app(self.app, {**environ, "REQUEST_METHOD": "GET"} if head and raw else environ)
        if not (resp.ok and is_slo(resp)):
            body = resp.forward(start_response, client_headers(resp.headers))
            if head and raw:
                resp.close()
                return []
            return body
        if head and not raw:
            headers = [(k, v) for k, v in client_headers(resp.headers) if k.lower() != "content-type"]
            return resp.forward(start_response, headers + [("Content-Type", JSON_TYPE)])
        try:
            entries = self._read_manifest(resp)
        except SegmentError as err:
            return error_response(409, str(err))(environ, start_response)
        if raw:
            entries = [e if "data" in e else
                       {"path": e["name"], "etag": e["hash"], "size_bytes": int(e["bytes"]),
                        **({"range": e["range"]} if e.get("range") else {})} for e in entries]
        body = json.dumps(entries, sort_keys=raw).encode("utf-8")
        kept = client_headers(resp.headers)
        content_type = next((v for k, v in kept if k.lower() == "content-type"), JSON_TYPE)
        headers = header_dict((k, v) for k, v in kept
                              if k.lower() not in ("content-length", "content-type", "etag"))
        headers.update({"content-type": content_type if raw else JSON_TYPE,
                        "etag": hashlib.md5(body).hexdigest()})
        return Response(200, headers, body)(environ, start_response)

    # ---- PUT ----------------------------------------------------------------------
    def handle_put(self, environ: dict, start_response: Callable, target) -> Iterable[bytes]:
        account, container, obj = (wsgi_to_str(p) or "" for p in target)
        try:
            segments = self._parse_put_body(environ)
            entries, problems = self._check_segments(environ, account, f"/{container}/{obj}", segments)
        except HTTPError as err:
            return err.response(environ, start_response)
        if problems:
            return self._error_listing(environ, start_response, problems)
        etag, size = slo_etag(entries), slo_size(entries)
        client_etag = (environ.get("HTTP_ETAG") or "").strip('"')
        if client_etag and client_etag != etag:
            return error_response(422, f"Manifest ETag {etag} does not match the ETag header "
                                  f"{client_etag}")(environ, start_response)
        body = json.dumps(entries).encode("utf-8")
        body_etag = hashlib.md5(body).hexdigest()
        env = {k: v for k, v in environ.items()
               if k not in ("HTTP_ETAG", "HTTP_TRANSFER_ENCODING", "CONTENT_LENGTH", "QUERY_STRING")}
        env.update({"QUERY_STRING": "", "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
                    "HTTP_X_STATIC_LARGE_OBJECT": "True", "HTTP_ETAG": body_etag,
                    # listings show both ETags: "hash" and "slo_etag", as in Swift
                    "HTTP_X_OBJECT_SYSMETA_CONTAINER_UPDATE_OVERRIDE_ETAG":
                        f"{body_etag}; slo_etag={etag}" + _override_params(environ),
                    # the container listing shows the total size, as in Swift
                    "CONTENT_TYPE": f"{_content_type(environ, obj)};swift_bytes={size}",
                    "HTTP_X_OBJECT_SYSMETA_SLO_ETAG": etag, "HTTP_X_OBJECT_SYSMETA_SLO_SIZE": str(size)})
        resp = call_app(self.app, env)
        if not resp.ok:
            return resp.forward(start_response)
        headers = [(k, v) for k, v in resp.headers if k.lower() != "etag"] + [("Etag", f'"{etag}"')]
        return resp.forward(start_response, headers)

    def _parse_put_body(self, environ: dict) -> list[dict]:
        declared = environ.get("CONTENT_LENGTH") or None
        try:
            length = None if declared is None else parse_int(declared, "Content-Length")
        except InputError as err:
            raise HTTPError(400, str(err)) from None
        if length is not None and length > self.max_manifest_size:
            raise HTTPError(413,
                            f"Manifest File > {self.max_manifest_size} bytes")
        raw = _read_limited(environ["wsgi.input"], self.max_manifest_size, length)
        if raw is None:
            raise HTTPError(413,
                            f"Manifest File > {self.max_manifest_size} bytes")
        try:
            segments = load_json(raw, "Manifest", self.max_manifest_size)
        except InputError as err:
            raise HTTPError(400, f"Manifest must be valid JSON. ({err})") from None
        if not isinstance(segments, list):
            raise HTTPError(400, "Manifest must be a list.")
        if not segments:
            raise HTTPError(400, "Manifest must have at least one segment.")
        if len(segments) > self.max_manifest_segments:
            raise HTTPError(413,
                            f"Number of segments must be <= {self.max_manifest_segments}")
        for index, seg in enumerate(segments):
            if not isinstance(seg, dict):
                raise HTTPError(400, f"Index {index}: not a JSON object")
            if "data" in seg:
                _check_data_segment(seg, index)
                continue
            extra = set(seg) - PUT_KEYS
            if extra:
                raise HTTPError(400, f"Index {index}: extraneous keys "
                                      + ", ".join(f'"{k}"' for k in sorted(extra)))
            path = seg.get("path")
            names = split_object_ref(path) if isinstance(path, str) else None
            if names is None:
                raise HTTPError(400,
                                f"Index {index}: path does not refer to an object. Path must "
                                      "be of the form /container/object.")
            bad_name = _segment_names_error(*names)
            if bad_name:
                raise HTTPError(400, f"Index {index}: {bad_name}")
            size = seg.get("size_bytes")
            if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
                raise HTTPError(400,
                                f"Index {index}: size_bytes must be an integer")
            if seg.get("etag") is not None and not isinstance(seg["etag"], str):
                raise HTTPError(400, f"Index {index}: etag must be a string")
            if seg.get("range") is not None and not isinstance(seg["range"], str):
                raise HTTPError(400, f"Index {index}: range must be a string")
        return segments

    def _check_segments(self, environ: dict, account: str, own_path: str,
                        segments: list[dict]) -> tuple[list[dict], list[tuple[str, str]]]:
        """HEAD every segment; the stored entries and the (path, problem) list."""
        def head(seg: dict) -> SubResponse | None:
            if "data" in seg:
                return None
            path = "/" + seg["path"].lstrip("/")
            resp = call_app(self, make_env(environ, "HEAD", f"/v1/{account}{path}", source=SOURCE))
            resp.close()
            return resp

        pool = eventlet.GreenPool(self.concurrency)
        entries, problems = [], []
        last_index = len(segments) - 1
        for index, (seg, resp) in enumerate(zip(segments, pool.imap(head, segments))):
            if resp is None:
                entries.append({"data": seg["data"]})
                continue
            path = "/" + seg["path"].lstrip("/")
            entry, problem = self._segment_entry(seg, path, resp, index == last_index)
            if path == own_path:
                problem = "Segment cannot be the manifest itself"
            if problem:
                problems.append((path, problem))
            else:
                entries.append(entry)
        return entries, problems

    def _segment_entry(self, seg: dict, path: str, resp: SubResponse,
                       is_last: bool) -> tuple[dict, str | None]:
        if resp.status_int == 404:
            return {}, "404 Not Found"
        if not resp.ok:
            return {}, resp.status
        size = int(resp.header("content-length") or 0)
        etag = (resp.header("etag") or "").strip('"')
        if seg.get("size_bytes") is not None and seg["size_bytes"] != size:
            return {}, "Size Mismatch"
        if seg.get("etag") and seg["etag"].strip('"') != etag:
            return {}, "Etag Mismatch"
        entry = {"name": path, "bytes": size, "hash": etag,
                 "content_type": resp.header("content-type") or "application/octet-stream",
                 "last_modified": _iso_time(resp.header("x-timestamp"), resp.header("last-modified"))}
        if is_slo(resp):
            entry["sub_slo"] = True
        length = size
        if seg.get("range"):
            ranges = parse_range("bytes=" + seg["range"], size)
            if ranges is None:
                return {}, "Invalid Range"
            if not ranges:
                return {}, "Unsatisfiable Range"
            if len(ranges) > 1:
                return {}, "Multiple Ranges"
            first, last = ranges[0]
            if (first, last) != (0, size - 1):
                entry["range"] = f"{first}-{last}"
            length = last - first + 1
        if length < 1 or (length < self.min_segment_size and not is_last):
            return {}, f"Too small; each segment must be at least {self.min_segment_size} byte" + \
                ("s." if self.min_segment_size > 1 else ".")
        return entry, None

    def _error_listing(self, environ: dict, start_response: Callable,
                       problems: list[tuple[str, str]]) -> Iterable[bytes]:
        if "application/json" in environ.get("HTTP_ACCEPT", ""):
            body = json.dumps({"Errors": [list(p) for p in problems]})
            return error_response(400, body, {"content-type": JSON_TYPE},
                                  newline=False)(environ, start_response)
        body = "Errors:\n" + "".join(f"{path}, {problem}\n" for path, problem in problems)
        return error_response(400, body, newline=False)(environ, start_response)

    # ---- DELETE -------------------------------------------------------------------
    def handle_delete(self, environ: dict, start_response: Callable, target) -> Iterable[bytes]:
        account = wsgi_to_str(target[0]) or ""
        path = wsgi_to_str(environ["PATH_INFO"]) or ""
        resp = self._get_manifest(environ, path)
        if resp.ok and not is_slo(resp):
            resp.close()
            return self.app(environ, start_response)
        summary = {"Number Deleted": 0, "Number Not Found": 0, "Errors": []}
        if resp.status_int == 404:
            resp.close()
            summary["Number Not Found"] = 1
        elif not resp.ok:
            resp.close()
            summary["Errors"].append([_in_account(path), resp.status])
        else:
            try:
                paths = list(self._delete_order(environ, account, self._read_manifest(resp), 0))
            except SegmentError as err:
                paths = []
                summary["Errors"].append([_in_account(path), str(err)])
            if not summary["Errors"]:
                self._delete_all(environ, paths, summary)
            if not summary["Errors"]:
                self._delete_all(environ, [path], summary)
        return self._delete_summary(environ, start_response, summary)

    def _delete_order(self, environ: dict, account: str, entries: list[dict], depth: int) -> Iterator[str]:
        """Segment paths to delete, nested manifests' segments before the manifests."""
        for entry in entries:
            if "data" in entry:
                continue
            path = f"/v1/{account}{entry['name']}"
            if entry.get("sub_slo"):
                if depth + 1 >= self.max_nesting:
                    raise SegmentError(f"max recursion depth exceeded at {path}")
                sub = self._get_manifest(environ, path)
                if sub.ok and is_slo(sub):
                    yield from self._delete_order(environ, account, self._read_manifest(sub), depth + 1)
                else:
                    sub.close()
            yield path

    def _delete_all(self, environ: dict, paths: list[str], summary: dict) -> None:
        def delete(path: str) -> tuple[str, SubResponse]:
            resp = call_app(self.app, make_env(environ, "DELETE", path, source=SOURCE))
            resp.close()
            return path, resp

        for path, resp in eventlet.GreenPool(self.concurrency).imap(delete, paths):
            if resp.ok:
                summary["Number Deleted"] += 1
            elif resp.status_int == 404:
                summary["Number Not Found"] += 1
            else:
                summary["Errors"].append([_in_account(path), resp.status])

    def _delete_summary(self, environ: dict, start_response: Callable, summary: dict) -> Iterable[bytes]:
        status = "400 Bad Request" if summary["Errors"] else "200 OK"
        if all(e[1].startswith("401") for e in summary["Errors"]) and summary["Errors"]:
            status = "401 Unauthorized"
        result = {**summary, "Response Status": status, "Response Body": ""}
        if "application/json" in environ.get("HTTP_ACCEPT", ""):
            return Response(200, {"content-type": JSON_TYPE},
                            json.dumps(result).encode("utf-8"))(environ, start_response)
        body = (f"Number Deleted: {result['Number Deleted']}\n"
                f"Number Not Found: {result['Number Not Found']}\n"
                f"Response Body: \nResponse Status: {status}\nErrors:\n"
                + "".join(f"{p}, {s}\n" for p, s in result["Errors"]))
        return Response(200, {"content-type": TEXT_PLAIN}, body.encode("utf-8"))(environ, start_response)


def _segment_names_error(container: str, obj: str) -> str | None:
    """Why a manifest's ``/container/object`` names no valid segment: no
    ``..`` container, no NUL, no lone surrogate (JSON can spell ``\\ud800``,
    which no UTF-8 path can carry).  Lengths are the segment HEAD's to check,
    against the configured limits."""
    return name_error(container, "Container", MAX_NUMBER) or name_error(obj, "Object", MAX_NUMBER)


_STORED_RANGE = re.compile(r"[0-9]{1,19}-[0-9]{1,19}", re.ASCII)


def _is_stored_entry(entry: object) -> bool:
    """Whether a stored manifest entry (written by ``handle_put``, read back from
    a storage node that may be corrupt) has the shape the GET path relies on."""
    if not isinstance(entry, dict):
        return False
    if "data" in entry:
        try:
            return isinstance(entry["data"], str) and bool(base64.b64decode(entry["data"], validate=True))
        except (binascii.Error, ValueError):
            return False
    size, byte_range = entry.get("bytes"), entry.get("range")
    return (isinstance(entry.get("name"), str) and isinstance(entry.get("hash"), str)
            and type(size) is int and 0 <= size <= MAX_NUMBER
            and (not byte_range or (isinstance(byte_range, str) and _STORED_RANGE.fullmatch(byte_range)
                                    is not None and _range_fits(byte_range, size))))


def _range_fits(byte_range: str, size: int) -> bool:
    first, _, last = byte_range.partition("-")
    return int(first) <= int(last) < size


def _check_data_segment(seg: dict, index: int) -> None:
    """An inline ``{"data": "<base64>"}`` segment: alone in its entry, non-empty."""
    if set(seg) != {"data"}:
        raise HTTPError(400, f"Index {index}: a data segment has only a \"data\" key")
    try:
        raw = base64.b64decode(seg["data"], validate=True) if isinstance(seg["data"], str) else b""
    except (binascii.Error, ValueError):
        raw = b""
    if not raw:
        raise HTTPError(400, f"Index {index}: data must be non-empty base64")


def _in_account(path: str) -> str:
    """``/v1/<account>/c/o`` -> ``/c/o``, the form bulk-delete summaries use."""
    try:
        return "/" + split_path(path, 3, 3, rest_with_last=True)[2]
    except ValueError:
        return path


def _iso_time(timestamp: str | None, http_date: str | None) -> str:
    """A segment's modification time as listings show it, from its X-Timestamp
    (5 decimals) or else its Last-Modified (seconds), via Timestamp.isoformat."""
    when = timestamp or parse_http_date(http_date)
    if when is None:
        return ""
    try:
        return Timestamp(when).isoformat
    except (TypeError, ValueError):
        return ""


def _read_limited(stream, limit: int, declared: int | None) -> bytes | None:
    """Read a request body of at most ``limit`` bytes; None if it is longer."""
    chunks, size = [], 0
    while declared is None or size < declared:
        chunk = stream.read(min(CHUNK_SIZE, declared - size) if declared is not None else CHUNK_SIZE)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def filter_factory(conf: configparser.ConfigParser, options: dict | None = None
                   ) -> Callable[[WSGIApp], WSGIApp]:
    """Pipeline entry: ``[filter:slo] use = proxy.middleware.slo:filter_factory``."""
    settings = {**(section(conf, "filter:slo") if conf is not None else {}), **(options or {})}
    _register_info(StaticLargeObject(None, settings))
    return lambda app: StaticLargeObject(app, settings)


def _register_info(slo: StaticLargeObject) -> None:
    try:
        from proxy.info import register_capability  # the proxy's /info registry
    except ImportError:
        return
    register_capability("slo", {"max_manifest_segments": slo.max_manifest_segments,
                                "max_manifest_size": slo.max_manifest_size,
                                "min_segment_size": slo.min_segment_size})
