"""GET of an erasure-coded object: k fragment archives in, the object out.

The primaries are asked in ring order, so the data fragments (indexes
0 .. k-1, which a systematic code decodes almost for free) come first; k
GETs go out at once and more nodes (parity primaries, then handoffs) are
asked only while fewer than k distinct fragments of one version answered.
The answers are grouped by data timestamp: the newest version with k
fragments is served, unless a tombstone newer than it was seen (404).  A
version with fewer than k fragments is never decoded: 503, never wrong bytes.

Each segment is decoded from one fragment of each of the k streams as the
bytes arrive, so an object is never held whole in memory; a stream that
breaks off is replaced by another node's archive of the same version,
opened at the segment being decoded (``Range`` on the archive); so is one
whose fragment fails its CRC (``SegmentLayout.intact``).  A client
``Range`` becomes the archive range of the segments it touches (for a
suffix range, an archive suffix long enough to cover them), and the decoded
segments are trimmed to the bytes asked for.
"""
from __future__ import annotations

import functools
import itertools
import re
import uuid
from typing import Iterator, Mapping

from objstore.common import ranges
from objstore.common.backend_http import BackendResponse
from objstore.common.erasure import FRAG_INDEX, OBJECT_ETAG, OBJECT_LENGTH, SegmentLayout
from objstore.common.fanout import NET_ERRORS, FanOut, NodeIter, unavailable_message
from objstore.common.http import Response, error_response
from objstore.common.timestamp import Timestamp
from proxy.controllers.reader import backend_timestamp, response_headers

_CONTENT_RANGE_START = re.compile(r"^bytes (\d+)-")
_UNBOUNDED = 1 << 62  # an object length no real object reaches: parses a Range without one
_CONDITIONAL = frozenset({304, 412, 416})
_DROP_ON_REOPEN = ("range", "if-match", "if-none-match", "if-modified-since",
                   "if-unmodified-since")


class FragmentUnavailable(Exception):
    """No node can supply a fragment archive that is needed to go on."""


class CorruptFragment(ConnectionError):
    """A fragment's bytes do not match its CRC: the node is failed over like a broken one."""


def object_headers(backend: Mapping[str, str]) -> dict[str, str]:
    """The client's headers from a fragment archive's: the whole object's
    length and ETag instead of the archive's."""
    headers = response_headers(backend)
    headers.pop("content-range", None)
    if OBJECT_ETAG.lower() in backend:
        headers["etag"] = backend[OBJECT_ETAG.lower()]
    if OBJECT_LENGTH.lower() in backend:
        headers["content-length"] = backend[OBJECT_LENGTH.lower()]
    return headers


