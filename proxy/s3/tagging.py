"""Object and bucket tagging: ``?tagging`` (Get/Put/Delete), ``x-amz-tagging``.

Tags are system metadata, one header per tag (``X-Object-Sysmeta-S3-Tag-<n>`` on
objects, ``X-Container-Sysmeta-S3-Tag-<n>`` on buckets), the value the
percent-encoded ``key=value``: ASCII whatever the tag's characters, and each
header far under the servers' 8 KiB header line.  Object sysmeta is set only by
a PUT (a Swift POST keeps it, never changes it), so tags survive metadata
updates: S3's CopyObject keeps them unless ``x-amz-tagging-directive: REPLACE``.
Put/DeleteObjectTagging rewrite the object onto itself with its own metadata
and the new tags (a multipart object: just its manifest).  Bucket tags are
container sysmeta, set with a POST.

Limits are S3's: 10 tags an object, 50 a bucket, keys of 1 to 128 and values of
up to 256 Unicode characters (letters, digits, spaces and ``+ - = . _ : / @``),
no key twice, no ``aws:`` prefix.
"""
from __future__ import annotations

import unicodedata
from urllib.parse import parse_qsl, quote, unquote

from objstore.common.http import Response
from proxy.internal.subrequest import SubResponse
from proxy.s3.bucket import xml_response
from proxy.s3.errors import S3Error
from proxy.s3.payload import read_small_body
from proxy.s3.request import STORED_HEADERS, SYSMETA_PREFIX, S3Request
from proxy.s3.xmlio import XMLError, child_text, element, parse

Tags = list[tuple[str, str]]

OBJECT_TAG_SYSMETA = SYSMETA_PREFIX + "tag-"
BUCKET_TAG_SYSMETA = "x-container-sysmeta-s3-tag-"
MAX_OBJECT_TAGS = 10
MAX_BUCKET_TAGS = 50
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 256
MAX_TAGGING_BODY = 64 * 1024
TAG_SYMBOLS = frozenset("+-=._:/@ ")
# what an object keeps when it is rewritten with other tags (S3's ETag and checksums)
KEPT_SYSMETA = (SYSMETA_PREFIX + "checksum-", SYSMETA_PREFIX + "etag")
TAG_COUNT_HEADER = "x-amz-tagging-count"


# ---- encoding ---------------------------------------------------------------------------

def tag_headers(tags: Tags, prefix: str, clear_up_to: int = 0) -> dict[str, str]:
    """The sysmeta headers that store ``tags``; with ``clear_up_to``, empty values for
    the slots after them (a POST removes those)."""
    headers = {f"{prefix}{index}": f"{quote(key, safe='')}={quote(value, safe='')}"
               for index, (key, value) in enumerate(tags)}
    headers.update({f"{prefix}{index}": "" for index in range(len(tags), clear_up_to)})
    return headers


def stored_tags(headers: list[tuple[str, str]], prefix: str) -> Tags:
    """The tags that ``headers`` (a stored object's or container's) carry, in order."""
    slots = []
    for name, value in headers:
        lower = name.lower()
        index = lower[len(prefix):]
        if lower.startswith(prefix) and index.isdigit() and value:
            key, _, tag_value = value.partition("=")
            slots.append((int(index), unquote(key), unquote(tag_value)))
    return [(key, value) for _, key, value in sorted(slots)]


def tag_count(headers: list[tuple[str, str]]) -> int:
    return sum(1 for name, value in headers
               if value and name.lower().startswith(OBJECT_TAG_SYSMETA))


# ---- validation -------------------------------------------------------------------------

def _allowed(text: str) -> bool:
    return all(char in TAG_SYMBOLS or unicodedata.category(char)[0] in "LNZ" for char in text)


def validate(tags: Tags, limit: int, what: str = "Object") -> Tags:
    """``tags`` if S3 would take them, else the S3 error (checked tag by tag, then the count)."""
    seen = set()
    for key, value in tags:
        if not key or not _allowed(key):
            raise S3Error("InvalidTag", "The TagKey you have provided is invalid")
        if len(key) > MAX_KEY_CHARS:
            raise S3Error("InvalidTag", f"The TagKey you have provided is too long, max "
                                        f"{MAX_KEY_CHARS}")
        if not _allowed(value):
            raise S3Error("InvalidTag", "The TagValue you have provided is invalid")
        if len(value) > MAX_VALUE_CHARS:
            raise S3Error("InvalidTag", f"The TagValue you have provided is too long, max "
                                        f"{MAX_VALUE_CHARS}")
        if key.lower().startswith("aws:"):
            raise S3Error("InvalidTag", "Your TagKey cannot be prefixed with aws:")
        if key in seen:
            raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key",
                          TagKey=key)
        seen.add(key)
    if len(tags) > limit:
        raise S3Error("BadRequest", f"{what} tags cannot be greater than {limit}")
    return tags


def header_tags(request: S3Request) -> Tags | None:
    """The ``x-amz-tagging`` header's tags (``k1=v1&k2=v2``, URL-encoded), None if absent."""
    raw = request.header("x-amz-tagging")
    if raw is None:
        return None
    try:
        tags = parse_qsl(raw, keep_blank_values=True, errors="strict")
    except (ValueError, UnicodeError):
        raise S3Error("InvalidArgument", "The header 'x-amz-tagging' shall be encoded as "
                                         "UTF-8 then URLEncoded URL query parameters without "
                                         "tag name duplicates.",
                      ArgumentName="x-amz-tagging", ArgumentValue=raw) from None
    return validate(tags, MAX_OBJECT_TAGS)


