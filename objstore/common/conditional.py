"""HTTP conditional requests (RFC 7232), one evaluator for every layer.

The object server applies it to a stored object and the large-object
middleware to an assembled SLO/DLO, so a client sees the same 304/412 either
way.  Rules:

- ``If-Match``: strong comparison (a ``W/`` tag never matches), ``*`` matches
  any existing representation; no match is 412.
- ``If-Unmodified-Since``: 412 when modified later.  RFC 7232 3.4 says to
  ignore it when ``If-Match`` is present; OpenStack Swift checks it anyway and
  its functional suite (``testIfMatchAndUnmodified``) expects that, so this
  evaluator does too.
- ``If-None-Match``: weak comparison; a match is 304 for GET/HEAD, else 412.
- ``If-Modified-Since``: GET/HEAD only, and only without ``If-None-Match``;
  304 when not modified since.

ETags compare without their quotes; dates at whole seconds (what
``Last-Modified`` shows), a fractional timestamp rounded up.
"""
from __future__ import annotations

import dataclasses
import math

from objstore.common.timestamp import parse_http_date

# the request headers this module judges, by name and by WSGI environ key: what a
# layer drops, forwards or keeps back when it answers conditions itself
HEADERS = ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since")
ENVIRON_KEYS = tuple("HTTP_" + name.upper().replace("-", "_") for name in HEADERS)

_WHY_412 = {
    "If-Match": "the object's ETag does not match If-Match",
    "If-Unmodified-Since": "the object was modified after If-Unmodified-Since",
    "If-None-Match": "If-None-Match matches the object's ETag",
}


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a request's preconditions decided: ``status`` 304 or 412, and
    ``header``, the condition that decided it (a 412's body names it: a client
    whose write or read was refused learns which of its conditions failed)."""
    status: int
    header: str

    @property
    def message(self) -> str:
        """A 412's body (a 304 has none, by HTTP's rules)."""
        return f"Precondition Failed: {_WHY_412[self.header]}"


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def strong_match(header: str, etag: str | None) -> bool:
    """Does ``header`` (an If-Match list) name ``etag``?  Weak tags never do."""
    tags = _tags(header)
    return "*" in tags or (etag is not None and etag.strip('"') in
                           [t.strip('"') for t in tags if not t.startswith("W/")])


def weak_match(header: str, etag: str | None) -> bool:
    """Does ``header`` (an If-None-Match list) name ``etag``, weak or strong?"""
    tags = _tags(header)
    return "*" in tags or (etag is not None and etag.strip('"') in
                           [t.removeprefix("W/").strip('"') for t in tags])


def evaluate(environ: dict, etag: str | None, last_modified: float | None) -> Outcome | None:
    """The status (304 or 412) that the request's preconditions impose and the
    condition that decided it, or None to proceed.

    ``last_modified`` is in seconds since the epoch (None when unknown: the
    date conditions are then ignored)."""
    is_read = environ.get("REQUEST_METHOD") in ("GET", "HEAD")
    modified = None if last_modified is None else math.ceil(last_modified)
    if_match = environ.get("HTTP_IF_MATCH")
    if if_match and not strong_match(if_match, etag):
        return Outcome(412, "If-Match")
    unmodified_since = parse_http_date(environ.get("HTTP_IF_UNMODIFIED_SINCE"))
    if unmodified_since is not None and modified is not None and modified > unmodified_since:
        return Outcome(412, "If-Unmodified-Since")
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match:
        if weak_match(if_none_match, etag):
            return Outcome(304 if is_read else 412, "If-None-Match")
    elif is_read:
        modified_since = parse_http_date(environ.get("HTTP_IF_MODIFIED_SINCE"))
        if modified_since is not None and modified is not None and modified <= modified_since:
            return Outcome(304, "If-Modified-Since")
    return None
