"""Client input checked against the cluster's constraints, once for every layer.

The proxy checks a client request first; storage nodes check again what they
are sent (another proxy, a replicator or a misbehaving client may be talking
to them).  Each check returns the client-visible message (Swift's wording) or
None, so each layer wraps it in its own 4xx.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Iterable

from objstore.common.constraints import Constraints, wsgi_to_str

# Sizes, counts, offsets and times all fit in 19 digits (2**63 has 19); a longer
# number is refused before int() sees it (int() refuses over 4,300 digits itself,
# with a ValueError no caller expects, and is quadratic below that).
MAX_NUMBER_DIGITS = 19
MAX_NUMBER = 2 ** 63 - 1
MAX_JSON_DEPTH = 32
MAX_PARTITION = 2 ** 32 - 1  # partitions are stored as 4 bytes


class InputError(ValueError):
    """Client input that cannot be used; ``str()`` is the message for the client and
    ``status`` the answer where the rule decides it (400 unless it says otherwise)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


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


def path_names_error(names: list[str], limits: Constraints) -> str | None:
    """Why an API path's account or container name (decoded) is invalid, or None.

    The names a request goes *through* (an object's account and container, a
    container's account) must be valid in full, whichever header or sub-request
    built the path (a COPY Destination, an X-Copy-From, a Destination-Account);
    the length of the name a request is *about* is left to its verb (a GET of a
    too long name finds nothing; its PUT is refused with Swift's own 400)."""
    maxima = (limits.max_account_name_length, limits.max_container_name_length)
    for index, (kind, name, max_length) in enumerate(zip(("Account", "Container"), names, maxima)):
        is_target = index == len(names) - 1
        error = name_error(name, kind, MAX_NUMBER if is_target else max_length)
        if error:
            return error
    return None


def device_error(device: str, partition: str) -> str | None:
    """A storage node's ``/<device>/<partition>`` names: one path component, a number."""
    if not device or device in (".", "..") or "\x00" in device or "/" in device:
        return f"Invalid device name {device!r}"
    try:
        parse_int(partition, "partition", maximum=MAX_PARTITION)
    except InputError:
        return f"Invalid partition {partition[:40]!r}"
    return None


def parse_int(text: str | None, name: str, minimum: int = 0, maximum: int = MAX_NUMBER) -> int:
    """``text`` as a whole number in ``minimum..maximum``, else InputError.

    The one parser of numbers from headers, query strings and JSON: ASCII digits
    (a leading ``-`` only where ``minimum`` is negative), at most
    ``MAX_NUMBER_DIGITS`` of them, so no input reaches ``int()`` that it would
    refuse or choke on.
    """
    if len(_digits(text, name, minimum < 0)) > MAX_NUMBER_DIGITS:
        raise InputError(f"Invalid {name}: more than {MAX_NUMBER_DIGITS} digits")
    value = int(text)  # type: ignore[arg-type]
    if value < minimum:
        raise InputError(f"Invalid {name}: less than {minimum}")
    if value > maximum:
        raise InputError(f"Invalid {name}: more than {maximum}")
    return value


def parse_clamped_int(text: str | None, name: str, minimum: int, maximum: int) -> int:
    """``text``, a whole number of any length, clamped into ``minimum..maximum``
    (InputError when it is not a number): for values Swift clamps rather than
    refuses, such as expiry times and byte offsets past any object's end."""
    digits = _digits(text, name, minimum < 0).lstrip("0")
    if len(digits) > MAX_NUMBER_DIGITS:
        return minimum if text.startswith("-") else maximum  # type: ignore[union-attr]
    return min(max(int(text), minimum), maximum)  # type: ignore[arg-type]


def _digits(text: str | None, name: str, signed: bool) -> str:
    """The ASCII digits of ``text`` (after a ``-`` when ``signed``), else InputError."""
    if text is None:
        raise InputError(f"Missing {name}")
    digits = text[1:] if signed and text[:1] == "-" else text
    if not (digits.isascii() and digits.isdigit()):
        raise InputError(f"Invalid {name}: not a whole number")
    return digits


def listing_limit(raw: str | None, max_limit: int) -> int:
    """A listing's ``limit`` parameter: ``max_limit`` when absent or not a whole
    number (ignored, as Swift does); InputError ("Maximum limit", 412 for the
    caller) when it asks for more than ``max_limit``, however many digits."""
    if not (raw and raw.isascii() and raw.isdigit()):
        return max_limit
    try:
        return parse_int(raw, "limit", maximum=max_limit)
    except InputError:
        raise InputError(f"Maximum limit is {max_limit}") from None


def is_whole_number(text: str | None) -> bool:
    """Whether ``parse_int`` accepts ``text`` (for inputs that are ignored, not
    refused, when they are not a number, as Swift ignores a bad listing limit)."""
    try:
        parse_int(text, "number")
    except InputError:
        return False
    return True


