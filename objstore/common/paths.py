"""The one way every layer splits a request path into its names.

Storage nodes take ``/<device>/<partition>/<account>[/<container>[/<object>]]``;
the proxy and its middleware take the Swift API's
``/<version>/<account>[/<container>[/<object>]]`` with any version in
``API_VERSIONS``.  Every layer splitting the same way is what makes a request on
``/v1.0/`` meet the same middleware as one on ``/v1/``.
"""
from __future__ import annotations

from typing import NamedTuple

API_VERSIONS = ("v1", "v1.0")


def split_path(path: str, minsegs: int = 1, maxsegs: int | None = None,
               rest_with_last: bool = False) -> list[str | None]:
    """``path``'s segments as a list of ``maxsegs`` items (None for absent ones).

    The first ``minsegs`` segments must be present and non-empty.  With
    ``rest_with_last`` the last item keeps everything after it, slashes included
    (an object name); otherwise a path with more than ``maxsegs`` segments is
    refused, except for one trailing slash.  Raises ValueError for a path that
    does not fit.
    """
    maxsegs = minsegs if maxsegs is None else maxsegs
    if not 1 <= minsegs <= maxsegs:
        raise ValueError(f"bad segment counts {minsegs}..{maxsegs}")
    if not path.startswith("/"):
        raise ValueError(f"invalid path: {path!r}")
    segments = path[1:].split("/", maxsegs - 1 if rest_with_last else maxsegs)
    if len(segments) > maxsegs:
        if segments[maxsegs:] != [""]:  # more than one trailing slash or more names
            raise ValueError(f"invalid path: {path!r}")
        segments = segments[:maxsegs]
    if len(segments) < minsegs or "" in segments[:minsegs]:
        raise ValueError(f"invalid path: {path!r}")
    return segments + [None] * (maxsegs - len(segments))


class ApiPath(NamedTuple):
    """The names in a Swift API path (WSGI strings, as in ``PATH_INFO``)."""
    version: str
    account: str
    container: str | None
    obj: str | None


def split_api_path(path: str) -> ApiPath | None:
    """``/<version>/<account>[/<container>[/<object>]]`` split, or None when ``path``
    is not an API request (unknown version, no account).  A trailing slash leaves
    an empty last name (``/v1/a/`` has container ``""``)."""
    try:
        version, account, container, obj = split_path(path, 2, 4, rest_with_last=True)
    except ValueError:
        return None
    if version not in API_VERSIONS:
        return None
    return ApiPath(version, account, container, obj)  # type: ignore[arg-type]


def split_object_path(path: str) -> tuple[str, str, str] | None:
    """(account, container, object) of an object request's path, else None."""
    api = split_api_path(path)
    if api is None or not api.container or not api.obj:
        return None
    return api.account, api.container, api.obj


def split_object_name(name: str) -> tuple[str, str, str] | None:
    """``/<account>/<container>/<object>`` (an object's stored ``name``, whose
    object part may hold slashes) as its three names, or None when one is missing."""
    try:
        account, container, obj = split_path(name, 3, 3, rest_with_last=True)
    except ValueError:
        return None
    return account, container, obj  # type: ignore[return-value]


def split_object_ref(ref: str) -> tuple[str, str] | None:
    """``[/]<container>/<object>`` (a copy's Destination or X-Copy-From, an SLO
    segment's path) as (container, object), or None when either is missing."""
    try:
        container, obj = split_path("/" + ref.lstrip("/"), 2, 2, rest_with_last=True)
    except ValueError:
        return None
    return container, obj  # type: ignore[return-value]


def leading_path(path: str, count: int) -> str:
    """The first ``count`` names of ``/<name>/<name>/...``: the path of the
    account (1) or the container (2) that an item's path is in."""
    return "/".join(path.split("/", count + 1)[:count + 1])
