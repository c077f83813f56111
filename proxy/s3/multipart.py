"""Multipart uploads as static large objects.

CreateMultipartUpload stores an upload marker ``<key>/<upload id>`` in the hidden
container ``<bucket>+uploads``, carrying the future object's headers and metadata.
Each part is an object ``<key>/<upload id>/<part number, 5 digits>`` of
``<bucket>+segments`` (zero-padded, so a listing returns parts in number order
and ListParts pages with Swift's marker).  CompleteMultipartUpload checks the
parts (ETags, order, the minimum size of all but the last) and PUTs an SLO
manifest of them at the key, with S3's ETag (the MD5 of the parts' binary MD5s,
``-N``) in sysmeta and in the container listing; then the marker and any part
left out go.  ``+`` is not allowed in bucket names, so no bucket can collide
with these containers, and ListBuckets leaves them out.
"""
from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass

from objstore.common.http import Response
from proxy.s3 import checksums
from proxy.s3.tagging import OBJECT_TAG_SYSMETA, request_tag_headers
from proxy.s3.bucket import SEGMENTS_SUFFIX, UPLOADS_SUFFIX, owner_element, s3_time, xml_response
from proxy.s3.errors import S3Error
from proxy.s3.obj import (
    CHECKSUM_SYSMETA, S3_ETAG_SYSMETA, _check_storage_class, copy_source_part, metadata_headers,
    quoted_etag, store_body)
from proxy.s3.payload import content_md5_hex, open_body, read_small_body
from proxy.s3.request import STORED_HEADERS, SWIFT_META_PREFIX, S3Request
from proxy.s3.xmlio import XMLError, child_text, element, parse

MAX_COMPLETE_BODY = 4 * 1024 * 1024      # 10,000 parts with their checksums fit
CHECKSUM_ALGORITHM_SYSMETA = "x-object-sysmeta-s3-checksum-algorithm"
LISTING_PAGE = 10000
MAX_UPLOADS_LISTED = 100000              # in-progress uploads one ListMultipartUploads scans


def segments_container(bucket: str) -> str:
    return bucket + SEGMENTS_SUFFIX


def uploads_container(bucket: str) -> str:
    return bucket + UPLOADS_SUFFIX


def part_name(key: str, upload_id: str, number: int) -> str:
    return f"{key}/{upload_id}/{number:05d}"


def s3_multipart_etag(part_etags: list[str]) -> str:
    """S3's ETag of a multipart object: MD5 of the parts' binary MD5s, then ``-<count>``."""
    digest = hashlib.md5(b"".join(bytes.fromhex(etag) for etag in part_etags))
    return f"{digest.hexdigest()}-{len(part_etags)}"


def _list_all(request: S3Request, container: str, prefix: str, marker: str = "",
              limit: int | None = None) -> list[dict]:
    items: list[dict] = []
    while limit is None or len(items) < limit:
        page_size = LISTING_PAGE if limit is None else min(LISTING_PAGE, limit - len(items))
        resp = request.swift("GET", container, query={
            "format": "json", "prefix": prefix, "marker": marker, "limit": str(page_size)})
        if resp.status_int == 404:
            resp.close()
            return items
        if not resp.ok:
            raise request.error_for(resp, container, None)
        page = json.loads(resp.read() or b"[]") if resp.status_int != 204 else []
        if not page:
            break
        items += page
        marker = page[-1]["name"]
    return items


# ---- the upload -------------------------------------------------------------------------

@dataclass
class Upload:
    key: str
    upload_id: str
    headers: list[tuple[str, str]]   # the marker's: the future object's metadata

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def checksum_algorithm(self) -> str | None:
        return self.header(CHECKSUM_ALGORITHM_SYSMETA)


def _upload_id(request: S3Request) -> str:
    upload_id = request.query.get("uploadId", "")
    if not upload_id or "/" in upload_id:
        raise S3Error("NoSuchUpload", UploadId=upload_id or None)
    return upload_id


def find_upload(request: S3Request) -> Upload:
    """The upload named by ``?uploadId`` (NoSuchUpload if it is not in progress)."""
    upload_id = _upload_id(request)
    key = request.key or ""
    resp = request.swift("HEAD", uploads_container(request.bucket or ""), f"{key}/{upload_id}")
    resp.close()
    if resp.status_int == 404:
        if not request.bucket_exists(request.bucket):
            raise S3Error("NoSuchBucket", BucketName=request.bucket)
        raise S3Error("NoSuchUpload", UploadId=upload_id)
    if not resp.ok:
        raise request.error_for(resp, request.bucket, key)
    return Upload(key, upload_id, resp.headers)


