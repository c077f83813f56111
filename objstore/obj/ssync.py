"""The ssync protocol between object servers: what is offered, what is wanted,
and how the files travel.

Replication pushes whole files (``.data``, ``.meta``, ``.ts``) with their
metadata over plain HTTP, in two requests per batch, both
``SSYNC /<device>/<partition>`` with ``X-Backend-Storage-Policy-Index``:

``X-Backend-Ssync-Phase: missing-check``
    Body: msgpack list of offers ``[hash, winner, meta, size]``: the object's
    hash, the file name of its newest ``.data`` or ``.ts``, the name of a
    newer ``.meta`` (or None) and the ``.data`` size (0 for a tombstone).
    Answer: msgpack ``{hash: "d" | "m" | "dm"}`` for the objects whose winner
    (``d``) and/or ``.meta`` (``m``) the receiver lacks or has older; 507 if
    the device is unmounted or the wanted bytes would not fit.

``X-Backend-Ssync-Phase: updates``
    Body (chunked): frames, each a 4-byte big-endian length, a msgpack header
    ``{"file": name, "metadata": {...}, "length": n}`` and ``n`` bytes of
    file content.  Answer: msgpack ``{"stored": [hash...], "skipped":
    [hash...], "failed": [[hash, reason]...]}``.

Comparing (winner, meta) timestamps is enough to decide, because every
version of an object is immutable: the same file name always holds the same
bytes and metadata.
"""
from __future__ import annotations

import struct
from typing import BinaryIO, Iterator, NamedTuple

import msgpack

from objstore.common.timestamp import Timestamp
from objstore.obj import ondisk

PHASE_HEADER = "X-Backend-Ssync-Phase"
MISSING_CHECK = "missing-check"
UPDATES = "updates"
WANT_WINNER = "d"
WANT_META = "m"
MAX_FRAME_HEADER = 1 << 20  # a header holds one file's metadata: a few KiB at most
_LENGTH = struct.Struct(">I")


class ProtocolError(ValueError):
    """A peer sent something that is not ssync."""


class Offer(NamedTuple):
    """One object as the sender has it."""
    hash: str
    winner: str            # newest .data or .ts file name
    meta: str | None       # a .meta newer than the winner (only offered beside a .data)
    size: int              # .data size, 0 for a tombstone


def offer_from(hash_: str, fileset: ondisk.FileSet, size: int) -> Offer | None:
    """The offer for a hash directory's files (None if it holds no winner)."""
    winner = fileset.data or fileset.tombstone
    if winner is None:
        return None
    return Offer(hash_, winner, fileset.meta if fileset.data else None, size if fileset.data else 0)


def _timestamp(name: str | None) -> Timestamp | None:
    return ondisk.file_timestamp(name) if name else None


def wanted(offer: Offer, local: ondisk.FileSet) -> str:
    """What the receiver, holding ``local``, wants of ``offer``: "", "d", "m" or "dm".

    A ``.meta`` only counts on top of a ``.data``: it is wanted if it is newer
    than every timestamp the receiver's object will have once the wanted
    winner is in (the winner's, and a local ``.meta`` newer than that).
    """
    want = ""
    winner_ts = _timestamp(offer.winner)
    local_ts = local.timestamp
    if local_ts is None or winner_ts > local_ts:
        want += WANT_WINNER
        has_data = offer.winner.endswith(ondisk.DATA)
        current = winner_ts
    else:
        has_data = local.data is not None
        current = local_ts
    local_meta = _timestamp(local.meta)
    if local_meta is not None and local_meta > current:
        current = local_meta
    if offer.meta and has_data and _timestamp(offer.meta) > current:
        want += WANT_META
    return want


def encode_offers(offers: list[Offer]) -> bytes:
    return msgpack.packb([list(offer) for offer in offers], use_bin_type=True)


def decode_offers(body: bytes) -> list[Offer]:
    """The offers of a missing-check body; ProtocolError if malformed."""
    try:
        items = msgpack.unpackb(body, raw=False)
        offers = [Offer(*item) for item in items]
    except Exception as err:  # msgpack raises several types for garbage
        raise ProtocolError(f"bad missing-check body: {err}") from None
    for offer in offers:
        if not (_is_hash(offer.hash) and _is_file(offer.winner, (ondisk.DATA, ondisk.TOMBSTONE))
                and (offer.meta is None or _is_file(offer.meta, (ondisk.META,)))
                and isinstance(offer.size, int) and offer.size >= 0):
            raise ProtocolError(f"bad offer {list(offer)!r}")
    return offers


def _is_hash(value: object) -> bool:
    return isinstance(value, str) and len(value) == 32 and \
        all(ch in "0123456789abcdef" for ch in value)


def _is_file(name: object, extensions: tuple[str, ...]) -> bool:
    if not isinstance(name, str) or not name.endswith(extensions):
        return False
    try:
        ondisk.file_timestamp(name)
    except ValueError:
        return False
    return True


def frame_header(file_name: str, metadata: dict[str, str], length: int) -> bytes:
    """The bytes that precede a file's ``length`` bytes of content in an updates body."""
    header = msgpack.packb({"file": file_name, "metadata": metadata, "length": length},
                           use_bin_type=True)
    return _LENGTH.pack(len(header)) + header


class Frame(NamedTuple):
    file: str
    metadata: dict[str, str]
    length: int


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise ProtocolError("body ended inside a frame")
        data += chunk
    return data


def read_frame(stream: BinaryIO) -> Frame | None:
    """The next frame's header (its content follows in the stream), None at the end."""
    first = stream.read(_LENGTH.size)
    if not first:
        return None
    prefix = first + _read_exactly(stream, _LENGTH.size - len(first))
    (size,) = _LENGTH.unpack(prefix)
    if size > MAX_FRAME_HEADER:
        raise ProtocolError(f"frame header of {size} bytes")
    try:
        header = msgpack.unpackb(_read_exactly(stream, size), raw=False)
        frame = Frame(header["file"], header["metadata"], header["length"])
    except ProtocolError:
        raise
    except Exception as err:
        raise ProtocolError(f"bad frame header: {err}") from None
    if not (_is_file(frame.file, ondisk.EXTENSIONS) and isinstance(frame.metadata, dict)
            and isinstance(frame.length, int) and frame.length >= 0):
        raise ProtocolError(f"bad frame header {header!r}")
    if not frame.file.endswith(ondisk.DATA) and frame.length:
        raise ProtocolError(f"{frame.file} cannot have content")
    return frame


def read_content(stream: BinaryIO, length: int, chunk_size: int) -> Iterator[bytes]:
    """A frame's ``length`` bytes of content, in chunks; ProtocolError if the body is short."""
    remaining = length
    while remaining:
        chunk = stream.read(min(chunk_size, remaining))
        if not chunk:
            raise ProtocolError("body ended inside a file")
        remaining -= len(chunk)
        yield chunk


def encode_result(stored: list[str], skipped: list[str], failed: list[tuple[str, str]]) -> bytes:
    return msgpack.packb({"stored": stored, "skipped": skipped,
                          "failed": [list(item) for item in failed]}, use_bin_type=True)