def archive_range(client_range: str | None, layout: SegmentLayout) -> str | None:
    """The ``Range`` to ask every archive for: the segments the client's
    range touches (None: the whole archive)."""
    try:
        wanted = ranges.parse_range(client_range, _UNBOUNDED)
    except ranges.Unsatisfiable:
        return None  # only "bytes=-0": the object length decides (416 or empty)
    if wanted is None:
        return None
    specs = client_range.partition("=")[2].split(",")
    if any(spec.strip().startswith("-") for spec in specs):
        if len(specs) > 1:
            return None
        suffix = _UNBOUNDED - wanted[0][0]
        covering = layout.segment_count(suffix) + 1
        return f"bytes=-{covering * layout.fragment_size}"
    stop = max(stop for _, stop in wanted)
    start = layout.archive_offset(min(start for start, _ in wanted) // layout.segment_size)
    if stop >= _UNBOUNDED:
        return f"bytes={start}-"
    return f"bytes={start}-{layout.archive_offset(layout.segment_span(0, stop)[1]) - 1}"


def _data_timestamp(resp: BackendResponse) -> str:
    return resp.headers.get("x-backend-data-timestamp") or resp.headers.get("x-timestamp", "")


def _frag_index(resp: BackendResponse) -> int | None:
    raw = resp.headers.get(FRAG_INDEX.lower(), "")
    return int(raw) if raw.isdigit() else None


class _Stream:
    """One fragment archive being read, and where in it the reader is."""

    def __init__(self, resp: BackendResponse, position: int) -> None:
        self.resp = resp
        self.position = position  # archive offset of the next byte resp gives
        self.frag_index = _frag_index(resp)

    def read(self, size: int) -> bytes:
        """Exactly ``size`` bytes; OSError if the node breaks off first."""
        parts, got = [], 0
        while got < size:
            chunk = self.resp.read(size - got)
            if not chunk:
                raise ConnectionError("fragment archive ended early")
            parts.append(chunk)
            got += len(chunk)
        self.position += size
        return b"".join(parts)

    def skip_to(self, offset: int) -> None:
        while self.position < offset:
            self.read(min(65536, offset - self.position))

    def close(self) -> None:
        self.resp.close()


class ECReader:
    """One client GET of an erasure-coded object."""

    def __init__(self, fanout: FanOut, nodes: NodeIter, path: str, headers: dict[str, str],
                 query_string: str, layout: SegmentLayout, client_range: str | None) -> None:
        self.fanout = fanout
        self.nodes = iter(nodes)
        self.path = path
        self.headers = headers
        self.query_string = query_string
        self.layout = layout
        self.client_range = client_range
        self.version = ""          # data timestamp of the version being served
        self.length = 0
        self.streams: list[_Stream] = []
        self.spare_nodes: list[dict] = []  # nodes with other fragments of the version served

    # ---- finding k fragments of one version -------------------------------------------
    def _try(self, node: dict, headers: Mapping[str, str]) -> BackendResponse | None:
        return self.fanout.try_node(node, "GET", self.path, headers, self.query_string)

    def response(self) -> Response:
        k = self.layout.ndata
        request_range = archive_range(self.client_range, self.layout)
        headers = dict(self.headers)
        headers.pop("range", None)
        if request_range:
            headers["Range"] = request_range
        groups: dict[str, dict[int, BackendResponse]] = {}
        newest_404: BackendResponse | None = None
        answered = 0
        want = k
        while True:
            batch = list(itertools.islice(self.nodes, want))
            if not batch:
                break
            for resp in self.fanout.gather([functools.partial(self._try, node, headers)
                                            for node in batch]):
                answered += 1
                if resp.status in (200, 206) and _frag_index(resp) is not None:
                    group = groups.setdefault(_data_timestamp(resp), {})
                    if _frag_index(resp) in group:
                        resp.close()
                    else:
                        group[_frag_index(resp)] = resp
                    continue
                if resp.status in _CONDITIONAL:
                    self._close_all(groups)
                    return self._conditional(resp)
                if resp.status == 404:
                    if newest_404 is None or backend_timestamp(resp.headers) > \
                            backend_timestamp(newest_404.headers):
                        newest_404 = resp
                    resp.close()
                    continue
                body = resp.read_all(1 << 16)
                resp.close()
                self._close_all(groups)
                return Response(resp.status, {**object_headers(resp.headers),
                                              "content-length": str(len(body))}, [body])
            complete = [ts for ts, group in groups.items() if len(group) >= k]
            if complete:
                break
            want = k - max((len(group) for group in groups.values()), default=0)
        complete = sorted((ts for ts, group in groups.items() if len(group) >= k),
                          key=Timestamp, reverse=True)
        if not complete:
            found = max((len(group) for group in groups.values()), default=0)
            self._close_all(groups)
            if newest_404 is not None and not found:
                return error_response(404)
            if found:
                return error_response(503, f"Object GET: only {found} of the {k} fragment "
                                           f"archives needed answered")
            return error_response(503, unavailable_message("GET", self.path, answered))
        version = complete[0]
        if newest_404 is not None and backend_timestamp(newest_404.headers) > Timestamp(version):
            self._close_all(groups)
            return error_response(404)
        chosen = groups.pop(version)
        self._close_all(groups)
        return self._serve(version, [chosen[i] for i in sorted(chosen)[:k]],
                           [chosen[i] for i in sorted(chosen)[k:]])

    @staticmethod
    def _close_all(groups: dict[str, dict[int, BackendResponse]]) -> None:
        for group in groups.values():
            for resp in group.values():
                resp.close()

    def _conditional(self, resp: BackendResponse) -> Response:
        """304/412 (the object's conditionals, evaluated on its whole ETag) or
        416 (the range starts past the end of the archives, so of the object)."""
        headers = object_headers(resp.headers)
        resp.close()
        if resp.status == 416:
            body = b"Requested Range Not Satisfiable"
            headers.update({"content-range": f"bytes */{headers.get('content-length', '0')}",
                            "content-length": str(len(body))})
            return Response(416, headers, [body])
        if resp.status == 412:
            headers["content-length"] = "0"
        else:
            headers.pop("content-length", None)
        return Response(resp.status, headers, [])

    # ---- decoding ----------------------------------------------------------------------
    def _serve(self, version: str, chosen: list[BackendResponse],
               spares: list[BackendResponse]) -> Response:
        for resp in spares:
            self.spare_nodes.append(resp.conn.node)
            resp.close()
        first = chosen[0]
        headers = object_headers(first.headers)
        self.version = version
        self.length = int(first.headers.get(OBJECT_LENGTH.lower(), "0"))
        match = _CONTENT_RANGE_START.match(first.headers.get("content-range", ""))
        start = int(match.group(1)) if first.status == 206 and match else 0
        self.streams = [_Stream(resp, start) for resp in chosen]
        headers["accept-ranges"] = "bytes"
        try:
            wanted = ranges.parse_range(self.client_range, self.length)
        except ranges.Unsatisfiable:
            self.close()
            body = b"Requested Range Not Satisfiable"
            headers.update({"content-range": f"bytes */{self.length}",
                            "content-length": str(len(body))})
            return Response(416, headers, [body])
        if wanted is None:
            return Response(200, headers, self._body(0, self.length))
        if len(wanted) == 1:
            begin, end = wanted[0]
            headers["content-range"] = ranges.content_range(begin, end, self.length)
            headers["content-length"] = str(end - begin)
            return Response(206, headers, self._body(begin, end))
        multipart = ranges.MultipartRanges(wanted, self.length,
                                           headers.get("content-type", "application/octet-stream"),
                                           uuid.uuid4().hex, self._read_range)
        headers["content-type"] = f"multipart/byteranges;boundary={multipart.boundary.decode()}"
        headers["content-length"] = str(multipart.content_length)
        return Response(206, headers, self._closing(iter(multipart)))

    def _closing(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        try:
            yield from chunks
        finally:
            self.close()

    def _body(self, begin: int, end: int) -> Iterator[bytes]:
        return self._closing(self._read_range(begin, end))

    def _read_range(self, begin: int, end: int) -> Iterator[bytes]:
        """Object bytes [begin, end), decoded segment by segment."""
        size = self.layout.segment_size
        first, stop = self.layout.segment_span(begin, end)
        for segment in range(first, stop):
            data = self._decode(segment)
            offset = segment * size
            yield data[max(0, begin - offset):end - offset]

    def _decode(self, segment: int) -> bytes:
        """Segment ``segment`` of the object, from one fragment of each stream."""
        offset = self.layout.archive_offset(segment)
        length = self.layout.archive_fragment_length(segment, self.length)
        return self.layout.driver.decode([self._fragment(index, offset, length)
                                          for index in range(len(self.streams))])

    def _fragment(self, index: int, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset`` of stream ``index``'s archive (or of
        the archive that replaces it when its node breaks off)."""
        stream = self.streams[index]
        if stream.position > offset:  # a multi-range read went back: ask again
            stream.close()
            stream = self.streams[index] = self._reopen(stream, offset, [stream.resp.conn.node])
        while True:
            try:
                stream.skip_to(offset)
                fragment = stream.read(length)
                if self.layout.intact(fragment):
                    return fragment
                raise CorruptFragment(f"fragment {stream.frag_index} at archive byte {offset} "
                                      "does not match its checksum")
            except NET_ERRORS as err:
                stream.close()
                self.fanout.error_limiter.error(stream.resp.conn.node,
                                                f"GET {self.path} mid-body: {err!r}")
                stream = self.streams[index] = self._reopen(stream, offset, self.spare_nodes)

    def _reopen(self, broken: _Stream, offset: int, first: list[dict]) -> _Stream:
        """Another archive of the version being served from ``offset``, from
        the nodes in ``first`` or any not asked yet, with a fragment index
        not in use."""
        in_use = {stream.frag_index for stream in self.streams if stream is not broken}
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _DROP_ON_REOPEN}
        headers["Range"] = f"bytes={offset}-"
        for node in itertools.chain(list(first), self.nodes):
            resp = self._try(node, headers)
            if resp is None:
                continue
            if resp.status == 206 and _data_timestamp(resp) == self.version and \
                    _frag_index(resp) is not None and _frag_index(resp) not in in_use:
                self.fanout.logger.info("GET %s: fragment %s from %s:%s at archive byte %d",
                                        self.path, _frag_index(resp), node["ip"], node["port"],
                                        offset)
                return _Stream(resp, offset)
            resp.close()
        raise FragmentUnavailable(f"GET {self.path}: no other fragment archive to go on with")

    def close(self) -> None:
        for stream in self.streams:
            stream.close()
