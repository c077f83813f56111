"""Byte ranges (RFC 7233): parsing ``Range`` and multipart/byteranges bodies;
used by the object server and (parsing only) the large-object middleware.

A syntactically invalid Range header is ignored (the whole object is
served, 200), as RFC 7233 and Swift do; a valid one none of whose ranges
fits the object gets 416 with ``Content-Range: bytes */<length>``.
"""
from __future__ import annotations

from typing import Callable, Iterable, Iterator

from objstore.common.checks import MAX_NUMBER, parse_clamped_int

MAX_RANGES = 100


class Unsatisfiable(Exception):
    """No requested range overlaps the object."""


def parse_range(header: str | None, length: int) -> list[tuple[int, int]] | None:
    """[(start, stop), ...] (stop exclusive), None to ignore the header;
    raises Unsatisfiable for 416."""
    if not header:
        return None
    unit, _, specs = header.partition("=")
    if unit.strip().lower() != "bytes" or not specs.strip():
        return None
    ranges = []
    parts = [spec.strip() for spec in specs.split(",")]
    if len(parts) > MAX_RANGES:
        return None
    for spec in parts:
        first, dash, last = spec.partition("-")
        first, last = first.strip(), last.strip()
        if not dash or (first and not _is_number(first)) or (last and not _is_number(last)) \
                or not (first or last):
            return None
        if first:
            start = _offset(first)
            if last and _offset(last) < start:
                return None
            stop = min(_offset(last) + 1, length) if last else length
            if start < length:
                ranges.append((start, stop))
        else:
            suffix = _offset(last)
            if suffix > 0 and length > 0:
                ranges.append((max(0, length - suffix), length))
    if not ranges:
        raise Unsatisfiable()
    return ranges


def _is_number(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` alone also accepts '²', which int() refuses."""
    return text.isascii() and text.isdigit()


def _offset(digits: str) -> int:
    """A byte position; one too long to parse is past the end of any object."""
    return parse_clamped_int(digits, "Range", 0, MAX_NUMBER)


def content_range(start: int, stop: int, length: int) -> str:
    return f"bytes {start}-{stop - 1}/{length}"


class MultipartRanges:
    """A multipart/byteranges body; knows its exact length up front."""

    def __init__(self, ranges: list[tuple[int, int]], length: int, content_type: str,
                 boundary: str, read_range: Callable[[int, int], Iterable[bytes]]) -> None:
        self.ranges = ranges
        self.read_range = read_range
        self.boundary = boundary.encode("ascii")
        self.heads = []
        for index, (start, stop) in enumerate(ranges):
            head = (b"" if index == 0 else b"\r\n") + b"--" + self.boundary + b"\r\n" + (
                f"Content-Type: {content_type}\r\n"
                f"Content-Range: {content_range(start, stop, length)}\r\n\r\n"
            ).encode("latin-1")
            self.heads.append(head)
        self.tail = b"\r\n--" + self.boundary + b"--"

    @property
    def content_length(self) -> int:
        return sum(len(h) for h in self.heads) + sum(stop - start for start, stop in self.ranges) \
            + len(self.tail)

    def __iter__(self) -> Iterator[bytes]:
        for head, (start, stop) in zip(self.heads, self.ranges):
            yield head
            yield from self.read_range(start, stop)
        yield self.tail
