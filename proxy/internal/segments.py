"""Streaming a large object's segments to the client; shared by SLO and DLO.

Both kinds of manifest resolve to a sequence of ``SegmentPart`` (a byte range
of one segment object).  ``large_object_response`` turns that into a 200, 206
(single range), multipart/byteranges (several ranges), 416, 304 or 412 answer
and streams the segments with sub-GETs through the rest of the pipeline, one
chunk at a time.  Each segment is checked against what the manifest expects
(ETag, size, byte count); a mismatch before the first byte is a 409, after it
the stream stops (logged) so the client sees a truncated body, never wrong bytes.
"""
from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import eventlet
from eventlet.greenthread import GreenThread

from proxy.internal.subrequest import SubResponse, call_app, make_env
from objstore.common import ranges as http_ranges
from objstore.common.checks import is_whole_number
from objstore.common.conditional import ENVIRON_KEYS, evaluate
from objstore.common.timestamp import parse_http_date
from objstore.common.http import TEXT_PLAIN, Response, error_response, header_dict
from objstore.common.wsgi import WSGIApp

# headers of the manifest object that must not describe the assembled object
MANIFEST_ONLY_HEADERS = frozenset({"content-length", "etag", "content-range", "accept-ranges",
                                   "transfer-encoding"})


class SegmentError(Exception):
    """A segment is missing or is not what the manifest says."""


@dataclass(frozen=True)
class SegmentPart:
    path: str                 # decoded "/v1/<account>/<container>/<object>"
    first: int                # first byte wanted, within the segment object
    last: int                 # last byte wanted (inclusive); first > last means nothing
    etag: str | None = None   # expected ETag of the segment object, if known
    size: int | None = None   # expected size of the segment object, if known
    data: bytes | None = None  # inline bytes (SLO data segment): no object to fetch

    @property
    def length(self) -> int:
        return max(0, self.last - self.first + 1)


def parse_range(value: str | None, size: int) -> list[tuple[int, int]] | None:
    """Satisfiable (first, last) ranges of a ``Range`` header; [] when none is
    satisfiable; None when absent or malformed (the header is then ignored).
    The inclusive form of ``objstore.common.ranges.parse_range``."""
    try:
        spans = http_ranges.parse_range(value, size)
    except http_ranges.Unsatisfiable:
        return []
    return None if spans is None else [(start, stop - 1) for start, stop in spans]


def stream_segments(app: WSGIApp, environ: dict, parts: Iterable[SegmentPart], *,
                    source: str, logger: logging.Logger) -> Iterator[bytes]:
    """Yield the bytes of ``parts`` in order; raise SegmentError on any mismatch."""
    with contextlib.closing(_fetch_ahead(app, environ, parts, source)) as fetches:
        yield from _stream_fetched(fetches, environ, logger)


def _stream_fetched(fetches: Iterator[tuple[SegmentPart, SubResponse | None]], environ: dict,
                    logger: logging.Logger) -> Iterator[bytes]:
    for part, resp in fetches:
        if resp is None:
            yield part.data[part.first:part.last + 1]
            continue
        try:
            skip = _check_segment(resp, part)
            remaining = part.length
            for chunk in resp:
                if skip:
                    dropped = min(skip, len(chunk))
                    chunk, skip = chunk[dropped:], skip - dropped
                if len(chunk) > remaining:
                    chunk = chunk[:remaining]
                if chunk:
                    remaining -= len(chunk)
                    yield chunk
                if not remaining:
                    break
            if remaining:
                raise SegmentError(f"segment {part.path} ended {remaining} bytes early")
        except SegmentError as err:
            logger.error("large object %s: %s", environ.get("PATH_INFO"), err)
            raise
        finally:
            resp.close()


