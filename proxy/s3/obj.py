"""Object operations: PutObject, GetObject, HeadObject, DeleteObject, CopyObject.

A key is an object of the bucket's container.  User metadata ``x-amz-meta-*``
is stored as ``X-Object-Meta-*`` (so the Swift API sees it too); what only S3
knows (the flexible checksum) is object sysmeta ``X-Object-Sysmeta-S3-*``,
which the gatekeeper keeps away from clients of either API.
"""
from __future__ import annotations

import email.utils
import json
from urllib.parse import quote, unquote

from objstore.common.constraints import wsgi_to_str
from objstore.common.http import Response
from proxy.controllers.putters import LATE_METADATA
from proxy.internal.subrequest import SubResponse
from proxy.s3 import checksums, tagging
from proxy.s3.bucket import xml_response
from proxy.s3.errors import S3Error
from proxy.s3.payload import S3Body, content_md5_hex, open_body
from proxy.s3.request import (
    STORED_HEADERS, SWIFT_META_PREFIX, SYSMETA_PREFIX, USER_META_PREFIX, S3Request, iso_date)
from proxy.s3.xmlio import element

DEFAULT_CONTENT_TYPE = "binary/octet-stream"  # what S3 stores when a PUT names none
CHECKSUM_SYSMETA = SYSMETA_PREFIX + "checksum-"
# S3's ETag of a multipart object ("<md5 of the parts' md5s>-N"); the Swift API shows the SLO's
S3_ETAG_SYSMETA = SYSMETA_PREFIX + "etag"
# GetObject's response-* parameters and the header each one overrides
RESPONSE_OVERRIDES = {
    "response-content-type": "content-type", "response-content-language": "content-language",
    "response-expires": "expires", "response-cache-control": "cache-control",
    "response-content-disposition": "content-disposition",
    "response-content-encoding": "content-encoding"}
READ_CONDITIONALS = ("range", "if-match", "if-none-match", "if-modified-since",
                     "if-unmodified-since")
COPY_CONDITIONALS = {"x-amz-copy-source-if-match": "if-match",
                     "x-amz-copy-source-if-none-match": "if-none-match",
                     "x-amz-copy-source-if-modified-since": "if-modified-since",
                     "x-amz-copy-source-if-unmodified-since": "if-unmodified-since"}


def quoted_etag(value: str | None) -> str:
    return '"%s"' % (value or "").strip('"')


def _content_encoding(request: S3Request) -> str | None:
    """Content-Encoding without the ``aws-chunked`` framing, which is not the object's."""
    raw = request.raw_header("content-encoding")
    if raw is None:
        return None
    kept = [part.strip() for part in raw.split(",") if part.strip().lower() != "aws-chunked"]
    return ", ".join(kept) or None


def metadata_headers(request: S3Request) -> dict[str, str]:
    """The Swift headers that store the request's content headers and user metadata."""
    headers = {"content-type": request.raw_header("content-type") or DEFAULT_CONTENT_TYPE}
    for name in STORED_HEADERS[1:]:
        value = _content_encoding(request) if name == "content-encoding" \
            else request.raw_header(name)
        if value is not None:
            headers[name] = value
    for name, value in request.headers_with_prefix(USER_META_PREFIX):
        headers[SWIFT_META_PREFIX + name[len(USER_META_PREFIX):]] = value
    return headers


def _check_storage_class(request: S3Request) -> None:
    storage_class = request.header("x-amz-storage-class")
    if storage_class not in (None, "STANDARD"):
        raise S3Error("InvalidStorageClass", StorageClassRequested=storage_class)


def put_object(request: S3Request) -> Response:
    if request.header("x-amz-copy-source") is not None:
        return copy_object(request)
    _check_storage_class(request)
    headers = metadata_headers(request)
    etag = content_md5_hex(request)
    if etag:
        headers["etag"] = etag
    if request.header("if-none-match") == "*":
        headers["if-none-match"] = "*"
    headers.update(tagging.request_tag_headers(request))
    body = open_body(request)
    if body.checksum and body.checksum[1] is not None:
        headers[CHECKSUM_SYSMETA + body.checksum[0]] = body.checksum[1]
    return store_body(request, request.bucket, request.key, headers, body)


