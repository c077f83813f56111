"""Validation of client input against the cluster's constraints.

Each check returns an error ``Response`` (a clear 4xx saying why) or None, so
controllers read ``err = check(...); if err: return err``.
"""
from __future__ import annotations

import time

from objstore.common.checks import (
    InputError, body_length, check_object_size, delete_at, if_delete_at, listing_limit,
    metadata_error)
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
    try:
        check_object_size(body_length(req.headers.get("content-length"),
                                      req.headers.get("transfer-encoding")), max_size)
    except InputError as err:
        return error_response(err.status, str(err))
    return None


def delete_at_error(headers: dict[str, str]) -> Response | None:
    """Turn ``X-Delete-After`` into ``X-Delete-At`` (in place), as the object
    servers and the expiry queue store it.  The bodies are Swift's, verbatim."""
    now = time.time()
    try:
        at = delete_at(headers.get("x-delete-at"), headers.pop("x-delete-after", None), now, now)
    except InputError as err:
        return error_response(400, str(err), newline=False)
    if at is not None:
        headers["x-delete-at"] = at
    return None


def if_delete_at_error(headers: dict[str, str]) -> Response | None:
    """``X-If-Delete-At`` on DELETE must be whole seconds."""
    value = headers.get("x-if-delete-at")
    try:
        if value is not None:
            if_delete_at(value)
    except InputError as err:
        return error_response(400, str(err), newline=False)
    return None