def _fetch_ahead(app: WSGIApp, environ: dict, parts: Iterable[SegmentPart], source: str
                 ) -> Iterator[tuple[SegmentPart, SubResponse | None]]:
    """Each non-empty part with its GET response (None for inline data).  The
    next segment's request is already under way while one is being streamed,
    which hides the per-segment connection latency."""
    pending: tuple[SegmentPart, GreenThread | None] | None = None
    try:
        for part in parts:
            if part.length <= 0:
                continue
            started = (part, None if part.data is not None else
                       eventlet.spawn(_get_segment, app, environ, part, source))
            if pending is not None:
                current, pending = pending, started
                yield current[0], (None if current[1] is None else current[1].wait())
            else:
                pending = started
        if pending is not None:
            current, pending = pending, None
            yield current[0], (None if current[1] is None else current[1].wait())
    finally:
        if pending is not None and pending[1] is not None:
            _discard(pending[1])


def _discard(fetch: GreenThread) -> None:
    """Close a prefetched segment response that is not needed after all (the
    client left or an earlier segment failed); its own failure no longer matters."""
    try:
        fetch.wait().close()
    except Exception:  # noqa: BLE001 - nothing to report to anyone
        pass


def _get_segment(app: WSGIApp, environ: dict, part: SegmentPart, source: str) -> SubResponse:
    whole = part.first == 0 and part.size is not None and part.last == part.size - 1
    headers = {} if whole else {"Range": f"bytes={part.first}-{part.last}"}
    return call_app(app, make_env(environ, "GET", part.path, source=source, headers=headers,
                                  query={"multipart-manifest": "get"}))


def _check_segment(resp: SubResponse, part: SegmentPart) -> int:
    """Validate a segment response; return how many leading bytes to skip."""
    if resp.status_int not in (200, 206):
        raise SegmentError(f"got {resp.status} fetching segment {part.path}")
    etag = (resp.header("etag") or "").strip('"')
    if part.etag and etag != part.etag:
        raise SegmentError(f"segment {part.path} ETag {etag} does not match manifest {part.etag}")
    if resp.status_int == 206:
        content_range = resp.header("content-range") or ""
        spec, _, total = content_range.partition(" ")[2].partition("/")
        if spec.partition("-")[0] != str(part.first):
            raise SegmentError(f"segment {part.path} answered the wrong range {content_range!r}")
        skip = 0
    else:
        total = resp.header("content-length") or ""
        skip = part.first
    if part.size is not None and is_whole_number(total) and int(total) != part.size:
        raise SegmentError(f"segment {part.path} is {total} bytes, manifest says {part.size}")
    return skip


class PrimedBody:
    """The body of a large object GET: the first chunk (already fetched, so the
    first segment is known good before the status is sent) then the rest."""

    def __init__(self, first: bytes, rest: Iterator[bytes]) -> None:
        self.first = first
        self.rest = rest

    def __iter__(self) -> Iterator[bytes]:
        if self.first:
            yield self.first
        yield from self.rest

    def close(self) -> None:
        close = getattr(self.rest, "close", None)
        if close:
            close()


def fetch_object(app: WSGIApp, environ: dict, is_manifest: Callable[[SubResponse], bool]
                 ) -> tuple[SubResponse, bool]:
    """Send the client's GET/HEAD on; if the object is a manifest, return a full
    (un-ranged, unconditional) response for it so the middleware can read it."""
    resp = call_app(app, environ)
    if is_manifest(resp):
        if resp.status_int == 200:
            return resp, True
        # else a 206/416/304/412 about the manifest object itself: ask again below
    elif not (_may_be_about_a_manifest(resp, environ) and is_manifest(_head(app, environ))):
        return resp, False
    resp.close()
    env = {k: v for k, v in environ.items() if k not in ENVIRON_KEYS and k != "HTTP_RANGE"}
    resp = call_app(app, env)
    return resp, is_manifest(resp) and resp.ok


def _may_be_about_a_manifest(resp: SubResponse, environ: dict) -> bool:
    """A 416, 304 or 412 caused by the client's Range or conditions, which the
    object server may have judged against a manifest object's own (short)
    headers rather than the large object's."""
    if resp.status_int == 416:
        return bool(environ.get("HTTP_RANGE"))
    return resp.status_int in (304, 412) and any(k in environ for k in ENVIRON_KEYS)


def _head(app: WSGIApp, environ: dict) -> SubResponse:
    env = {k: v for k, v in environ.items() if k not in ENVIRON_KEYS and k != "HTTP_RANGE"}
    env["REQUEST_METHOD"] = "HEAD"
    resp = call_app(app, env)
    resp.close()
    return resp


