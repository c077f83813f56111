"""Service and bucket operations: ListBuckets, Create/Delete/HeadBucket,
GetBucketLocation, GetBucketVersioning, ListObjects (v1) and ListObjectsV2.

A bucket is a container of the caller's account.  Containers whose names S3
cannot have (``+`` is not allowed in bucket names) hold multipart segments and
are left out of ListBuckets.
"""
from __future__ import annotations

import base64
import binascii
import calendar
import json
import re
import time
from urllib.parse import quote_plus

from objstore.common.http import Response
from proxy.s3.errors import S3Error
from proxy.s3.payload import read_small_body
from proxy.s3.request import S3Request, iso_date
from proxy.s3.xmlio import XML_CONTENT_TYPE, XMLError, child_text, element, parse, to_xml

LISTING_PAGE = 10000
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
_IP_ADDRESS = re.compile(r"\d+\.\d+\.\d+\.\d+\Z")
SEGMENTS_SUFFIX = "+segments"   # multipart parts of <bucket>
UPLOADS_SUFFIX = "+uploads"     # multipart uploads in progress in <bucket>
MAX_CREATE_BODY = 64 * 1024


def xml_response(root, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, {"content-type": XML_CONTENT_TYPE, **(headers or {})},
                    to_xml(root, namespace=True))


def owner_element(request: S3Request, tag: str = "Owner"):
    return element(tag, [element("ID", request.user), element("DisplayName", request.user)])


def bucket_name_error(name: str) -> str | None:
    """Why ``name`` is no valid bucket name (the S3 naming rules), or None."""
    if not _BUCKET_NAME.match(name):
        return "Bucket names are 3 to 63 lower-case letters, digits, dots and hyphens, " \
               "beginning and ending with a letter or digit"
    if ".." in name or ".-" in name or "-." in name:
        return "Bucket names may not have two adjacent periods, or a period next to a hyphen"
    if _IP_ADDRESS.match(name):
        return "Bucket names may not be formatted as an IP address"
    return None


def swift_time(text: str) -> float:
    """A listing's ``last_modified`` (``2026-12-02T03:14:48.123450``) -> epoch seconds."""
    try:
        whole, _, fraction = text.partition(".")
        epoch = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
        return epoch + (float("0." + fraction) if fraction else 0.0)
    except ValueError:
        return 0.0


def s3_time(text: str) -> str:
    """Listing time as S3 shows it: whole seconds rounded up, as ``Last-Modified`` is."""
    epoch = swift_time(text)
    return iso_date(float(int(epoch) + (1 if epoch % 1 else 0)))


# ---- service ----------------------------------------------------------------------------

def list_buckets(request: S3Request) -> Response:
    buckets = []
    marker = ""
    while True:
        resp = request.swift("GET", query={"format": "json", "limit": str(LISTING_PAGE),
                                           "marker": marker})
        if resp.status_int == 404:
            resp.close()
            break
        if not resp.ok:
            raise request.error_for(resp, None, None)
        page = json.loads(resp.read() or b"[]") if resp.status_int != 204 else []
        if not page:
            break
        buckets += [item for item in page if "+" not in item["name"]]  # no bucket name has "+"
        marker = page[-1]["name"]
    root = element("ListAllMyBucketsResult", [
        owner_element(request),
        element("Buckets", [element("Bucket", [
            element("Name", item["name"]),
            element("CreationDate", s3_time(item.get("last_modified") or "")
                    if item.get("last_modified") else iso_date(time.time()))])
            for item in buckets])])
    return xml_response(root)


# ---- bucket -----------------------------------------------------------------------------

def create_bucket(request: S3Request) -> Response:
    bucket = request.bucket or ""
    error = bucket_name_error(bucket)
    if error:
        raise S3Error("InvalidBucketName", error, BucketName=bucket)
    body = read_small_body(request, MAX_CREATE_BODY)
    if body.strip():
        try:
            config = parse(body)
        except XMLError:
            raise S3Error("MalformedXML") from None
        if config.tag != "CreateBucketConfiguration":
            raise S3Error("MalformedXML")
        location = child_text(config, "LocationConstraint")
        if location and location != request.config.location:
            raise S3Error("InvalidLocationConstraint",
                          "The specified location-constraint is not valid",
                          LocationConstraint=location)
    resp = request.swift("PUT", bucket)
    if resp.status_int == 202:
        resp.close()
        raise S3Error("BucketAlreadyOwnedByYou", BucketName=bucket)
    if not resp.ok:
        raise request.error_for(resp, bucket, None)
    resp.close()
    return Response(200, {"location": f"/{bucket}", "content-length": "0"})


def delete_bucket(request: S3Request) -> Response:
    resp = request.swift("DELETE", request.bucket)
    if resp.status_int == 409:
        resp.close()
        raise S3Error("BucketNotEmpty", BucketName=request.bucket)
    if not resp.ok:
        raise request.error_for(resp, request.bucket, None)
    resp.close()
    return Response(204, {})


def head_bucket(request: S3Request) -> Response:
    resp = request.swift("HEAD", request.bucket)
    resp.close()
    if resp.status_int == 404:
        raise S3Error("NoSuchBucket", BucketName=request.bucket)
    if not resp.ok:
        raise request.error_for(resp, request.bucket, None)
    return Response(200, {"x-amz-bucket-region": request.config.location,
                          "content-length": "0"})


def get_bucket_location(request: S3Request) -> Response:
    head_bucket(request)
    # us-east-1 buckets have a null LocationConstraint
    location = "" if request.config.location == "us-east-1" else request.config.location
    return xml_response(element("LocationConstraint", location or None))


