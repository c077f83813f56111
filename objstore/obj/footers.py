"""Metadata after the body: OpenStack Swift's multipart-MIME object PUT.

An erasure-coding proxy learns a fragment archive's ETag (and the whole
object's size and ETag) only once it has sent the body, so it sends the
metadata as a footer.  Request headers ``X-Backend-Obj-Metadata-Footer: yes``
and ``X-Backend-Obj-Multipart-Mime-Boundary: <B>`` announce it; the object
part's length, when known, is ``X-Backend-Obj-Content-Length`` (the request's
own length covers the whole MIME body).  The body, as Swift's proxy sends it::

    --B\r\n
    X-Document: object body\r\n          part headers (optional, ignored)
    \r\n
    <object bytes>\r\n
    --B\r\n
    X-Document: object metadata\r\n
    Content-MD5: <hex MD5 of the JSON>\r\n
    \r\n
    {"Etag": "<MD5 of the object bytes>", "X-Object-Sysmeta-...": "..."}\r\n
    --B--\r\n

The object part streams through (never held in memory); the footer part is
read whole (at most ``MAX_FOOTER_BYTES``).  Framing errors are ``MimeError``
(answer 400), a footer whose Content-MD5 does not match is
``FooterChecksumError`` (422, as Swift).  Swift's multiphase commit (a third
part confirming the PUT after a second ``100 Continue``) is not supported.
"""
from __future__ import annotations

import hashlib
from typing import Iterable, Iterator

from objstore.common.checks import InputError, load_json
from objstore.common.constraints import str_to_wsgi
from objstore.obj.store import SENDER_OVERRIDE_PREFIX, STORED_PREFIXES, Footers

MAX_FOOTER_BYTES = 1024 * 1024
MAX_PART_HEADER_BYTES = 8192
_CRLF = b"\r\n"


class MimeError(ValueError):
    """The body is not the multipart MIME document the headers announced."""


class FooterChecksumError(ValueError):
    """The footer's bytes do not match its Content-MD5."""


class _Stream:
    """Bytes from an iterator of chunks, with just enough look-ahead to find
    a delimiter that may straddle two chunks."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def _fill(self, what: str) -> None:
        for chunk in self._chunks:
            if chunk:
                self._buffer += chunk
                return
        raise MimeError(f"MIME body ended inside {what}")

    def line(self, what: str) -> bytes:
        """The next line, without its CRLF."""
        while (end := self._buffer.find(_CRLF)) < 0:
            if len(self._buffer) > MAX_PART_HEADER_BYTES:
                raise MimeError(f"MIME line too long in {what}")
            self._fill(what)
        line, self._buffer = self._buffer[:end], self._buffer[end + 2:]
        return line

    def take(self, prefix: bytes, what: str) -> bool:
        """Consume ``prefix`` if the bytes go on with it."""
        while len(self._buffer) < len(prefix) and prefix.startswith(self._buffer):
            self._fill(what)
        if not self._buffer.startswith(prefix):
            return False
        self._buffer = self._buffer[len(prefix):]
        return True

    def until(self, delimiter: bytes, what: str) -> Iterator[bytes]:
        """Everything up to ``delimiter`` (consumed, not yielded)."""
        keep = len(delimiter) - 1  # a delimiter's start may hide in the last bytes
        while (end := self._buffer.find(delimiter)) < 0:
            if len(self._buffer) > keep:
                yield self._buffer[:-keep]
                self._buffer = self._buffer[-keep:]
            self._fill(what)
        if end:
            yield self._buffer[:end]
        self._buffer = self._buffer[end + len(delimiter):]

    def drain(self) -> None:
        """Discard the rest (the epilogue after the closing delimiter)."""
        self._buffer = b""
        for _ in self._chunks:
            pass


class FooterBody:
    """Reads the object part, then the footer part, of a footer PUT's body."""

    def __init__(self, chunks: Iterable[bytes], boundary: str) -> None:
        if not boundary:
            raise MimeError("X-Backend-Obj-Multipart-Mime-Boundary is missing")
        self._boundary = boundary.encode("latin-1")
        self._delimiter = b"\r\n--" + self._boundary
        self._stream = _Stream(chunks)

    def object_data(self) -> Iterator[bytes]:
        """The object part's bytes, as they arrive."""
        if (not self._stream.take(b"--" + self._boundary, "the first boundary") or
                self._stream.line("the first boundary").strip(b" \t")):
            raise MimeError("MIME body does not start with the boundary")
        self._part_headers("the object part")
        yield from self._stream.until(self._delimiter, "the object part")
        if self._is_last_part():
            raise MimeError("MIME body has no footer part")

    def footers(self) -> Footers:
        """The footer part (call once ``object_data`` is consumed), checked
        against its Content-MD5; the rest of the body is drained."""
        headers = self._part_headers("the footer part")
        body = b""
        for piece in self._stream.until(self._delimiter, "the footer part"):
            body += piece
            if len(body) > MAX_FOOTER_BYTES:
                raise MimeError(f"MIME footer larger than {MAX_FOOTER_BYTES} bytes")
        if not self._is_last_part():
            raise MimeError("MIME part after the footer (multiphase commit is not supported)")
        self._stream.drain()
        checksum = headers.get("content-md5")
        if not checksum:
            raise MimeError("No Content-MD5 in the MIME footer")
        if checksum.strip().lower() != hashlib.md5(body, usedforsecurity=False).hexdigest():
            raise FooterChecksumError("MIME footer does not match its Content-MD5")
        return parse_footer(body)

    def _part_headers(self, what: str) -> dict[str, str]:
        """A part's headers (lower-case names) up to the blank line."""
        headers = {}
        size = 0
        while line := self._stream.line(what):
            size += len(line)
            if size > MAX_PART_HEADER_BYTES:
                raise MimeError(f"MIME headers too large in {what}")
            name, colon, value = line.decode("latin-1").partition(":")
            if not colon or not name.strip():
                raise MimeError(f"Malformed MIME header line in {what}")
            headers[name.strip().lower()] = value.strip()
        return headers

    def _is_last_part(self) -> bool:
        """After a delimiter: ``--`` closes the body, the end of the line (RFC
        2046 allows spaces or tabs before it) starts another part."""
        if self._stream.take(b"--", "a boundary line"):
            return True
        if self._stream.line("a boundary line").strip(b" \t"):
            raise MimeError("Malformed MIME boundary line")
        return False


def parse_footer(body: bytes) -> Footers:
    """Footer JSON (header names in any case) -> what the object store needs:
    stored metadata (user, system, transient system, Content-Type), the ETag
    to check the body against and listing overrides.  Values become WSGI
    strings (UTF-8 bytes as latin-1) like the same metadata sent as headers."""
    try:
        items = load_json(body, "MIME footer", MAX_FOOTER_BYTES)
    except InputError as err:
        raise MimeError(str(err)) from None
    if not isinstance(items, dict) or not all(isinstance(v, str) for v in items.values()):
        raise MimeError("MIME footer must be a JSON object of strings")
    metadata, overrides, etag = {}, {}, None
    for raw_name, value in items.items():
        if not value:  # as with headers: an empty value stores nothing
            continue
        name = "-".join(word.capitalize() for word in raw_name.split("-"))
        value = str_to_wsgi(value)
        if name == "Etag":
            etag = value
        elif name == "Content-Type" or name.startswith(STORED_PREFIXES):
            metadata[name] = value
        elif name.startswith(SENDER_OVERRIDE_PREFIX):
            overrides["X-" + name[len(SENDER_OVERRIDE_PREFIX):]] = value
    return Footers(metadata, etag, overrides)