def body_length(content_length: str | None, transfer_encoding: str | None) -> int | None:
    """An upload's body length, or None when it is chunked.  Transfer-Encoding
    wins over Content-Length (RFC 7230 3.3.3); InputError 501 for a coding other
    than chunked, 411 with neither header (an empty Content-Length is none),
    400 for a length that is not a whole number."""
    if transfer_encoding is not None:
        if transfer_encoding.strip().lower() != "chunked":
            raise InputError(f"Transfer-Encoding {transfer_encoding[:64]!r} is not supported", 501)
        return None
    if content_length in (None, ""):
        raise InputError("Missing Content-Length and not chunked", 411)
    return parse_int(content_length, "Content-Length")


def too_large_message(max_size: int) -> str:
    """Why an object over ``max_file_size`` is refused (413), before its body
    when the length is known and while it streams when it is not."""
    return f"Your request is too large; max object size is {max_size}"


def check_object_size(size: int | None, max_size: int) -> None:
    """InputError 413 when a known object length is over ``max_size``."""
    if size is not None and size > max_size:
        raise InputError(too_large_message(max_size), 413)


MAX_DELETE_AT = 9999999999  # Swift clamps expiry times to ten digits


def _expiry_seconds(text: str, header: str) -> int:
    try:
        return parse_clamped_int(text.strip(), header, -MAX_DELETE_AT, MAX_DELETE_AT)
    except InputError:
        raise InputError(f"Non-integer {header}") from None


def delete_at(at: str | None, after: str | None, sent_at: float, now: float) -> str | None:
    """The expiry time an upload or POST asks for, as the ten-digit string it is
    stored and queued under (Swift's form), or None with neither header.

    ``X-Delete-After`` counts from ``sent_at`` (the request's time) and wins over
    ``X-Delete-At``; both are clamped to ten digits and must be later than
    ``now``.  InputError with Swift's bodies, which clients compare verbatim."""
    if after is not None:
        when, header = int(sent_at) + _expiry_seconds(after, "X-Delete-After"), "X-Delete-After"
    elif at is not None:
        when, header = _expiry_seconds(at, "X-Delete-At"), "X-Delete-At"
    else:
        return None
    when = min(max(when, 0), MAX_DELETE_AT)
    if when <= now:
        raise InputError(f"{header} in past")
    return "%010d" % when


def if_delete_at(raw: str) -> str:
    """``X-If-Delete-At`` (a DELETE only if the object expires then) in the form
    ``delete_at`` stores; InputError (Swift's body) when not whole seconds."""
    try:
        return "%010d" % _expiry_seconds(raw, "X-If-Delete-At")
    except InputError:
        raise InputError("Bad X-If-Delete-At header value") from None


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def _json_depth_exceeds(text: str, max_depth: int) -> bool:
    """Whether arrays/objects in ``text`` nest deeper than ``max_depth`` (strings,
    which may hold brackets, are skipped); checked before parsing because the
    parser itself would recurse into a RecursionError."""
    depth = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub("", text)):
        depth += 1 if match.group() in "[{" else -1
        if depth > max_depth:
            return True
    return False


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:20]}")
    return value


def _bounded_json_int(text: str) -> int:
    return parse_int(text, "JSON number", minimum=-MAX_NUMBER)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json(raw: bytes | str, what: str, max_bytes: int,
              max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a JSON body or header (``what`` names it in messages) of at most
    ``max_bytes`` and ``max_depth`` levels; InputError when it is not valid,
    bounded JSON.  The one JSON parser for client input: no RecursionError, no
    giant integers, no NaN or Infinity."""
    if len(raw) > max_bytes:
        raise InputError(f"{what} is larger than {max_bytes} bytes")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{what} is not valid UTF-8") from None
    if _json_depth_exceeds(raw, max_depth):
        raise InputError(f"{what} nests deeper than {max_depth} levels")
    try:
        return json.loads(raw, parse_int=_bounded_json_int, parse_float=_finite_float,
                          parse_constant=_no_constant)
    except ValueError as err:
        raise InputError(f"{what} is not valid JSON: {err}") from None


def read_json_body(environ: dict, what: str, max_bytes: int) -> Any:
    """A request's JSON body (``load_json``), read no further than ``max_bytes``
    (Content-Length or not); InputError 413 past that, 400 when it is not JSON."""
    declared = environ.get("CONTENT_LENGTH")
    try:
        length = int(declared) if declared else None
    except ValueError:
        raise InputError("Content-Length is not a number") from None
    if length is not None and length > max_bytes:
        raise InputError(f"{what} is larger than {max_bytes} bytes", 413)
    raw = environ["wsgi.input"].read(max_bytes + 1 if length is None else length) \
        if length != 0 else b""
    if len(raw) > max_bytes:
        raise InputError(f"{what} is larger than {max_bytes} bytes", 413)
    return load_json(raw, what, max_bytes)
