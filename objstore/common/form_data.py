"""Streaming ``multipart/form-data`` (RFC 7578), what browsers send for a form upload.

``iter_form_parts(stream, boundary)`` yields one ``FormPart`` at a time: its
headers (read whole, at most ``MAX_PART_HEADER_BYTES``) and a ``read()`` for its
body that never holds more than a chunk in memory, so a file part can be
streamed straight into an object PUT.  A part must be read (or skipped) before
the next one is asked for; the iterator skips what is left of it.  Framing
errors raise ``FormDataError`` (a ValueError: answer 400).
"""
from __future__ import annotations

from typing import BinaryIO, Iterator

from objstore.common.http import CHUNK_SIZE

MAX_PART_HEADER_BYTES = 8192


class FormDataError(ValueError):
    """The body is not the multipart/form-data it says it is."""


def parse_header_params(value: str) -> tuple[str, dict[str, str]]:
    """``form-data; name="file1"; filename="a b.txt"`` -> ("form-data", {"name": ...});
    quoted values may hold ``;`` and backslash escapes, names are lower-cased."""
    kind, _, rest = value.partition(";")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " \t;":
            i += 1
        start = i
        while i < n and rest[i] not in "=;":
            i += 1
        name = rest[start:i].strip().lower()
        val = ""
        if i < n and rest[i] == "=":
            i += 1
            while i < n and rest[i] in " \t":
                i += 1
            if i < n and rest[i] == '"':
                i += 1
                chars = []
                while i < n and rest[i] != '"':
                    if rest[i] == "\\" and i + 1 < n:
                        i += 1
                    chars.append(rest[i])
                    i += 1
                i += 1  # the closing quote
                val = "".join(chars)
            else:
                start = i
                while i < n and rest[i] != ";":
                    i += 1
                val = rest[start:i].strip()
        if name:
            params[name] = val
    return kind.strip().lower(), params


class _Buffered:
    """``stream`` with a pushback buffer, read in chunks."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.buf = b""
        self.eof = False

    def fill(self, want: int) -> bool:
        """Make ``buf`` at least ``want`` bytes long if the stream allows; False at its end."""
        while len(self.buf) < want and not self.eof:
            chunk = self.stream.read(CHUNK_SIZE)
            if not chunk:
                self.eof = True
            else:
                self.buf += chunk
        return len(self.buf) >= want

    def line(self, limit: int) -> bytes:
        """One line with its CRLF (or what is left), at most ``limit`` bytes."""
        while b"\r\n" not in self.buf[:limit] and len(self.buf) < limit and not self.eof:
            self.fill(len(self.buf) + 1)
        end = self.buf.find(b"\r\n", 0, limit)
        if end < 0:
            if len(self.buf) >= limit:
                raise FormDataError("a multipart header line is too long")
            line, self.buf = self.buf, b""
            return line
        line, self.buf = self.buf[:end + 2], self.buf[end + 2:]
        return line


class FormPart:
    """One part: ``headers`` (lower-case names), ``disposition`` params
    (``name``, ``filename``), and ``read(size)`` for its body."""

    def __init__(self, source: _Buffered, delimiter: bytes, headers: dict[str, str]) -> None:
        self._source = source
        self._delimiter = delimiter  # CRLF "--" boundary
        self.headers = headers
        _, self.disposition = parse_header_params(headers.get("content-disposition", ""))
        self.done = False

    @property
    def name(self) -> str | None:
        return self.disposition.get("name")

    @property
    def filename(self) -> str | None:
        return self.disposition.get("filename")

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes of the body (all that is left for -1); b"" at its end."""
        if self.done:
            return b""
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(CHUNK_SIZE), b""))
        want = max(size, 1)
        source, delim = self._source, self._delimiter
        source.fill(want + len(delim))
        at = source.buf.find(delim, 0, want + len(delim))
        if at >= 0 and at <= want:
            data, source.buf = source.buf[:at], source.buf[at + len(delim):]
            self.done = True
            return data
        if source.eof and len(source.buf) < want + len(delim):
            raise FormDataError("the body ends inside a part (no closing boundary)")
        data, source.buf = source.buf[:want], source.buf[want:]
        return data

    def skip(self) -> None:
        while self.read(CHUNK_SIZE):
            pass


def _read_headers(source: _Buffered) -> dict[str, str]:
    headers: dict[str, str] = {}
    total = 0
    while True:
        line = source.line(MAX_PART_HEADER_BYTES)
        total += len(line)
        if total > MAX_PART_HEADER_BYTES:
            raise FormDataError("a part's headers are too long")
        if not line.endswith(b"\r\n"):
            raise FormDataError("the body ends inside a part's headers")
        if line == b"\r\n":
            return headers
        name, sep, value = line[:-2].decode("latin-1").partition(":")
        if not sep:
            raise FormDataError("a part header without ':'")
        headers[name.strip().lower()] = value.strip()


def iter_form_parts(stream: BinaryIO, boundary: str) -> Iterator[FormPart]:
    """Each part of ``stream``'s body in turn (see the module docstring)."""
    if not boundary or len(boundary) > 200:
        raise FormDataError("invalid boundary")
    source = _Buffered(stream)
    start = b"--" + boundary.encode("latin-1")
    line = source.line(len(start) + 128)
    while line == b"\r\n":  # blank lines before the first boundary are tolerated
        line = source.line(len(start) + 128)
    if line.rstrip(b" \t\r\n") != start:
        raise FormDataError("invalid starting boundary")
    delimiter = b"\r\n" + start
    while True:
        part = FormPart(source, delimiter, _read_headers(source))
        yield part
        part.skip()
        source.fill(2)
        if source.buf.startswith(b"--"):
            return  # the closing delimiter; an epilogue is ignored
        rest = source.line(128)  # transport padding, then CRLF
        if rest.strip(b" \t") != b"\r\n":
            raise FormDataError("garbage after a boundary")