def large_object_response(app: WSGIApp, environ: dict, start_response: Callable, *,
                          manifest_headers: list[tuple[str, str]], total: int, etag: str,
                          parts_for: Callable[[int, int], Iterable[SegmentPart]],
                          source: str, logger: logging.Logger,
                          multirange: bool = True) -> Iterable[bytes]:
    """Answer a GET/HEAD of a large object of ``total`` bytes.

    ``parts_for(first, last)`` yields the segment parts covering those bytes;
    ``etag`` is the quoted large-object ETag.  Without ``multirange`` (Swift's
    DLOs) a Range of several byte ranges is ignored: 200 with every byte.
    """
    method = environ.get("REQUEST_METHOD", "GET")
    headers = [(k, v) for k, v in manifest_headers if k.lower() not in MANIFEST_ONLY_HEADERS]
    headers += [("Etag", etag), ("Accept-Ranges", "bytes")]
    last_modified = next((v for k, v in headers if k.lower() == "last-modified"), None)
    # a middleware may keep the ETag clients compare against elsewhere (S3's multipart ETag)
    etag_is_at = environ.get("HTTP_X_BACKEND_ETAG_IS_AT", "").lower()
    match_etag = next((v for k, v in headers if k.lower() == etag_is_at), etag) \
        if etag_is_at else etag
    outcome = evaluate(environ, match_etag, parse_http_date(last_modified))
    if outcome:
        kept = header_dict((k, v) for k, v in headers if k.lower() not in ("content-type", "content-length"))
        body = outcome.message.encode() + b"\n" if outcome.status == 412 else b""  # a 304 has none
        return Response(outcome.status, {"content-type": TEXT_PLAIN, **kept}, body)(environ, start_response)
    range_header = environ.get("HTTP_RANGE")
    ranges = None if not multirange and "," in (range_header or "") else parse_range(range_header, total)
    if ranges == []:
        return error_response(416, headers={"content-range": f"bytes */{total}"})(environ, start_response)
    if ranges is None:
        headers.append(("Content-Length", str(total)))
        status = 200
        chunks: Callable[[], Iterator[bytes]] = lambda: stream_segments(
            app, environ, parts_for(0, total - 1), source=source, logger=logger)
    elif len(ranges) == 1:
        first, last = ranges[0]
        status = 206
        headers += [("Content-Length", str(last - first + 1)),
                    ("Content-Range", f"bytes {first}-{last}/{total}")]
        chunks = lambda: stream_segments(app, environ, parts_for(first, last), source=source,
                                         logger=logger)
    else:
        status = 206
        content_type = next((v for k, v in headers if k.lower() == "content-type"),
                            "application/octet-stream")
        boundary = os.urandom(16).hex()
        heads = [(f"--{boundary}\r\nContent-Type: {content_type}\r\n"
                  f"Content-Range: bytes {first}-{last}/{total}\r\n\r\n").encode("latin-1")
                 for first, last in ranges]
        tail = f"--{boundary}--\r\n".encode("latin-1")
        # each part's bytes are followed by CRLF before the next boundary
        length = sum(len(h) + 2 for h in heads) + len(tail) + sum(b - a + 1 for a, b in ranges)
        headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
        headers += [("Content-Type", f"multipart/byteranges; boundary={boundary}"),
                    ("Content-Length", str(length))]

        def chunks() -> Iterator[bytes]:
            for head, (first, last) in zip(heads, ranges):
                body = stream_segments(app, environ, parts_for(first, last), source=source,
                                       logger=logger)
                yield head + next(body, b"")  # so that priming checks the first segment
                yield from body
                yield b"\r\n"
            yield tail
    if method == "HEAD":
        return Response(status, header_dict(headers), [])(environ, start_response)
    stream = chunks()
    try:
        first_chunk = next(stream, b"")
    except SegmentError as err:
        return error_response(409, str(err))(environ, start_response)
    return Response(status, header_dict(headers), PrimedBody(first_chunk, stream))(
        environ, start_response)
