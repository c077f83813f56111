"""Bucket CORS: Put/Get/DeleteBucketCors, the preflight ``OPTIONS`` and the
``Access-Control-*`` headers of actual requests.

A browser's preflight carries no credentials, so it names no account: buckets
with a CORS configuration are recorded in the hidden account ``.s3_cors``
(object ``buckets/<bucket>``, the owning account in its sysmeta), which the
preflight reads with a system request.  Bucket names are per account here, so
when two accounts configure CORS on buckets of the same name, the preflight
follows the one that configured it last.  Actual requests are signed, so their
account is known and the rules come from the container info (cached).
"""
from __future__ import annotations

import logging

from objstore.common.http import Response
from objstore.common.paths import API_VERSIONS
from proxy.infocache import get_container_info
from proxy.internal.client import InternalClient, UnexpectedResponse
from proxy.internal.subrequest import make_env
from proxy.s3.bucket import xml_response
from proxy.s3.cors_rules import (
    MAX_CONFIG_BYTES, CORSRule, configuration_element, matching_rule, parse_configuration,
    storage_headers, stored_rules)
from proxy.s3.errors import S3Error
from proxy.s3.payload import read_small_body
from proxy.s3.request import S3Request

REGISTRY_ACCOUNT = ".s3_cors"
REGISTRY_CONTAINER = "buckets"
OWNER_SYSMETA = "x-object-sysmeta-s3-cors-account"
SOURCE = "S3_CORS"
# first path segments that are the Swift API's, never a path-style bucket's
SWIFT_PATHS = (*API_VERSIONS, "auth", "info")
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
logger = logging.getLogger("objstore.proxy-server")


def _registry(request: S3Request) -> InternalClient:
    return InternalClient(request.app, source=SOURCE)


# ---- the configuration ------------------------------------------------------------------

def put_bucket_cors(request: S3Request) -> Response:
    rules = parse_configuration(read_small_body(request, MAX_CONFIG_BYTES))
    request.swift_ok("POST", request.bucket, headers=storage_headers(rules)).close()
    registry = _registry(request)
    try:
        registry.put(REGISTRY_ACCOUNT, REGISTRY_CONTAINER)
        registry.put(REGISTRY_ACCOUNT, REGISTRY_CONTAINER, request.bucket,
                     headers={OWNER_SYSMETA: request.account,
                              "content-type": "application/octet-stream"})
    except UnexpectedResponse as err:
        logger.error("S3 CORS registry: recording bucket %s failed: %s", request.bucket, err)
        raise S3Error("ServiceUnavailable", "The CORS configuration was stored, but browsers' "
                                            "preflights may not find it yet; try again") from None
    return Response(200, {"content-length": "0"})


def get_bucket_cors(request: S3Request) -> Response:
    resp = request.swift_ok("HEAD", request.bucket)
    resp.close()
    short = len("x-container-sysmeta-")
    rules = stored_rules({name.lower()[short:]: value for name, value in resp.headers
                          if name.lower().startswith("x-container-sysmeta-")})
    if not rules:
        raise S3Error("NoSuchCORSConfiguration", BucketName=request.bucket)
    return xml_response(configuration_element(rules))


def delete_bucket_cors(request: S3Request) -> Response:
    request.swift_ok("POST", request.bucket, headers=storage_headers([])).close()
    registry = _registry(request)
    try:
        if _owner(registry, request.bucket or "") == request.account:
            registry.delete(REGISTRY_ACCOUNT, REGISTRY_CONTAINER, request.bucket)
    except UnexpectedResponse as err:  # a stale entry leads preflights to no rules: 403
        logger.warning("S3 CORS registry: removing bucket %s failed: %s", request.bucket, err)
    return Response(204, {})


def _owner(registry: InternalClient, bucket: str) -> str | None:
    resp = registry.head(REGISTRY_ACCOUNT, REGISTRY_CONTAINER, bucket, acceptable=(200, 204, 404))
    return resp.header(OWNER_SYSMETA) if resp.ok else None


def bucket_rules(request: S3Request, account: str) -> list[CORSRule]:
    """The CORS rules of ``request``'s bucket in ``account`` (cached container info)."""
    env = make_env(request.env, "HEAD", f"/v1/{account}/{request.bucket}", source=SOURCE)
    info = get_container_info(env, request.app, SOURCE)
    if info.get("status", 404) // 100 != 2:
        return []
    return stored_rules(info.get("sysmeta") or {})


# ---- requests from browsers -------------------------------------------------------------

def is_preflight(environ: dict, bucket_in_host: bool) -> bool:
    """An ``OPTIONS`` for S3: S3 has no other, so every one is a preflight, except on
    the Swift API's own paths (``/v1/...``, ``/auth/...``) of path-style requests."""
    if environ.get("REQUEST_METHOD") != "OPTIONS":
        return False
    first = (environ.get("PATH_INFO") or "/").lstrip("/").partition("/")[0]
    return bucket_in_host or first not in SWIFT_PATHS


def preflight(request: S3Request) -> Response:
    """The answer to a browser's ``OPTIONS``: 200 with what the first matching rule
    allows, else 403 ``AccessForbidden``."""
    origin = request.header("origin")
    method = request.header("access-control-request-method")
    if not origin:
        raise S3Error("BadRequest", "Insufficient information. Origin request header needed.")
    if not method:
        raise S3Error("BadRequest", "Invalid Access-Control-Request-Method: null")
    resource = "BUCKET" if request.key is None else "OBJECT"
    if request.bucket is None:
        raise S3Error("AccessForbidden", Method=method, ResourceType="SERVICE")
    try:
        owner = _owner(_registry(request), request.bucket)
    except UnexpectedResponse:
        raise S3Error("ServiceUnavailable") from None
    rules = bucket_rules(request, owner) if owner else []
    if not rules:
        raise S3Error("AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.",
                      Method=method, ResourceType=resource)
    wanted = [h.strip() for h in (request.header("access-control-request-headers") or "")
              .split(",") if h.strip()]
    rule = matching_rule(rules, origin, method, wanted)
    if rule is None:
        raise S3Error("AccessForbidden", Method=method, ResourceType=resource)
    headers = rule_headers(rule, origin)
    if wanted:
        headers["access-control-allow-headers"] = ", ".join(h.lower() for h in wanted)
    return Response(200, {**headers, "content-length": "0"}, [])


def rule_headers(rule: CORSRule, origin: str) -> dict[str, str]:
    """The ``Access-Control-*`` headers S3 sends when ``rule`` matched ``origin``."""
    headers = {"access-control-allow-origin": rule.allow_origin(origin),
               "access-control-allow-methods": ", ".join(rule.methods),
               "vary": VARY}
    if "*" not in rule.origins:
        headers["access-control-allow-credentials"] = "true"
    if rule.expose_headers:
        headers["access-control-expose-headers"] = ", ".join(rule.expose_headers)
    if rule.max_age is not None:
        headers["access-control-max-age"] = str(rule.max_age)
    return headers


def add_actual_headers(request: S3Request, response: Response) -> None:
    """Add what the bucket's first rule matching the request's Origin and method allows
    (nothing when none does: the browser then keeps the answer from the page)."""
    origin = request.header("origin")
    if not origin or request.bucket is None or not request.account:
        return
    try:
        rules = bucket_rules(request, request.account)
    except Exception:  # the answer itself is ready: send it without CORS headers
        logger.exception("S3 CORS: reading the rules of bucket %s failed", request.bucket)
        return
    rule = matching_rule(rules, origin, request.method)
    if rule is not None:
        response.headers.update(rule_headers(rule, origin))
