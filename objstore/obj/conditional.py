"""HTTP conditional requests (RFC 7232) as Swift's object server applies them.

Order: If-Match, then If-Unmodified-Since (checked even when If-Match
matched, as Swift does); then If-None-Match, else If-Modified-Since (GET/HEAD
only).  ETags compare as unquoted MD5 hex;
``*`` matches any existing object.  Last-Modified is the object's
timestamp rounded up to whole seconds (what ``Last-Modified`` shows).
"""
from __future__ import annotations

import math

from objstore.common.timestamp import parse_http_date


def _etags(header: str) -> list[str]:
    return [tag.strip().removeprefix("W/").strip('"') for tag in header.split(",") if tag.strip()]


def etag_matches(header: str, etag: str | None) -> bool:
    tags = _etags(header)
    return "*" in tags or (etag is not None and etag.strip('"') in tags)


def evaluate(environ: dict, etag: str, last_modified: float) -> int | None:
    """Status (304 or 412) that the preconditions impose, or None to proceed."""
    method = environ.get("REQUEST_METHOD")
    modified = math.ceil(last_modified)
    if_match = environ.get("HTTP_IF_MATCH")
    if if_match is not None and not etag_matches(if_match, etag):
        return 412
    # Swift also checks If-Unmodified-Since when If-Match matched
    since = parse_http_date(environ.get("HTTP_IF_UNMODIFIED_SINCE"))
    if since is not None and modified > since:
        return 412
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        if etag_matches(if_none_match, etag):
            return 304 if method in ("GET", "HEAD") else 412
    elif method in ("GET", "HEAD"):
        since = parse_http_date(environ.get("HTTP_IF_MODIFIED_SINCE"))
        if since is not None and modified <= since:
            return 304
    return None
