"""Validation of client input against the cluster's constraints.

Each check returns an error ``Response`` (a clear 4xx saying why) or None, so
controllers read ``err = check(...); if err: return err``.
"""
from __future__ import annotations

import time

from objstore.common.checks import (
    InputError, listing_limit, metadata_error, parse_clamped_int, parse_int)
from objstore.common.constraints import Constraints
from objstore.common.http import Response, error_response
from proxy.http import Request

LISTING_PARAMS = ("marker", "end_marker", "prefix", "delimiter", "path", "format", "reverse")


def remove_headers_to_empty(headers: dict[str, str], target: str) -> None:
    """``X-Remove-<Target>-Meta-Foo`` (and ``X-Remove-Container-Read``...)
    become ``X-<Target>-Meta-Foo:`` with an empty value, which deletes them."""
    prefix = f"x-remove-{target}-"
    for name in [n for n in headers if n.startswith(prefix)]:
        headers.pop(name)
        headers.setdefault(f"x-{target}-{name[len(prefix):]}", "")


def check_metadata(headers: dict[str, str], target: str, limits: Constraints) -> Response | None:
    """Count, name and value sizes of ``X-<target>-Meta-*`` headers."""
    prefix = f"x-{target}-meta-"
    error = metadata_error(((name[len(prefix):], value) for name, value in headers.items()
                            if name.startswith(prefix)),
                           f"X-{target.title()}-Meta-", limits, utf8_only=target != "object")
    return error_response(400, error) if error else None


def check_listing(req: Request, max_limit: int) -> Response | None:
    """Query parameters of an account or container listing."""
    try:
        for name in LISTING_PARAMS:
            req.param(name)
        limit = req.param("limit")
    except ValueError as err:
        return error_response(400, str(err))
    try:
        listing_limit(limit, max_limit)
    except InputError as err:
        return error_response(412, str(err))
    return None


def content_length_error(req: Request, max_size: int) -> Response | None:
    """Body framing of an upload: chunked, or a sane Content-Length."""
    encoding = req.headers.get("transfer-encoding")
    if encoding is not None:
        if encoding.lower() != "chunked":
            return error_response(501, f"Transfer-Encoding {encoding[:64]!r} is not supported")
        return None
    length = req.headers.get("content-length")
    if length is None:
        return error_response(411, "Missing Content-Length and not chunked")
    try:
        size = parse_int(length, "Content-Length")
    except InputError as err:
        return error_response(400, str(err))
    if size > max_size:
        return error_response(413, f"Your request is too large; max object size is {max_size}")
    return None


MAX_DELETE_AT = 9999999999  # Swift clamps expiry times to ten digits


def _whole_seconds(value: str) -> int | None:
    try:
        return parse_clamped_int(value.strip(), "seconds", -MAX_DELETE_AT, MAX_DELETE_AT)
    except InputError:
        return None


def delete_at_error(headers: dict[str, str]) -> Response | None:
    """Turn ``X-Delete-After`` into ``X-Delete-At`` (in place), clamped to
    ten digits as Swift does; both must be whole seconds in the future.  The
    bodies are Swift's, verbatim."""
    now = time.time()
    after = headers.pop("x-delete-after", None)
    if after is not None:
        seconds = _whole_seconds(after)
        if seconds is None:
            return error_response(400, "Non-integer X-Delete-After", newline=False)
        at = min(max(int(now) + seconds, 0), MAX_DELETE_AT)
        if at <= now:
            return error_response(400, "X-Delete-After in past", newline=False)
        headers["x-delete-at"] = "%010d" % at
        return None
    if "x-delete-at" in headers:
        at = _whole_seconds(headers["x-delete-at"])
        if at is None:
            return error_response(400, "Non-integer X-Delete-At", newline=False)
        at = min(max(at, 0), MAX_DELETE_AT)
        if at <= now:
            return error_response(400, "X-Delete-At in past", newline=False)
        headers["x-delete-at"] = "%010d" % at
    return None


def if_delete_at_error(headers: dict[str, str]) -> Response | None:
    """``X-If-Delete-At`` on DELETE must be whole seconds."""
    value = headers.get("x-if-delete-at")
    if value is not None and _whole_seconds(value) is None:
        return error_response(400, "Bad X-If-Delete-At header value", newline=False)
    return None