def get_bucket_versioning(request: S3Request) -> Response:
    """Versioning was never enabled: an empty configuration (no Status)."""
    head_bucket(request)
    return xml_response(element("VersioningConfiguration"))


# ---- listings ---------------------------------------------------------------------------

def _max_keys(request: S3Request) -> int:
    raw = request.query.get("max-keys")
    if raw is None:
        return request.config.max_keys
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise S3Error("InvalidArgument", "Provided max-keys not an integer or within integer "
                                         "range", ArgumentName="max-keys", ArgumentValue=raw)
    return min(int(raw), request.config.max_keys)


def _encoder(request: S3Request):
    encoding = request.query.get("encoding-type")
    if encoding is None:
        return lambda text: text
    if encoding != "url":
        raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request",
                      ArgumentName="encoding-type", ArgumentValue=encoding)
    return lambda text: quote_plus(text, safe="/")


def _swift_page(request: S3Request, marker: str, limit: int) -> list[dict]:
    query = {"format": "json", "limit": str(limit), "marker": marker,
             "prefix": request.query.get("prefix", ""),
             "delimiter": request.query.get("delimiter", "")}
    resp = request.swift("GET", request.bucket, query={k: v for k, v in query.items() if v})
    if not resp.ok:
        raise request.error_for(resp, request.bucket, None)
    return json.loads(resp.read() or b"[]") if resp.status_int != 204 else []


def _entries(request: S3Request, marker: str, max_keys: int) -> tuple[list[dict], bool]:
    """Up to ``max_keys`` objects and common prefixes after ``marker``, and whether
    more follow.  A common prefix at or before the marker was listed already."""
    if max_keys == 0:
        _swift_page(request, marker, 1)  # still 404 for a missing bucket
        return [], False
    page = _swift_page(request, marker, max_keys + 1)
    page = [item for item in page if "subdir" not in item or item["subdir"] > marker]
    return page[:max_keys], len(page) > max_keys


def listed_etag(swift_hash: str) -> str:
    """The S3 ETag of a listing record: the ``s3_etag`` parameter a multipart upload's
    manifest carries (``<md5>; s3_etag=<etag>``), else the hash itself."""
    base, _, params = swift_hash.partition(";")
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name == "s3_etag":
            return value
    return base.strip()


def _contents(request: S3Request, item: dict, encode, with_owner: bool):
    children = [element("Key", encode(item["name"])),
                element("LastModified", s3_time(item.get("last_modified", ""))),
                element("ETag", f'"{listed_etag(item.get("hash", ""))}"'),
                element("Size", item.get("bytes", 0))]
    if with_owner:
        children.append(owner_element(request))
    children.append(element("StorageClass", "STANDARD"))
    return element("Contents", children)


def _listing_body(request: S3Request, entries: list[dict], encode, with_owner: bool) -> list:
    body = [_contents(request, item, encode, with_owner) for item in entries if "subdir" not in item]
    body += [element("CommonPrefixes", [element("Prefix", encode(item["subdir"]))])
             for item in entries if "subdir" in item]
    return body


def list_objects(request: S3Request) -> Response:
    """ListObjects (version 1): marker paging; NextMarker when a delimiter is given."""
    max_keys = _max_keys(request)
    encode = _encoder(request)
    marker = request.query.get("marker", "")
    entries, truncated = _entries(request, marker, max_keys)
    delimiter = request.query.get("delimiter", "")
    head = [element("Name", request.bucket), element("Prefix", encode(request.query.get("prefix", ""))),
            element("Marker", encode(marker))]
    if truncated and delimiter and entries:
        last = entries[-1]
        head.append(element("NextMarker", encode(last.get("subdir") or last["name"])))
    head.append(element("MaxKeys", max_keys))
    if delimiter:
        head.append(element("Delimiter", encode(delimiter)))
    head.append(element("IsTruncated", truncated))
    if "encoding-type" in request.query:
        head.append(element("EncodingType", "url"))
    root = element("ListBucketResult", head + _listing_body(request, entries, encode, True))
    return xml_response(root)


def _token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode("utf-8")).decode("ascii")


def _untoken(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect",
                      ArgumentName="continuation-token", ArgumentValue=token) from None


def list_objects_v2(request: S3Request) -> Response:
    """ListObjectsV2: opaque continuation tokens (the last name listed), start-after,
    KeyCount, Owner only with fetch-owner=true."""
    max_keys = _max_keys(request)
    encode = _encoder(request)
    token = request.query.get("continuation-token")
    start_after = request.query.get("start-after", "")
    marker = _untoken(token) if token is not None else start_after
    entries, truncated = _entries(request, marker, max_keys)
    delimiter = request.query.get("delimiter", "")
    head = [element("Name", request.bucket), element("Prefix", encode(request.query.get("prefix", "")))]
    if token is not None:
        head.append(element("ContinuationToken", token))
    if truncated and entries:
        last = entries[-1]
        head.append(element("NextContinuationToken", _token(last.get("subdir") or last["name"])))
    head.append(element("KeyCount", len(entries)))
    head.append(element("MaxKeys", max_keys))
    if delimiter:
        head.append(element("Delimiter", encode(delimiter)))
    head.append(element("IsTruncated", truncated))
    if start_after:
        head.append(element("StartAfter", encode(start_after)))
    if "encoding-type" in request.query:
        head.append(element("EncodingType", "url"))
    with_owner = request.query.get("fetch-owner", "").lower() == "true"
    root = element("ListBucketResult", head + _listing_body(request, entries, encode, with_owner))
    return xml_response(root)
