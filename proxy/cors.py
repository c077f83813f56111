"""CORS for browsers, as Swift does it: rules live in container metadata.

``X-Container-Meta-Access-Control-Allow-Origin`` (space-separated origins, or
``*``), ``...-Max-Age``, ``...-Expose-Headers`` and ``...-Allow-Headers``
apply to the container and its objects; ``cors_allow_origin`` in
``[proxy-server]`` adds origins allowed everywhere.  A preflight (``OPTIONS``
with ``Origin`` and ``Access-Control-Request-Method``) gets 200 with the
``Access-Control-Allow-*`` headers or 401; an actual request from an allowed
origin gets ``Access-Control-Allow-Origin`` and ``-Expose-Headers``.
"""
from __future__ import annotations

from objstore.common.http import Response, error_response

# the CORS spec's simple response headers, plus Swift's
DEFAULT_EXPOSE = ("cache-control", "content-language", "content-type", "expires",
                  "last-modified", "pragma", "etag", "x-timestamp", "x-trans-id",
                  "x-openstack-request-id")
_USER_META = ("x-object-meta-", "x-container-meta-", "x-account-meta-")


def allowed_origins(info: dict | None, cluster_origins: frozenset[str]) -> set[str]:
    meta = (info or {}).get("meta", {})
    return set(meta.get("access-control-allow-origin", "").split()) | cluster_origins


def origin_allowed(origin: str, origins: set[str]) -> bool:
    return "*" in origins or origin in origins


def preflight(origin: str, request_headers: dict[str, str], info: dict | None,
              cluster_origins: frozenset[str], methods: list[str]) -> Response:
    """The answer to ``OPTIONS`` from a browser about to send ``origin``'s request."""
    wanted = request_headers.get("access-control-request-method", "")
    origins = allowed_origins(info, cluster_origins)
    if not origin_allowed(origin, origins) or wanted not in methods:
        return error_response(401, "CORS preflight denied: origin or method not allowed")
    meta = (info or {}).get("meta", {})
    headers = {"allow": ", ".join(methods), "content-length": "0",
               "access-control-allow-origin": "*" if "*" in origins else origin,
               "access-control-allow-methods": ", ".join(methods)}
    allow_headers = meta.get("access-control-allow-headers") or \
        request_headers.get("access-control-request-headers")
    if allow_headers:
        headers["access-control-allow-headers"] = allow_headers
    if meta.get("access-control-max-age"):
        headers["access-control-max-age"] = meta["access-control-max-age"]
    return Response(200, headers, [])


def add_actual_headers(response: Response, origin: str, info: dict | None,
                       cluster_origins: frozenset[str]) -> None:
    """Headers that let a browser hand ``response`` to ``origin``'s script."""
    origins = allowed_origins(info, cluster_origins)
    if not origin_allowed(origin, origins):
        return
    meta = (info or {}).get("meta", {})
    expose = list(DEFAULT_EXPOSE)
    expose += [name for name in response.headers if name.startswith(_USER_META)]
    expose += meta.get("access-control-expose-headers", "").lower().split()
    response.headers["access-control-allow-origin"] = "*" if "*" in origins else origin
    response.headers["access-control-expose-headers"] = ", ".join(dict.fromkeys(expose))
