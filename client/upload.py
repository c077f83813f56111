"""Uploading files: one streamed PUT, or parallel segments plus an SLO/DLO manifest.

Segments go to ``<container>_segments`` under swift's names
(``<obj>/slo/<mtime>/<size>/<segment size>/<index:08d>`` for SLO, the same
without ``slo/`` for DLO), so re-running an interrupted upload finds the
segments already stored: a segment is skipped when a HEAD shows one with
the MD5 of the local bytes.  Files are read in blocks, never whole.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import mimetypes
import os
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from typing import Mapping

from client.connection import BLOCK_SIZE, ClientError, Connection, quote
from client.progress import Progress

SEGMENT_SUFFIX = "_segments"


@dataclasses.dataclass
class UploadOptions:
    segment_size: int = 0
    use_dlo: bool = False
    segment_threads: int = 10
    progress: bool = False
    leave_segments: bool = False
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class UploadResult:
    name: str
    size: int
    segments: int = 0
    skipped: int = 0
    rate: float = 0.0  # bytes per second


class FileSlice:
    """A read-only window of a file that hashes (and counts) what is read from it."""

    def __init__(self, path: str, offset: int, length: int, progress: Progress | None = None) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.offset = offset
        self.length = length
        self.progress = progress
        self.seek(0)

    def read(self, size: int = -1) -> bytes:
        left = self.length - self._pos
        size = left if size < 0 else min(size, left)
        data = self._file.read(size) if size > 0 else b""
        self._pos += len(data)
        self.md5.update(data)
        if self.progress:
            self.progress.add(len(data))
        return data

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int) -> None:
        """Rewind to the start, for a retried request."""
        if pos:
            raise ValueError("FileSlice can only be rewound to its start")
        if self.progress and getattr(self, "_pos", 0):
            self.progress.add(-self._pos)
        self._file.seek(self.offset)
        self._pos = 0
        self.md5 = hashlib.md5(usedforsecurity=False)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "FileSlice":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def file_md5(path: str, offset: int, length: int) -> str:
    with FileSlice(path, offset, length) as piece:
        while piece.read(BLOCK_SIZE):
            pass
        return piece.md5.hexdigest()


def segment_prefix(obj: str, mtime: str, size: int, segment_size: int, dlo: bool) -> str:
    kind = "" if dlo else "slo/"
    return f"{obj}/{kind}{mtime}/{size}/{segment_size}/"


def ensure_container(conn: Connection, container: str) -> None:
    """Create the container; a user who may write but not create needs it to exist."""
    if conn.request("PUT", container, ok=(403,)).status == 403:
        conn.request("HEAD", container)


def put_stream(conn: Connection, container: str, obj: str, piece: FileSlice,
               headers: dict[str, str]) -> str:
    """PUT the slice; check the ETag the server computed against ours. Returns the MD5."""
    resp = conn.request("PUT", container, obj, body=piece,
                        headers={"Content-Length": str(piece.length), **headers})
    local = piece.md5.hexdigest()
    remote = resp.headers.get("etag", "").strip('"')
    if remote != local:
        raise ClientError(f"upload of {container}/{obj} was corrupted: "
                          f"server ETag {remote or '(none)'} != local MD5 {local}")
    return local


def upload_file(conn: Connection, path: str, container: str, obj: str,
                options: UploadOptions) -> UploadResult:
    """Upload one file as ``container/obj`` (the container must exist)."""
    stat = os.stat(path)
    headers = {"X-Object-Meta-Mtime": f"{stat.st_mtime:f}",
               "Content-Type": mimetypes.guess_type(obj)[0] or "application/octet-stream",
               **options.headers}
    progress = Progress(obj, stat.st_size, options.progress)
    old = old_segments(conn, container, obj) if not options.leave_segments else []
    segments: list[tuple[str, str, bool]] = []
    if options.segment_size and stat.st_size > options.segment_size:
        segments = _upload_segments(conn, path, container, obj, stat.st_size, headers, options,
                                    progress)
    else:
        with FileSlice(path, 0, stat.st_size, progress) as piece:
            put_stream(conn, container, obj, piece, headers)
    progress.finish()
    keep = {(seg_container, name) for seg_container, name, _ in segments}
    for seg_container, seg_name in old:
        if (seg_container, seg_name) not in keep:
            conn.request("DELETE", seg_container, seg_name, ok=(404,))
    return UploadResult(obj, stat.st_size, segments=len(segments),
                        skipped=sum(1 for *_, skipped in segments if skipped),
                        rate=progress.rate())


def _upload_segments(conn: Connection, path: str, container: str, obj: str, size: int,
                     headers: dict[str, str], options: UploadOptions,
                     progress: Progress) -> list[tuple[str, str, bool]]:
    """Upload the segments in parallel, then the manifest; (container, name, skipped) per segment."""
    seg_container = container + SEGMENT_SUFFIX
    ensure_container(conn, seg_container)
    prefix = segment_prefix(obj, headers["X-Object-Meta-Mtime"], size, options.segment_size,
                            options.use_dlo)
    count = (size + options.segment_size - 1) // options.segment_size

    def one(index: int) -> tuple[str, str, int, bool]:
        offset = index * options.segment_size
        length = min(options.segment_size, size - offset)
        name = f"{prefix}{index:08d}"
        stored = stored_etag(conn, seg_container, name, length)
        if stored and stored == file_md5(path, offset, length):
            progress.add(length)
            return name, stored, length, True
        with FileSlice(path, offset, length, progress) as piece:
            etag = put_stream(conn, seg_container, name, piece,
                              {"Content-Type": "application/octet-stream"})
        return name, etag, length, False

    with ThreadPoolExecutor(max(1, options.segment_threads)) as pool:
        futures = [pool.submit(one, index) for index in range(count)]
        try:
            segments = [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    if options.use_dlo:
        manifest = quote(f"{seg_container}/{prefix}")
        conn.request("PUT", container, obj, body=b"",
                     headers={**headers, "X-Object-Manifest": manifest, "Content-Length": "0"})
    else:
        body = json.dumps([{"path": f"/{seg_container}/{name}", "etag": etag, "size_bytes": length}
                           for name, etag, length, _ in segments]).encode()
        conn.request("PUT", container, obj, query={"multipart-manifest": "put"}, body=body,
                     headers={**headers, "Content-Length": str(len(body))})
    return [(seg_container, name, skipped) for name, _, _, skipped in segments]


def stored_etag(conn: Connection, container: str, name: str, length: int) -> str | None:
    """The ETag of an already uploaded segment of the expected length, if there is one."""
    head = conn.request("HEAD", container, name, ok=(404,))
    if head.status != 200 or head.headers.get("content-length") != str(length):
        return None
    return head.headers.get("etag", "").strip('"') or None


def old_segments(conn: Connection, container: str, obj: str) -> list[tuple[str, str]]:
    """(container, name) of the segments of the large object ``obj`` replaces, if any."""
    resp = conn.request("HEAD", container, obj, ok=(404,))
    if resp.status == 404:
        return []
    if is_slo(resp.headers):
        return [tuple(part["name"].lstrip("/").split("/", 1))
                for part in slo_manifest(conn, container, obj)]
    manifest = resp.headers.get("x-object-manifest")
    if manifest:
        seg_container, items = dlo_segments(conn, manifest)
        return [(seg_container, item["name"]) for item in items]
    return []


def dlo_segments(conn: Connection, manifest: str) -> tuple[str, list[dict]]:
    """The segment container and listing entries named by an ``X-Object-Manifest`` value."""
    seg_container, _, prefix = urllib.parse.unquote(manifest).partition("/")
    try:
        return seg_container, list(conn.listing(seg_container, prefix=prefix))
    except ClientError as err:
        if err.status == 404:
            return seg_container, []
        raise


def is_slo(headers: Mapping[str, str]) -> bool:
    """Whether response headers (lower-case keys) describe a static large object."""
    return headers.get("x-static-large-object", "").lower() == "true"


def slo_manifest(conn: Connection, container: str, obj: str) -> list[dict]:
    resp = conn.request("GET", container, obj, query={"multipart-manifest": "get"})
    try:
        return json.loads(resp.body)
    except ValueError:
        raise ClientError(f"the SLO manifest of {container}/{obj} is not JSON") from None