def store_body(request: S3Request, container: str, name: str, headers: dict[str, str],
               body: S3Body) -> Response:
    """PUT a client body and answer as PutObject and UploadPart both do.

    The body's own checks (signatures, x-amz-checksum-*) fail in its last read, so they
    are raised only after the sub-request ended: the object server never committed it.
    A checksum sent as a trailer is known only then too: the proxy stores it with the
    object as late metadata (the backend PUT's footer).
    """
    environ = {}
    if body.checksum is not None and body.checksum[1] is None:
        algorithm = body.checksum[0]
        environ[LATE_METADATA] = lambda: (
            {CHECKSUM_SYSMETA + algorithm: body.checksum_value}
            if body.checksum_value is not None else {})
    resp = request.swift("PUT", container, name, headers=headers, body=body,
                         content_length=body.length, environ=environ)
    if body.error is not None:
        resp.close()
        raise body.error
    if resp.status_int == 422:
        resp.close()
        raise S3Error("BadDigest", "The Content-MD5 you specified did not match what we "
                                   "received.")
    if not resp.ok:
        raise request.error_for(resp, request.bucket, request.key)
    resp.close()
    out = {"etag": quoted_etag(resp.header("etag")), "content-length": "0"}
    if body.checksum_value is not None:
        out[checksums.HEADER_PREFIX + body.checksum[0]] = body.checksum_value  # type: ignore[index]
    return Response(200, out)


def _read_headers(request: S3Request) -> dict[str, str]:
    headers = {name: value for name in READ_CONDITIONALS
               if (value := request.raw_header(name)) is not None}
    if "if-match" in headers or "if-none-match" in headers:
        headers["x-backend-etag-is-at"] = S3_ETAG_SYSMETA  # multipart objects: S3's ETag
    return headers


def object_response_headers(request: S3Request, resp: SubResponse) -> dict[str, str]:
    """The S3 headers of a stored object, from the Swift response's."""
    out: dict[str, str] = {}
    checksum_mode = (request.header("x-amz-checksum-mode") or "").upper() == "ENABLED"
    whole = resp.status_int == 200 and "partNumber" not in request.query
    s3_etag = resp.header(S3_ETAG_SYSMETA)
    if s3_etag is not None:
        out["x-amz-mp-parts-count"] = s3_etag.rpartition("-")[2]
    for name, value in resp.headers:
        lower = name.lower()
        if lower in ("content-length", "content-range", "last-modified", "accept-ranges",
                     *STORED_HEADERS):
            out[lower] = value
        elif lower == "etag":
            out["etag"] = quoted_etag(s3_etag or value)
        elif lower.startswith(SWIFT_META_PREFIX):
            out[USER_META_PREFIX + lower[len(SWIFT_META_PREFIX):]] = value
        elif lower.startswith(CHECKSUM_SYSMETA) and checksum_mode and whole:
            out[checksums.HEADER_PREFIX + lower[len(CHECKSUM_SYSMETA):]] = value
    if tags := tagging.tag_count(resp.headers):
        out[tagging.TAG_COUNT_HEADER] = str(tags)
    return out


