"""One timestamp type for every server, listing record and replicator.

Swift-compatible: seconds since the epoch with 5 decimal places
(``1700000000.12345``), plus an optional *offset* that orders several events
recorded at the same instant (``1700000000.12345_000000000000000a``).  The
value is kept as an integer number of 10-microsecond ticks so that ordering and
equality are exact; floats never decide which write wins.
"""
from __future__ import annotations

import datetime
import email.utils
import functools
import math
import time

from objstore.common.checks import parse_int

PRECISION = 100_000  # ticks per second: 5 decimal places
_OFFSET_HEX_DIGITS = 16


@functools.total_ordering
class Timestamp:
    """A point in time with 10µs resolution and a same-instant offset."""

    __slots__ = ("ticks", "offset")

    def __init__(self, value: "Timestamp | str | float | int", offset: int = 0) -> None:
        if isinstance(value, Timestamp):
            ticks, base_offset = value.ticks, value.offset
        elif isinstance(value, str):
            ticks, base_offset = _parse(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ValueError(f"timestamp is not finite: {value!r}")
            ticks, base_offset = int(round(value * PRECISION)), 0
        else:
            raise TypeError(f"cannot make a Timestamp from {type(value).__name__}")
        if ticks < 0:
            raise ValueError(f"timestamp is negative: {value!r}")
        if offset < 0:
            raise ValueError("timestamp offset is negative")
        self.ticks = ticks
        self.offset = base_offset + offset
        if self.offset >= 16 ** _OFFSET_HEX_DIGITS:
            raise ValueError("timestamp offset too large")

    @classmethod
    def now(cls, offset: int = 0) -> "Timestamp":
        return cls(time.time(), offset)

    @property
    def seconds(self) -> float:
        return self.ticks / PRECISION

    @property
    def normal(self) -> str:
        """The client-visible form, e.g. ``1700000000.12345``."""
        whole, frac = divmod(self.ticks, PRECISION)
        return f"{whole:010d}.{frac:05d}"

    @property
    def internal(self) -> str:
        """The form used on disk and between servers: offset included when set."""
        if self.offset:
            return f"{self.normal}_{self.offset:0{_OFFSET_HEX_DIGITS}x}"
        return self.normal

    @property
    def http_date(self) -> str:
        """RFC 7231 date for Last-Modified; rounded up like Swift so that
        If-Modified-Since with the returned value matches."""
        return email.utils.formatdate(math.ceil(self.seconds), usegmt=True)

    @property
    def isoformat(self) -> str:
        """ISO 8601 with microseconds, as listings show ``last_modified``."""
        whole, frac = divmod(self.ticks, PRECISION)
        base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        return f"{base}.{frac * 10:06d}"

    def __str__(self) -> str:
        return self.internal

    def __repr__(self) -> str:
        return f"Timestamp({self.internal!r})"

    def _key(self) -> tuple[int, int]:
        return (self.ticks, self.offset)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Timestamp):
            try:
                other = Timestamp(other)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return NotImplemented
        return self._key() == other._key()

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Timestamp):
            other = Timestamp(other)  # type: ignore[arg-type]
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def _parse(text: str) -> tuple[int, int]:
    base, sep, offset_text = text.strip().partition("_")
    offset = 0
    if sep:
        if not offset_text or len(offset_text) > _OFFSET_HEX_DIGITS:
            raise ValueError(f"bad timestamp offset: {text!r}")
        offset = int(offset_text, 16)
    whole, dot, frac = base.partition(".")
    parse_int(whole, "timestamp")  # digits, and few enough that float() stays finite
    if dot and frac and not (frac.isascii() and frac.isdigit()):
        raise ValueError(f"bad timestamp: {text!r}")
    frac = (frac + "00000")[:5] if len(frac) <= 5 else frac
    if len(frac) > 5:  # more precision than we keep: round to nearest tick
        ticks = int(round(float(f"{whole}.{frac}") * PRECISION))
    else:
        ticks = int(whole) * PRECISION + int(frac)
    return ticks, offset


def parse_http_date(value: str | None) -> float | None:
    """Seconds since the epoch of an HTTP date (If-Modified-Since...); None if
    absent or unparseable, so that an invalid date makes a condition be ignored
    (RFC 7232).  A date without a zone is taken as UTC."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()
