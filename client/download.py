"""Downloading objects to files, streamed and verified.

A plain object's body must match its ETag.  A large object's ETag is not the
MD5 of its bytes, so its parts are checked instead: an SLO's manifest
(``?multipart-manifest=get``) and a DLO's segment listing give each
segment's size and MD5, and the body is hashed segment by segment as it
streams in.  A file is written under a temporary name and renamed only when
it is complete and verified.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from typing import BinaryIO

from client.connection import BLOCK_SIZE, ClientError, Connection
from client.progress import Progress
from client.upload import dlo_segments, is_slo, slo_manifest

Part = tuple[int, "str | None"]  # (size, md5 or None when it cannot be known)


class Verifier:
    """Checks a stream against consecutive parts of known size and MD5."""

    def __init__(self, parts: list[Part], what: str) -> None:
        self.parts = parts
        self.what = what
        self.size = 0
        self._index = -1
        self._left = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._advance()

    def update(self, data: bytes) -> None:
        self.size += len(data)
        view = memoryview(data)
        while view:
            if self._index >= len(self.parts):
                raise ClientError(f"{self.what}: more bytes than expected")
            take = min(self._left, len(view))
            self._md5.update(view[:take])
            view = view[take:]
            self._left -= take
            self._advance()

    def _advance(self) -> None:
        """Check each part that is complete, then move on (through empty parts too)."""
        while self._left == 0 and self._index < len(self.parts):
            if self._index >= 0:
                self._check()
            self._index += 1
            self._md5 = hashlib.md5(usedforsecurity=False)
            if self._index < len(self.parts):
                self._left = self.parts[self._index][0]

    def _check(self) -> None:
        expected = self.parts[self._index][1]
        got = self._md5.hexdigest()
        if expected is not None and got != expected:
            where = f" (segment {self._index})" if len(self.parts) > 1 else ""
            raise ClientError(f"{self.what}: MD5 mismatch{where}: got {got}, expected {expected}")

    def finish(self) -> None:
        if self._index < len(self.parts):
            expected = sum(size for size, _ in self.parts)
            raise ClientError(f"{self.what}: truncated: got {self.size} of {expected} bytes")


def expected_parts(conn: Connection, container: str, obj: str, headers: dict[str, str]) -> list[Part]:
    """What the body should be made of, as far as it can be known."""
    length = int(headers.get("content-length", "0"))
    if is_slo(headers):
        parts = [(int(seg["bytes"]), None if seg.get("sub_slo") or seg.get("range") else seg["hash"])
                 for seg in slo_manifest(conn, container, obj)]
    elif "x-object-manifest" in headers:
        parts = [(int(item["bytes"]), item["hash"])
                 for item in dlo_segments(conn, headers["x-object-manifest"])[1]]
    else:
        return [(length, headers.get("etag", "").strip('"') or None)]
    if sum(size for size, _ in parts) != length:
        return [(length, None)]  # the manifest changed meanwhile: only the length can be checked
    return parts


def download_object(conn: Connection, container: str, obj: str, dest: str,
                    progress_enabled: bool = False) -> int:
    """Download to ``dest`` (``-`` for stdout); return the byte count."""
    resp = conn.request("GET", container, obj, stream=True, ok=(404,))
    if resp.status == 404:
        resp.close()
        raise ClientError(f"object {container}/{obj} not found", 404)
    try:
        # the body is still streaming on this thread's socket: look up the parts on another
        parts = expected_parts(conn.sibling(), container, obj, resp.headers)
        verifier = Verifier(parts, f"{container}/{obj}")
        progress = Progress(obj, int(resp.headers.get("content-length", "0")), progress_enabled)
        if dest == "-":
            _copy(resp.raw, sys.stdout.buffer, verifier, progress)
            sys.stdout.buffer.flush()
        else:
            _save(resp.raw, dest, verifier, progress, resp.headers.get("x-object-meta-mtime"))
        progress.finish()
    finally:
        resp.close()
    return verifier.size


def _copy(source, sink: BinaryIO, verifier: Verifier, progress: Progress) -> None:
    while True:
        try:
            chunk = source.read(BLOCK_SIZE)
        except OSError as err:
            raise ClientError(f"{verifier.what}: download interrupted: {err}") from None
        if not chunk:
            break
        verifier.update(chunk)
        sink.write(chunk)
        progress.add(len(chunk))
    verifier.finish()


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import, while single-threaded


def _save(source, dest: str, verifier: Verifier, progress: Progress, mtime: str | None) -> None:
    directory = os.path.dirname(os.path.abspath(dest))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".objstore-", suffix=".part")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; a download gets the usual mode
        with os.fdopen(fd, "wb") as sink:
            _copy(source, sink, verifier, progress)
        os.replace(tmp, dest)
    except BaseException:
        os.unlink(tmp)
        raise
    if mtime:
        try:
            os.utime(dest, (float(mtime), float(mtime)))
        except ValueError:
            pass
