"""Byte sizes as people write them (``1048576``, ``100M``, ``1G``, ``1.5GiB``) and back."""
from __future__ import annotations

import re

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}


def parse_size(text: str) -> int:
    """Bytes in ``text``; K/M/G/T suffixes are powers of 1024, like the swift CLI's."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r} (examples: 1048576, 100M, 1G)")
    number, unit, _ = match.groups()
    size = int(float(number) * 1024 ** _POWERS[unit.lower()])
    if size <= 0:
        raise ValueError(f"size must be positive: {text!r}")
    return size


def human_size(size: float) -> str:
    """``1536`` -> ``1.5 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
