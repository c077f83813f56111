"""One S3 request: its bucket, key and query, and the Swift sub-requests that answer it.

Sub-requests run *as the caller* (``subrequest.make_env``): after the auth
middleware accepted the signature, the request carries the user's identity,
so the proxy authorizes each sub-request like a Swift request of that user.
"""
from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import parse_qsl

from objstore.common.constraints import wsgi_to_str
from objstore.common.wsgi import WSGIApp
from proxy.internal.subrequest import SubResponse, call_app, make_env
from proxy.s3.errors import S3Error

if TYPE_CHECKING:
    from proxy.s3.config import S3Config

SOURCE = "S3"
ERROR_BODY_LIMIT = 4096
USER_META_PREFIX = "x-amz-meta-"
SWIFT_META_PREFIX = "x-object-meta-"
SYSMETA_PREFIX = "x-object-sysmeta-s3-"
# object headers S3 stores and returns as they are (the object server keeps these)
STORED_HEADERS = ("content-type", "content-encoding", "content-disposition", "content-language",
                  "cache-control", "expires")


@dataclass
class S3Request:
    env: dict
    app: WSGIApp                 # the rest of the pipeline (auth first)
    config: "S3Config"
    method: str
    bucket: str | None           # decoded
    key: str | None              # decoded
    query: dict[str, str]        # decoded, last value of each name
    request_id: str
    signature: object = None     # the request's signing.Signature
    account: str = ""            # the Swift account, once authenticated
    user: str = ""               # "account:user", for owner fields
    extra: dict = field(default_factory=dict)

    @property
    def resource(self) -> str:
        """What error documents name as the Resource."""
        if self.bucket is None:
            return "/"
        return f"/{self.bucket}" + (f"/{self.key}" if self.key is not None else "")

    def header(self, name: str, default: str | None = None) -> str | None:
        """A request header (lower-case name) decoded from its WSGI form."""
        if name == "content-type":
            raw = self.env.get("CONTENT_TYPE")
        elif name == "content-length":
            raw = self.env.get("CONTENT_LENGTH")
        else:
            raw = self.env.get("HTTP_" + name.upper().replace("-", "_"))
        if raw is None:
            return default
        return wsgi_to_str(raw) or raw

    def raw_header(self, name: str) -> str | None:
        """A request header in its WSGI form (latin-1 carrying the raw bytes)."""
        if name == "content-type":
            return self.env.get("CONTENT_TYPE")
        return self.env.get("HTTP_" + name.upper().replace("-", "_"))

    def headers_with_prefix(self, prefix: str) -> list[tuple[str, str]]:
        """(lower-case name, WSGI value) of the request headers starting with ``prefix``."""
        key_prefix = "HTTP_" + prefix.upper().replace("-", "_")
        return [(key[5:].lower().replace("_", "-"), value) for key, value in self.env.items()
                if key.startswith(key_prefix)]

    # ---- sub-requests -----------------------------------------------------------------
    def swift_path(self, bucket: str | None = None, key: str | None = None) -> str:
        path = f"/v1/{self.account}"
        if bucket is not None:
            path += f"/{bucket}"
            if key is not None:
                path += f"/{key}"
        return path

    def swift(self, method: str, bucket: str | None = None, key: str | None = None, *,
              headers: dict[str, str] | None = None, query: dict[str, str] | None = None,
              body: bytes | BinaryIO | None = None, content_length: int | None = None,
              environ: dict | None = None) -> SubResponse:
        """A Swift request as the caller; the response body is left open (close it).
        ``environ``: more keys for the sub-request's environ (middleware callbacks)."""
        env = make_env(self.env, method, self.swift_path(bucket, key), source=SOURCE,
                       query=query or {}, headers=headers, body=body)
        if content_length is not None:
            env["CONTENT_LENGTH"] = str(content_length)
        env.update(environ or {})
        return call_app(self.app, env)

    def swift_ok(self, method: str, bucket: str | None = None, key: str | None = None, *,
                 errors: dict[int, S3Error] | None = None, **kwargs) -> SubResponse:
        """``swift`` that raises the S3 error for any status but 2xx (``errors``: the
        error for a status where the usual one is not what the operation means)."""
        resp = self.swift(method, bucket, key, **kwargs)
        if not resp.ok:
            if errors and resp.status_int in errors:
                resp.close()
                raise errors[resp.status_int]
            raise self.error_for(resp, bucket, key)
        return resp

    def error_for(self, resp: SubResponse, bucket: str | None, key: str | None) -> S3Error:
        """The S3 error a failed Swift response means (its body is read and closed)."""
        status = resp.status_int
        try:
            detail = resp.read(ERROR_BODY_LIMIT).decode("utf-8", "replace").strip()
        except ValueError:
            detail = ""
        if status == 404:
            if key is None:
                return S3Error("NoSuchBucket", BucketName=bucket)
            if not self.bucket_exists(bucket):
                return S3Error("NoSuchBucket", BucketName=bucket)
            return S3Error("NoSuchKey", Key=key)
        if status in (401, 403):
            return S3Error("AccessDenied")
        if status == 412:
            return S3Error("PreconditionFailed", Condition=None)
        if status == 416:
            return S3Error("InvalidRange")
        if status == 413:
            if "segments" in detail:  # the SLO's max_manifest_segments: more parts than allowed
                return S3Error("InvalidArgument", f"{detail} (max_manifest_segments of the "
                                                  f"cluster's SLO middleware)")
            return S3Error("EntityTooLarge")
        if status == 422:
            return S3Error("BadDigest")
        if status == 411:
            return S3Error("MissingContentLength")
        if status == 408:
            return S3Error("RequestTimeout")
        if status in (400, 409):
            if "metadata" in detail.lower():
                return S3Error("MetadataTooLarge", detail or None)
            if "too long" in detail.lower() and key is not None:
                return S3Error("KeyTooLongError")
            return S3Error("InvalidArgument", detail or None)
        if status == 507 or status == 503:
            return S3Error("ServiceUnavailable")
        return S3Error("InternalError", f"backend answered {resp.status}: {detail[:200]}")

    def bucket_exists(self, bucket: str | None) -> bool:
        if bucket is None:
            return False
        with self.swift("HEAD", bucket) as resp:
            return resp.ok


def parse_query(query_string: str) -> dict[str, str]:
    """Decoded parameters, blanks kept (``?uploads`` -> {"uploads": ""})."""
    return dict(parse_qsl(query_string, keep_blank_values=True))


def http_date(epoch: float) -> str:
    """RFC 7231 date, as S3 sends Last-Modified."""
    return email.utils.formatdate(epoch, usegmt=True)


def iso_date(epoch: float) -> str:
    """``2009-10-12T17:50:30.000Z``, as S3 listings show times."""
    whole = int(epoch)
    millis = int(round((epoch - whole) * 1000))
    if millis == 1000:
        whole, millis = whole + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"