def get_object(request: S3Request) -> Response:
    head = request.method == "HEAD"
    overrides = {header: request.query[param] for param, header in RESPONSE_OVERRIDES.items()
                 if param in request.query}
    if overrides and head:
        overrides = {}
    query = {}
    part = request.query.get("partNumber")
    if part is not None:
        if not (part.isascii() and part.isdigit() and 1 <= int(part[:6]) <= 10000):
            raise S3Error("InvalidArgument", "Part number must be an integer between 1 and "
                                             "10000, inclusive", ArgumentName="partNumber",
                          ArgumentValue=part)
        if request.raw_header("range") is not None:
            raise S3Error("InvalidRequest", "Cannot specify both Range header and partNumber "
                                            "query parameter")
        query["part-number"] = str(int(part))
    resp = request.swift(request.method, request.bucket, request.key,
                         headers=_read_headers(request), query=query)
    if resp.status_int == 416 and part is not None:
        resp.close()
        raise S3Error("InvalidPartNumber", PartNumberRequested=part)
    if resp.status_int == 304:
        resp.close()
        return Response(304, {k: v for k, v in object_response_headers(request, resp).items()
                              if k in ("etag", "last-modified")})
    if resp.status_int == 412:
        resp.close()
        raise S3Error("PreconditionFailed", Condition=_failed_condition(request))
    if resp.status_int == 416:
        resp.close()
        raise S3Error("InvalidRange", ActualObjectSize=None, RangeRequested=request.header("range"))
    if not resp.ok:
        raise request.error_for(resp, request.bucket, request.key)
    headers = object_response_headers(request, resp)
    headers.update((name, value) for name, value in overrides.items())
    if head:
        resp.close()
        return Response(resp.status_int, headers, [])
    return Response(resp.status_int, headers, resp)


def _failed_condition(request: S3Request) -> str | None:
    for name in ("if-match", "if-unmodified-since", "if-none-match", "if-modified-since"):
        if request.header(name) is not None:
            return name.title()
    return None


def delete_object(request: S3Request) -> Response:
    """DELETE with ``multipart-manifest=delete``: a multipart object's parts go with it
    (a plain object is deleted as such)."""
    resp = request.swift("DELETE", request.bucket, request.key,
                         query={"multipart-manifest": "delete"},
                         headers={"accept": "application/json"})
    status = resp.status_int
    if status == 200 and "json" in (resp.header("content-type") or ""):
        summary = json.loads(resp.read(1024 * 1024) or b"{}")
        status = 404 if summary.get("Number Not Found") and not summary.get("Number Deleted") \
            else int(summary.get("Response Status", "200")[:3])
        if status == 401 or (summary.get("Errors") and any(
                str(error[1]).startswith(("401", "403")) for error in summary["Errors"])):
            raise S3Error("AccessDenied")
        if summary.get("Errors"):
            raise S3Error("InternalError", f"deleting the parts failed: {summary['Errors'][:3]}")
    if status == 404:
        resp.close()
        if not request.bucket_exists(request.bucket):
            raise S3Error("NoSuchBucket", BucketName=request.bucket)
    elif not 200 <= status < 300:
        raise request.error_for(resp, request.bucket, request.key)
    resp.close()
    return Response(204, {})


# ---- copy -------------------------------------------------------------------------------

def parse_copy_source(value: str) -> tuple[str, str]:
    """``[/]bucket/key[?versionId=...]`` (URL-encoded) -> decoded (bucket, key)."""
    path, _, query = value.partition("?")
    if query and query not in ("versionId=null",):
        raise S3Error("InvalidArgument", "Copying a specific version is not supported",
                      ArgumentName="x-amz-copy-source", ArgumentValue=value)
    decoded = wsgi_to_str(unquote(path, encoding="latin-1")) or ""
    bucket, _, key = decoded.lstrip("/").partition("/")
    if not bucket or not key:
        raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and key: "
                                         "sourcebucket/sourcekey",
                      ArgumentName="x-amz-copy-source", ArgumentValue=value)
    return bucket, key


def head_copy_source(request: S3Request, bucket: str, key: str) -> SubResponse:
    """HEAD of the copy source under the ``x-amz-copy-source-if-*`` conditions; any
    condition that fails is PreconditionFailed (S3 answers 412 for all four)."""
    headers = {swift: value for amz, swift in COPY_CONDITIONALS.items()
               if (value := request.raw_header(amz)) is not None}
    resp = request.swift("HEAD", bucket, key, headers=headers)
    resp.close()
    if resp.status_int in (304, 412):
        raise S3Error("PreconditionFailed", Condition=next(
            (amz for amz in COPY_CONDITIONALS if request.header(amz) is not None), None))
    if not resp.ok:
        raise request.error_for(resp, bucket, key)
    return resp