def _ensure_container(request: S3Request, container: str) -> None:
    resp = request.swift("PUT", container)
    if not resp.ok:
        raise request.error_for(resp, container, None)
    resp.close()


def create_multipart_upload(request: S3Request) -> Response:
    _check_storage_class(request)
    bucket = request.bucket or ""
    if not request.bucket_exists(bucket):
        raise S3Error("NoSuchBucket", BucketName=bucket)
    headers = metadata_headers(request)
    headers.update(request_tag_headers(request))
    algorithm = (request.header("x-amz-checksum-algorithm") or "").lower()
    if algorithm:
        if algorithm not in checksums.ALGORITHMS:
            raise S3Error("InvalidRequest", f"Checksum algorithm {algorithm!r} is not supported")
        headers[CHECKSUM_ALGORITHM_SYSMETA] = algorithm
    for container in (uploads_container(bucket), segments_container(bucket)):
        _ensure_container(request, container)
    upload_id = uuid.uuid4().hex
    resp = request.swift("PUT", uploads_container(bucket), f"{request.key}/{upload_id}",
                         headers=headers, body=b"")
    if not resp.ok:
        raise request.error_for(resp, bucket, request.key)
    resp.close()
    out = {}
    if algorithm:
        out["x-amz-checksum-algorithm"] = algorithm.upper()
    return xml_response(element("InitiateMultipartUploadResult", [
        element("Bucket", bucket), element("Key", request.key), element("UploadId", upload_id)]),
        headers=out)


def _part_number(request: S3Request) -> int:
    raw = request.query.get("partNumber", "")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6
            and 1 <= int(raw) <= request.config.max_parts):
        raise S3Error("InvalidArgument", f"Part number must be an integer between 1 and "
                                         f"{request.config.max_parts}, inclusive",
                      ArgumentName="partNumber", ArgumentValue=raw)
    return int(raw)


def upload_part(request: S3Request) -> Response:
    number = _part_number(request)
    upload = find_upload(request)
    container = segments_container(request.bucket or "")
    name = part_name(upload.key, upload.upload_id, number)
    if request.header("x-amz-copy-source") is not None:
        return copy_source_part(request, container, name)
    headers = {"content-type": "application/octet-stream"}
    etag = content_md5_hex(request)
    if etag:
        headers["etag"] = etag
    body = open_body(request)
    algorithm = upload.checksum_algorithm
    if body.checksum and body.checksum[1] is not None:
        headers[CHECKSUM_SYSMETA + body.checksum[0]] = body.checksum[1]
    if algorithm and (body.checksum is None or body.checksum[0] != algorithm):
        raise S3Error("InvalidRequest", f"The upload was created with checksum algorithm "
                                        f"{algorithm.upper()}: each part must carry "
                                        f"x-amz-checksum-{algorithm}")
    return store_body(request, container, name, headers, body)


# ---- completing and aborting -----------------------------------------------------------

def _requested_parts(body: bytes) -> list[tuple[int, str, dict[str, str]]]:
    """(part number, ETag, {algorithm: checksum}) of a CompleteMultipartUpload body."""
    try:
        root = parse(body)
    except XMLError:
        raise S3Error("MalformedXML") from None
    if root.tag != "CompleteMultipartUpload":
        raise S3Error("MalformedXML")
    parts = []
    for node in root.findall("Part"):
        number, etag = child_text(node, "PartNumber"), child_text(node, "ETag")
        if not number or not number.strip().isdigit() or etag is None:
            raise S3Error("MalformedXML")
        sums = {name: value for name in checksums.ALGORITHMS
                if (value := child_text(node, "Checksum" + name.upper())) is not None}
        parts.append((int(number.strip()), etag.strip().strip('"'), sums))
    if not parts:
        raise S3Error("MalformedXML", "You must specify at least one part")
    return parts


def _stored_parts(request: S3Request, upload: Upload) -> dict[int, dict]:
    prefix = f"{upload.key}/{upload.upload_id}/"
    found = {}
    for item in _list_all(request, segments_container(request.bucket or ""), prefix):
        suffix = item["name"][len(prefix):]
        if suffix.isdigit():
            found[int(suffix)] = item
    return found