def request_tag_headers(request: S3Request) -> dict[str, str]:
    """Sysmeta for the tags of a PutObject / CreateMultipartUpload (``x-amz-tagging``)."""
    return tag_headers(header_tags(request) or [], OBJECT_TAG_SYSMETA)


def copy_tag_headers(request: S3Request, source: SubResponse) -> dict[str, str]:
    """CopyObject's tags: the source's (``x-amz-tagging-directive: COPY``, the default)
    or the request's ``x-amz-tagging`` (``REPLACE``)."""
    directive = (request.header("x-amz-tagging-directive") or "COPY").upper()
    if directive == "REPLACE":
        return request_tag_headers(request)
    if directive != "COPY":
        raise S3Error("InvalidArgument", "Unknown tagging directive.",
                      ArgumentName="x-amz-tagging-directive", ArgumentValue=directive)
    return tag_headers(stored_tags(source.headers, OBJECT_TAG_SYSMETA), OBJECT_TAG_SYSMETA)


def body_tags(request: S3Request, limit: int, what: str) -> Tags:
    """The tags of a ``<Tagging><TagSet><Tag><Key/><Value/></Tag>...`` request body."""
    try:
        root = parse(read_small_body(request, MAX_TAGGING_BODY))
    except XMLError:
        raise S3Error("MalformedXML") from None
    tag_set = root.find("TagSet")
    if root.tag != "Tagging" or tag_set is None:
        raise S3Error("MalformedXML")
    tags = []
    for node in tag_set.findall("Tag"):
        key, value = child_text(node, "Key"), child_text(node, "Value")
        if key is None or value is None:
            raise S3Error("MalformedXML")
        tags.append((key, value))
    return validate(tags, limit, what)


def tagging_document(tags: Tags) -> Response:
    return xml_response(element("Tagging", [element("TagSet", [
        element("Tag", [element("Key", key), element("Value", value)]) for key, value in tags])]))


# ---- objects ----------------------------------------------------------------------------

def _head(request: S3Request, key: str | None) -> SubResponse:
    """The object's (or, with no key, the bucket's) headers, where its tags are."""
    resp = request.swift_ok("HEAD", request.bucket, key)
    resp.close()
    return resp


def get_object_tagging(request: S3Request) -> Response:
    return tagging_document(stored_tags(_head(request, request.key).headers, OBJECT_TAG_SYSMETA))


def put_object_tagging(request: S3Request) -> Response:
    tags = body_tags(request, MAX_OBJECT_TAGS, "Object")
    return _retag(request, tags, 200)


def delete_object_tagging(request: S3Request) -> Response:
    return _retag(request, [], 204)


def _retag(request: S3Request, tags: Tags, status: int) -> Response:
    """Copy the object onto itself (the version just read: If-Match its ETag, or its
    manifest's) with all it has and ``tags`` instead of its tags."""
    stored = _head(request, request.key)
    manifest_etag = stored.header("x-manifest-etag")  # a multipart object's manifest
    headers = {"x-copy-from": quote(f"/{request.bucket}/{request.key}".encode("utf-8")),
               "if-match": (manifest_etag or stored.header("etag") or "").strip('"')}
    for name, value in stored.headers:
        lower = name.lower()
        if lower in STORED_HEADERS or lower == "x-delete-at" or lower.startswith(KEPT_SYSMETA):
            headers[lower] = value
    s3_etag = stored.header(SYSMETA_PREFIX + "etag")
    if s3_etag is not None:  # the listing shows S3's ETag of a multipart object
        headers["x-object-sysmeta-container-update-override-etag"] = f"; s3_etag={s3_etag}"
    headers.update(tag_headers(tags, OBJECT_TAG_SYSMETA))
    changed = S3Error("OperationAborted", "The object changed while its tags were set; "
                                          "please try again")
    request.swift_ok("PUT", request.bucket, request.key, headers=headers, body=b"",
                     query={"multipart-manifest": "get"} if manifest_etag else None,
                     errors={412: changed}).close()
    return Response(status, {"content-length": "0"})


# ---- buckets ----------------------------------------------------------------------------

def get_bucket_tagging(request: S3Request) -> Response:
    tags = stored_tags(_head(request, None).headers, BUCKET_TAG_SYSMETA)
    if not tags:
        raise S3Error("NoSuchTagSet", BucketName=request.bucket)
    return tagging_document(tags)


def put_bucket_tagging(request: S3Request) -> Response:
    tags = body_tags(request, MAX_BUCKET_TAGS, "Bucket")
    return _set_bucket_tags(request, tags)


def delete_bucket_tagging(request: S3Request) -> Response:
    return _set_bucket_tags(request, [])


def _set_bucket_tags(request: S3Request, tags: Tags) -> Response:
    headers = tag_headers(tags, BUCKET_TAG_SYSMETA, clear_up_to=MAX_BUCKET_TAGS)
    request.swift_ok("POST", request.bucket, headers=headers).close()
    return Response(204, {"content-length": "0"})
