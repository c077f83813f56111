"""Request bodies of S3 uploads: decoded, and verified before their last byte is handed on.

An S3 body may be plain (its SHA-256 signed, or ``UNSIGNED-PAYLOAD``), or
``aws-chunked``: ``<hex size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n`` frames, a
zero-size frame, then optional trailing headers (``x-amz-checksum-crc32:...``,
``x-amz-trailer-signature:...``).  ``S3Body`` is the ``wsgi.input`` of the
Swift PUT that stores it: it yields the decoded bytes, checks every chunk
signature before passing that chunk on, and checks the payload hash, the
``Content-MD5``-independent flexible checksum and the trailer signature in the
very read that returns the last byte.  A failure there raises ``BodyError``
(an OSError, which the proxy treats as a broken upload), so the object server
never commits a body that does not match: nothing is stored.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
from typing import BinaryIO

from proxy.s3 import checksums
from proxy.s3.errors import S3Error
from proxy.s3.signing import (
    EMPTY_SHA256, STREAMING_MODES, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER, UNSIGNED_PAYLOAD, SignatureV4)

READ_SIZE = 65536
MAX_LINE = 4096                  # a chunk header or trailer line
MAX_CHUNK = 16 * 1024 * 1024     # clients send 8 KiB .. 1 MiB frames; 16 MiB is plenty
MAX_TRAILERS = 16


class BodyError(OSError):
    """The body failed a check; ``error`` is the S3 error to answer with."""

    def __init__(self, error: S3Error) -> None:
        super().__init__(error.message)
        self.error = error


class _Buffered:
    """Reads and lines from a raw input, with our own buffer (the server's input may
    not offer a bounded readline)."""

    def __init__(self, raw: BinaryIO, limit: int | None) -> None:
        self.raw = raw
        self.remaining = limit   # bytes the client said it sends (None: until EOF)
        self.buffer = bytearray()

    def _more(self) -> bool:
        size = READ_SIZE if self.remaining is None else min(READ_SIZE, self.remaining)
        if size <= 0:
            return False
        data = self.raw.read(size)
        if not data:
            return False
        if self.remaining is not None:
            self.remaining -= len(data)
        self.buffer += data
        return True

    def read_exact(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._more():
                raise BodyError(S3Error("IncompleteBody"))
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def read_line(self) -> bytes:
        """One line without its CRLF."""
        while True:
            end = self.buffer.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[:end + 2]
                return line
            if len(self.buffer) > MAX_LINE:
                raise BodyError(S3Error("IncompleteBody", "aws-chunked framing line too long"))
            if not self._more():
                raise BodyError(S3Error("IncompleteBody"))

    def read_some(self, size: int) -> bytes:
        if not self.buffer and not self._more():
            return b""
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data


class _ChunkDecoder:
    """The aws-chunked frames of a body, each one's signature checked (signed modes)."""

    def __init__(self, source: _Buffered, mode: str, signature: SignatureV4 | None) -> None:
        self.source = source
        self.signed = mode in (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER)
        self.trailer_expected = mode in (STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER)
        self.signature = signature
        self.previous = signature.signature if signature is not None else ""
        self.trailers: dict[str, str] = {}
        self.done = False

    def next_chunk(self) -> bytes:
        """The next frame's data; b'' after the last one (trailers read and checked)."""
        if self.done:
            return b""
        header = self.source.read_line()
        size_text, _, extension = header.partition(b";")
        try:
            size = int(size_text.strip(), 16)
        except ValueError:
            raise BodyError(S3Error("IncompleteBody", "bad aws-chunked frame size")) from None
        if size < 0 or size > MAX_CHUNK:
            raise BodyError(S3Error("InvalidRequest", "aws-chunked frame too large"))
        data = self.source.read_exact(size) if size else b""
        if self.signed:
            name, _, provided = extension.decode("latin-1").partition("=")
            if name.strip() != "chunk-signature":
                raise BodyError(S3Error("IncompleteBody", "aws-chunked frame without "
                                                          "chunk-signature"))
            self._check_chunk(data, provided.strip())
        if size:
            if self.source.read_exact(2) != b"\r\n":
                raise BodyError(S3Error("IncompleteBody", "aws-chunked frame not ended by CRLF"))
            return data
        self._read_trailers()
        self.done = True
        return b""

    def _chunk_string(self, data: bytes) -> str:
        sig = self.signature
        assert sig is not None
        return "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", sig.amz_date, sig.scope, self.previous,
                          EMPTY_SHA256, hashlib.sha256(data).hexdigest()])

    def _check_chunk(self, data: bytes, provided: str) -> None:
        sig = self.signature
        if sig is None or sig.chunk_key is None:
            raise BodyError(S3Error("AccessDenied", "signed chunks need a verified seed "
                                                    "signature"))
        expected = hmac.new(sig.chunk_key, self._chunk_string(data).encode("utf-8"),
                            hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, provided):
            raise BodyError(S3Error("SignatureDoesNotMatch", "The chunk signature does not "
                                                             "match"))
        self.previous = provided

    def _read_trailers(self) -> None:
        lines = []
        while True:
            line = self.source.read_line()
            if not line:
                break
            lines.append(line.decode("latin-1"))
            if len(lines) > MAX_TRAILERS:
                raise BodyError(S3Error("InvalidRequest", "too many trailing headers"))
        trailer_signature = None
        for line in lines:
            name, sep, value = line.partition(":")
            if not sep:
                raise BodyError(S3Error("IncompleteBody", f"malformed trailing header {line!r}"))
            name, value = name.strip().lower(), value.strip()
            if name == "x-amz-trailer-signature":
                trailer_signature = value
            else:
                self.trailers[name] = value
        if self.signed and self.trailer_expected:
            self._check_trailer_signature(trailer_signature)

    def _check_trailer_signature(self, provided: str | None) -> None:
        sig = self.signature
        assert sig is not None and sig.chunk_key is not None
        canonical = "".join(f"{name}:{value}\n" for name, value in self.trailers.items())
        to_sign = "\n".join(["AWS4-HMAC-SHA256-TRAILER", sig.amz_date, sig.scope, self.previous,
                             hashlib.sha256(canonical.encode("latin-1")).hexdigest()])
        expected = hmac.new(sig.chunk_key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        if provided is None or not hmac.compare_digest(expected, provided):
            raise BodyError(S3Error("SignatureDoesNotMatch", "The trailer signature does not "
                                                             "match"))


class S3Body(io.RawIOBase):
    """The decoded, verified body of an S3 upload (see the module docstring).

    ``length`` is the decoded length (``x-amz-decoded-content-length`` for
    aws-chunked, else ``Content-Length``); ``checksum`` an (algorithm, base64
    value) from a header, or (algorithm, None) when it comes as a trailer.
    After the last byte, ``checksum_value`` holds the verified checksum to store.
    """

    def __init__(self, raw: BinaryIO, *, raw_length: int | None, length: int, payload_hash: str,
                 signature: SignatureV4 | None = None,
                 checksum: tuple[str, str | None] | None = None,
                 compute: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.source = _Buffered(raw, raw_length)
        self.length = length
        self.left = length
        self.decoder = (_ChunkDecoder(self.source, payload_hash, signature)
                        if payload_hash in STREAMING_MODES else None)
        self.sha256 = hashlib.sha256() if payload_hash not in (UNSIGNED_PAYLOAD, *STREAMING_MODES) \
            else None
        self.payload_hash = payload_hash
        self.checksum = checksum
        algorithms = set(compute) | ({checksum[0]} if checksum else set())
        self.hashers = {name: checksums.new_hasher(name) for name in algorithms}
        self.pending = b""
        self.checksum_value: str | None = None
        self.computed: dict[str, str] = {}
        self.error: S3Error | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._read(size)
        except BodyError as err:
            self.error = err.error
            raise

    def _read(self, size: int) -> bytes:
        if self.left <= 0:
            return b""
        size = self.left if size is None or size < 0 else min(size, self.left)
        if self.decoder is not None:
            while not self.pending:
                self.pending = self.decoder.next_chunk()
                if not self.pending:
                    raise BodyError(S3Error("IncompleteBody"))
            data, self.pending = self.pending[:size], self.pending[size:]
        else:
            data = self.source.read_some(size)
            if not data:
                raise BodyError(S3Error("IncompleteBody"))
        self.left -= len(data)
        if self.left < 0:
            raise BodyError(S3Error("IncompleteBody", "the body is longer than declared"))
        if self.sha256 is not None:
            self.sha256.update(data)
        for hasher in self.hashers.values():
            hasher.update(data)
        if self.left == 0:
            self._finish()
        return data

    def readinto(self, buffer) -> int:  # io.RawIOBase protocol
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def _finish(self) -> None:
        """Every check at the end of the body, before its last byte goes on."""
        if self.decoder is not None:
            if self.pending or self.decoder.next_chunk():
                raise BodyError(S3Error("IncompleteBody", "the body is longer than "
                                                          "x-amz-decoded-content-length"))
        if self.sha256 is not None and not hmac.compare_digest(self.sha256.hexdigest(),
                                                                self.payload_hash):
            raise BodyError(S3Error("XAmzContentSHA256Mismatch",
                                    ClientComputedContentSHA256=self.payload_hash,
                                    S3ComputedContentSHA256=self.sha256.hexdigest()))
        self.computed = {name: checksums.encode(h.digest()) for name, h in self.hashers.items()}
        if self.checksum is not None:
            algorithm, expected = self.checksum
            if expected is None:
                assert self.decoder is not None
                expected = self.decoder.trailers.get(checksums.HEADER_PREFIX + algorithm)
                if expected is None:
                    raise BodyError(S3Error("InvalidRequest", f"The trailing header "
                                                              f"x-amz-checksum-{algorithm} is "
                                                              f"missing"))
            if not hmac.compare_digest(self.computed[algorithm], expected):
                raise BodyError(S3Error("BadDigest", f"The {algorithm.upper()} you specified "
                                                     f"did not match the calculated checksum."))
            self.checksum_value = expected


def requested_checksum(request) -> tuple[str, str | None] | None:
    """The flexible checksum the client sends: (algorithm, value) from an
    ``x-amz-checksum-<algorithm>`` header, (algorithm, None) when ``x-amz-trailer``
    announces it as a trailer, else None.  More than one is InvalidRequest."""
    sent = [(name[len(checksums.HEADER_PREFIX):], value)
            for name, value in request.headers_with_prefix(checksums.HEADER_PREFIX)
            if name[len(checksums.HEADER_PREFIX):] in checksums.ALGORITHMS]
    trailer = (request.header("x-amz-trailer") or "").strip().lower()
    if trailer:
        if not trailer.startswith(checksums.HEADER_PREFIX) or \
                trailer[len(checksums.HEADER_PREFIX):] not in checksums.ALGORITHMS:
            raise S3Error("InvalidRequest", f"Unsupported x-amz-trailer {trailer!r}")
        sent.append((trailer[len(checksums.HEADER_PREFIX):], None))
    if len(sent) > 1:
        raise S3Error("InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple "
                                        "checksum Types are not allowed.")
    return sent[0] if sent else None


def open_body(request, compute: tuple[str, ...] = ()) -> S3Body:
    """The request body as an ``S3Body`` (decoded length in ``.length``)."""
    env = request.env
    signature = request.signature
    payload_hash = getattr(signature, "payload_hash", "") or UNSIGNED_PAYLOAD
    raw_length_text = env.get("CONTENT_LENGTH")
    raw_length = int(raw_length_text) if raw_length_text and raw_length_text.isdigit() else None
    if payload_hash in STREAMING_MODES:
        decoded = request.header("x-amz-decoded-content-length")
        if decoded is None or not decoded.isdigit():
            raise S3Error("MissingContentLength", "aws-chunked uploads need "
                                                  "x-amz-decoded-content-length")
        length = int(decoded)
    elif raw_length is not None:
        length = raw_length
    elif env.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        raise S3Error("MissingContentLength")
    else:
        length = 0
    return S3Body(env["wsgi.input"], raw_length=raw_length, length=length,
                  payload_hash=payload_hash,
                  signature=signature if isinstance(signature, SignatureV4) else None,
                  checksum=requested_checksum(request), compute=compute)


def read_small_body(request, limit: int) -> bytes:
    """The whole (small) body, verified: XML documents of bucket and multipart calls."""
    body = open_body(request)
    if body.length > limit:
        raise S3Error("MaxMessageLengthExceeded", f"The request body is over {limit} bytes")
    chunks = []
    try:
        while True:
            chunk = body.read(READ_SIZE)
            if not chunk:
                break
            chunks.append(chunk)
    except BodyError as err:
        raise err.error from None
    return b"".join(chunks)


def content_md5_hex(request) -> str | None:
    """The Content-MD5 header (base64) as a hex digest, None when absent;
    InvalidDigest when it is no base64 MD5."""
    value = request.header("content-md5")
    if value is None:
        return None
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 16:
        raise S3Error("InvalidDigest")
    return digest.hex()