def complete_multipart_upload(request: S3Request) -> Response:
    upload = find_upload(request)
    requested = _requested_parts(read_small_body(request, MAX_COMPLETE_BODY))
    numbers = [number for number, _, _ in requested]
    if numbers != sorted(set(numbers)):
        raise S3Error("InvalidPartOrder")
    if len(requested) > request.config.max_parts:
        raise S3Error("InvalidArgument", f"A multipart upload has at most "
                                         f"{request.config.max_parts} parts")
    stored = _stored_parts(request, upload)
    bucket = request.bucket or ""
    for number, etag, _sums in requested:  # every part exists before any size matters
        if number not in stored or stored[number]["hash"] != etag:
            raise S3Error("InvalidPart", PartNumber=number, ETag=etag)
    manifest, etags = [], []
    for index, (number, etag, _sums) in enumerate(requested):
        item = stored[number]
        if index < len(requested) - 1 and item["bytes"] < request.config.min_part_size:
            raise S3Error("EntityTooSmall", ProposedSize=item["bytes"],
                          MinSizeAllowed=request.config.min_part_size, PartNumber=number,
                          ETag=etag)
        manifest.append({"path": f"/{segments_container(bucket)}/{item['name']}",
                         "etag": etag, "size_bytes": item["bytes"]})
        etags.append(etag)
    s3_etag = s3_multipart_etag(etags)
    headers = {name.lower(): value for name, value in upload.headers
               if name.lower() in STORED_HEADERS
               or name.lower().startswith((SWIFT_META_PREFIX, OBJECT_TAG_SYSMETA))}
    headers[S3_ETAG_SYSMETA] = s3_etag
    # the container listing shows S3's ETag as the s3_etag parameter of the record's etag
    headers["x-object-sysmeta-container-update-override-etag"] = f"; s3_etag={s3_etag}"
    composite = _composite_checksum(request, upload, requested, stored)
    if composite is not None:
        headers[CHECKSUM_SYSMETA + composite[0]] = composite[1]
    resp = request.swift("PUT", bucket, upload.key, query={"multipart-manifest": "put"},
                         headers=headers, body=json.dumps(manifest).encode("utf-8"))
    if not resp.ok:
        raise request.error_for(resp, bucket, upload.key)
    resp.close()
    _delete_quietly(request, uploads_container(bucket), f"{upload.key}/{upload.upload_id}")
    used = set(numbers)
    for number, item in stored.items():
        if number not in used:
            _delete_quietly(request, segments_container(bucket), item["name"])
    children = [element("Location", f"/{bucket}/{upload.key}"), element("Bucket", bucket),
                element("Key", upload.key), element("ETag", quoted_etag(s3_etag))]
    out = {}
    if composite is not None:
        children.append(element("Checksum" + composite[0].upper(), composite[1]))
        out[checksums.HEADER_PREFIX + composite[0]] = composite[1]
    return xml_response(element("CompleteMultipartUploadResult", children), headers=out)


def _composite_checksum(request: S3Request, upload: Upload, requested, stored
                        ) -> tuple[str, str] | None:
    """S3's checksum of checksums (``<base64>-<parts>``) when the upload has an algorithm
    and every part's checksum is known; a stored one must match what the Complete
    request names."""
    algorithm = upload.checksum_algorithm
    if not algorithm:
        return None
    digests = []
    for number, etag, sums in requested:
        stored_checksum = _part_checksum(request, upload, number, algorithm)
        if stored_checksum is not None and sums.get(algorithm, stored_checksum) != stored_checksum:
            raise S3Error("InvalidPart", PartNumber=number, ETag=etag)
        # a part stored without one (e.g. copied with UploadPartCopy): the Complete
        # request names it
        part_checksum = stored_checksum or sums.get(algorithm)
        if part_checksum is None:
            return None
        digests.append(base64.b64decode(part_checksum))
    return algorithm, f"{checksums.checksum_of(algorithm, b''.join(digests))}-{len(digests)}"


def _part_checksum(request: S3Request, upload: Upload, number: int, algorithm: str) -> str | None:
    resp = request.swift("HEAD", segments_container(request.bucket or ""),
                         part_name(upload.key, upload.upload_id, number))
    resp.close()
    return resp.header(CHECKSUM_SYSMETA + algorithm) if resp.ok else None


def _delete_quietly(request: S3Request, container: str, name: str) -> None:
    """A clean-up delete: what it leaves behind costs space, not correctness."""
    resp = request.swift("DELETE", container, name)
    resp.close()


def abort_multipart_upload(request: S3Request) -> Response:
    upload = find_upload(request)
    for item in _stored_parts(request, upload).values():
        _delete_quietly(request, segments_container(request.bucket or ""), item["name"])
    _delete_quietly(request, uploads_container(request.bucket or ""),
                    f"{upload.key}/{upload.upload_id}")
    return Response(204, {})


# ---- listings ---------------------------------------------------------------------------