def copy_object(request: S3Request) -> Response:
    src_bucket, src_key = parse_copy_source(request.header("x-amz-copy-source") or "")
    directive = (request.header("x-amz-metadata-directive") or "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown metadata directive.",
                      ArgumentName="x-amz-metadata-directive", ArgumentValue=directive)
    _check_storage_class(request)
    source = head_copy_source(request, src_bucket, src_key)
    if (src_bucket, src_key) == (request.bucket, request.key) and directive == "COPY":
        raise S3Error("InvalidRequest", "This copy request is illegal because it is trying to "
                                        "copy an object to itself without changing the "
                                        "object's metadata, storage class, website redirect "
                                        "location or encryption attributes.")
    headers = {"x-copy-from": quote(f"/{src_bucket}/{src_key}".encode("utf-8")),
               # the version just checked, and no other, is copied
               "if-match": (source.header("etag") or "").strip('"')}
    stored = {name.lower(): value for name, value in source.headers}
    if directive == "REPLACE":
        headers["x-fresh-metadata"] = "true"
        replaced = metadata_headers(request)
        headers.update({name: replaced.get(name, "") for name in STORED_HEADERS})
        headers.update(replaced)
    else:
        headers.update({name: stored[name] for name in STORED_HEADERS if name in stored})
    headers.update(tagging.copy_tag_headers(request, source))
    if stored.get(S3_ETAG_SYSMETA) is None:  # a multipart source's checksum is of its parts
        headers.update({name: value for name, value in stored.items()
                        if name.startswith(CHECKSUM_SYSMETA)})
    return _copy(request, request.bucket or "", request.key or "", headers, "CopyObjectResult")


def _copy(request: S3Request, container: str, name: str, headers: dict[str, str],
          result: str) -> Response:
    """The Swift PUT with X-Copy-From, answered with ``<result>`` (ETag, LastModified)."""
    resp = request.swift("PUT", container, name, headers=headers, body=b"")
    if resp.status_int == 412:
        resp.close()
        raise S3Error("PreconditionFailed", "The source object changed during the copy")
    if resp.status_int == 416:
        resp.close()
        raise S3Error("InvalidRange")
    if not resp.ok:
        raise request.error_for(resp, request.bucket, request.key)
    resp.close()
    modified = resp.header("last-modified")
    parsed = email.utils.parsedate_tz(modified) if modified else None
    epoch = float(email.utils.mktime_tz(parsed)) if parsed else 0.0
    root = element(result, [element("LastModified", iso_date(epoch)),
                            element("ETag", quoted_etag(resp.header("etag")))])
    return xml_response(root)


def copy_source_part(request: S3Request, container: str, name: str) -> Response:
    """UploadPartCopy: the source (or ``x-amz-copy-source-range: bytes=first-last`` of
    it) becomes the part."""
    src_bucket, src_key = parse_copy_source(request.header("x-amz-copy-source") or "")
    source = head_copy_source(request, src_bucket, src_key)
    headers = {"x-copy-from": quote(f"/{src_bucket}/{src_key}".encode("utf-8")),
               "if-match": (source.header("etag") or "").strip('"'),
               "content-type": "application/octet-stream"}
    byte_range = request.header("x-amz-copy-source-range")
    if byte_range is not None:
        size = int(source.header("content-length") or 0)
        first, sep, last = byte_range.removeprefix("bytes=").partition("-")
        if not (byte_range.startswith("bytes=") and sep and first.isdigit() and last.isdigit()
                and int(first) <= int(last) < size):
            raise S3Error("InvalidArgument", "The x-amz-copy-source-range value must be of the "
                                             "form bytes=first-last where first and last are "
                                             "the zero-based offsets of the first and last "
                                             "bytes to copy",
                          ArgumentName="x-amz-copy-source-range", ArgumentValue=byte_range)
        headers["range"] = f"bytes={int(first)}-{int(last)}"
    return _copy(request, container, name, headers, "CopyPartResult")
