"""Client input checked against the cluster's constraints, once for every layer.

The proxy checks a client request first; storage nodes check again what they
are sent (another proxy, a replicator or a misbehaving client may be talking
to them).  Each check returns the client-visible message (Swift's wording) or
None, so each layer wraps it in its own 4xx.
"""
from __future__ import annotations

from typing import Iterable

from objstore.common.constraints import Constraints, wsgi_to_str


def metadata_totals_error(count: int, size: int, limits: Constraints) -> str | None:
    """Too many user metadata items, or too many bytes of them."""
    if count > limits.max_meta_count:
        return f"Too many metadata items; max {limits.max_meta_count}"
    if size > limits.max_meta_overall_size:
        return f"Total metadata too large; max {limits.max_meta_overall_size}"
    return None


def metadata_error(items: Iterable[tuple[str, str]], prefix: str, limits: Constraints,
                   utf8_only: bool) -> str | None:
    """Swift's limits on user metadata: ``items`` are ``(name after prefix, value)``
    pairs as WSGI strings (lengths count bytes); ``prefix`` (``X-Object-Meta-``...)
    names the header in messages.  Like Swift, object metadata may be any bytes
    (``utf8_only=False``); account and container metadata must be UTF-8."""
    count = size = 0
    for name, value in items:
        if not name:
            return "Metadata name cannot be empty"
        if utf8_only and (wsgi_to_str(name) is None or wsgi_to_str(value) is None):
            return "Metadata must be valid UTF-8"
        count += 1
        size += len(name) + len(value)
        if len(name) > limits.max_meta_name_length:
            return f"Metadata name too long: {prefix}{name}; max {limits.max_meta_name_length}"
        if len(value) > limits.max_meta_value_length:
            return f"Metadata value longer than {limits.max_meta_value_length}: {prefix}{name}"
        error = metadata_totals_error(count, size, limits)
        if error:
            return error
    return None


def name_length_error(name: str, kind: str, max_length: int) -> str | None:
    """``name`` (decoded) longer than ``max_length`` UTF-8 bytes, as Swift counts."""
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > max_length:
        return f"{kind} name length of {size} longer than {max_length}"
    return None


def name_error(name: str, kind: str, max_length: int) -> str | None:
    """Why ``name`` (already UTF-8 decoded) is not a valid account/container/object
    name, or None when it is valid.  Lengths count UTF-8 bytes, like Swift."""
    if not name:
        return f"{kind} name is empty"
    too_long = name_length_error(name, kind, max_length)
    if too_long:
        return too_long
    if "\x00" in name:
        return f"{kind} name contains a NUL byte"
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in name):
        return f"{kind} name is not valid UTF-8"
    if kind != "Object" and "/" in name:
        return f"{kind} name cannot contain '/'"
    if kind != "Object" and name in (".", ".."):
        return f"{kind} name cannot be '.' or '..'"
    return None


def device_error(device: str, partition: str) -> str | None:
    """A storage node's ``/<device>/<partition>`` names: one path component, a number."""
    if not device or device in (".", "..") or "\x00" in device or "/" in device:
        return f"Invalid device name {device!r}"
    if not (partition.isascii() and partition.isdigit()):
        return f"Invalid partition {partition!r}"
    return None
