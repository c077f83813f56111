"""DeleteObjects (``POST /<bucket>?delete``): up to 1,000 keys in one request.

The keys are deleted ``delete_concurrency`` at a time (each is one Swift
DELETE, three replica writes): about that many times faster than one by one.
A key that does not exist counts as deleted, as in S3; ``Quiet`` mode reports
only the errors.
"""
from __future__ import annotations

import hashlib

import eventlet

from objstore.common.http import Response
from proxy.s3.bucket import xml_response
from proxy.s3.errors import S3Error
from proxy.s3.payload import content_md5_hex, read_small_body, requested_checksum
from proxy.s3.request import S3Request
from proxy.s3.xmlio import XMLError, child_text, element, parse

MAX_DELETE_BODY = 2 * 1024 * 1024


def _keys(request: S3Request, body: bytes) -> tuple[list[str], bool]:
    try:
        root = parse(body)
    except XMLError:
        raise S3Error("MalformedXML") from None
    if root.tag != "Delete":
        raise S3Error("MalformedXML")
    quiet = (child_text(root, "Quiet", "false") or "").strip().lower() == "true"
    keys = []
    for node in root.findall("Object"):
        key = child_text(node, "Key")
        if not key:
            raise S3Error("MalformedXML")
        keys.append(key)
    if not keys or len(keys) > request.config.max_delete_keys:
        raise S3Error("MalformedXML", f"A DeleteObjects request names 1 to "
                                      f"{request.config.max_delete_keys} keys")
    return keys, quiet


def delete_objects(request: S3Request) -> Response:
    if request.header("content-md5") is None and requested_checksum(request) is None:
        raise S3Error("InvalidRequest", "Missing required header for this request: "
                                        "Content-MD5 or x-amz-checksum-*")
    body = read_small_body(request, MAX_DELETE_BODY)
    expected_md5 = content_md5_hex(request)
    if expected_md5 is not None and expected_md5 != hashlib.md5(body).hexdigest():
        raise S3Error("BadDigest", "The Content-MD5 you specified did not match what we "
                                   "received.")
    keys, quiet = _keys(request, body)
    if not request.bucket_exists(request.bucket):
        raise S3Error("NoSuchBucket", BucketName=request.bucket)
    pool = eventlet.GreenPool(request.config.delete_concurrency)
    results = list(pool.imap(lambda key: (key, _delete_one(request, key)), keys))
    children = []
    for key, error in results:
        if error is None:
            if not quiet:
                children.append(element("Deleted", [element("Key", key)]))
        else:
            children.append(element("Error", [element("Key", key), element("Code", error.code),
                                              element("Message", error.message)]))
    return xml_response(element("DeleteResult", children))


def _delete_one(request: S3Request, key: str) -> S3Error | None:
    try:
        resp = request.swift("DELETE", request.bucket, key)
    except Exception:  # one key's failure is that key's error, not the whole request's
        return S3Error("InternalError")
    if resp.ok or resp.status_int == 404:
        resp.close()
        return None
    return request.error_for(resp, request.bucket, key)