def _bounded(request: S3Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise S3Error("InvalidArgument", f"Provided {name} not an integer or within integer "
                                         f"range", ArgumentName=name, ArgumentValue=raw)
    return min(int(raw), default)


def list_parts(request: S3Request) -> Response:
    upload = find_upload(request)
    max_parts = _bounded(request, "max-parts", 1000)
    marker_raw = request.query.get("part-number-marker", "0") or "0"
    if not marker_raw.isdigit() or len(marker_raw) > 6:
        raise S3Error("InvalidArgument", "Invalid part-number-marker",
                      ArgumentName="part-number-marker", ArgumentValue=marker_raw)
    marker = int(marker_raw)
    prefix = f"{upload.key}/{upload.upload_id}/"
    swift_marker = part_name(upload.key, upload.upload_id, marker) if marker else ""
    items = [item for item in _list_all(request, segments_container(request.bucket or ""),
                                        prefix, swift_marker, limit=max_parts + 1)
             if item["name"][len(prefix):].isdigit()]
    truncated = len(items) > max_parts
    items = items[:max_parts]
    children = [element("Bucket", request.bucket), element("Key", upload.key),
                element("UploadId", upload.upload_id), owner_element(request, "Initiator"),
                owner_element(request), element("StorageClass", "STANDARD"),
                element("PartNumberMarker", marker)]
    if items:
        children.append(element("NextPartNumberMarker", int(items[-1]["name"][len(prefix):])))
    children += [element("MaxParts", max_parts), element("IsTruncated", truncated)]
    if upload.checksum_algorithm:
        children.append(element("ChecksumAlgorithm", upload.checksum_algorithm.upper()))
    for item in items:
        children.append(element("Part", [
            element("PartNumber", int(item["name"][len(prefix):])),
            element("LastModified", s3_time(item.get("last_modified", ""))),
            element("ETag", quoted_etag(item["hash"])), element("Size", item["bytes"])]))
    return xml_response(element("ListPartsResult", children))


def list_multipart_uploads(request: S3Request) -> Response:
    """In-progress uploads by key, then by initiation time; prefix, delimiter,
    key-marker / upload-id-marker and max-uploads applied here (the marker names
    ``<key>/<id>`` do not sort exactly as keys do)."""
    bucket = request.bucket or ""
    if not request.bucket_exists(bucket):
        raise S3Error("NoSuchBucket", BucketName=bucket)
    max_uploads = _bounded(request, "max-uploads", 1000)
    prefix = request.query.get("prefix", "")
    delimiter = request.query.get("delimiter", "")
    key_marker = request.query.get("key-marker", "")
    id_marker = request.query.get("upload-id-marker", "")
    uploads = []
    for item in _list_all(request, uploads_container(bucket), prefix, limit=MAX_UPLOADS_LISTED):
        key, _, upload_id = item["name"].rpartition("/")
        uploads.append((key, item.get("last_modified", ""), upload_id))
    uploads.sort()
    entries: list[tuple[str, tuple | None]] = []   # (key or common prefix, upload or None)
    seen_prefixes = set()
    for upload in uploads:
        key, _, upload_id = upload
        if key < key_marker or (key == key_marker and (not id_marker or upload_id <= id_marker)):
            continue
        if delimiter:
            found = key.find(delimiter, len(prefix))
            if found >= 0:
                common = key[:found + len(delimiter)]
                if common not in seen_prefixes and common > key_marker:
                    seen_prefixes.add(common)
                    entries.append((common, None))
                continue
        entries.append((key, upload))
    truncated = len(entries) > max_uploads
    entries = entries[:max_uploads]
    children = [element("Bucket", bucket), element("KeyMarker", key_marker),
                element("UploadIdMarker", id_marker)]
    if truncated:
        last_key, last_upload = entries[-1]
        children += [element("NextKeyMarker", last_key),
                     element("NextUploadIdMarker", last_upload[2] if last_upload else "")]
    if delimiter:
        children.append(element("Delimiter", delimiter))
    if prefix:
        children.append(element("Prefix", prefix))
    children += [element("MaxUploads", max_uploads), element("IsTruncated", truncated)]
    for name, upload in entries:
        if upload is None:
            continue
        children.append(element("Upload", [
            element("Key", name), element("UploadId", upload[2]),
            owner_element(request, "Initiator"), owner_element(request),
            element("StorageClass", "STANDARD"), element("Initiated", s3_time(upload[1]))]))
    children += [element("CommonPrefixes", [element("Prefix", name)])
                 for name, upload in entries if upload is None]
    return xml_response(element("ListMultipartUploadsResult", children))

