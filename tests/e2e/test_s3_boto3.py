"""boto3 (default configuration: SigV4, signed payloads, CRC32 checksums) against the
all-in-one's S3 API, and the same objects through the Swift API."""
from __future__ import annotations

import base64
import hashlib
import http.client
import os
import urllib.parse
import uuid
import zlib

import boto3
import botocore.httpchecksum
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ACCESS_KEY, SECRET = "test:tester", "testing"


def client(cluster, access_key: str = ACCESS_KEY, secret: str = SECRET, **config):
    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{cluster.port}",
                        aws_access_key_id=access_key, aws_secret_access_key=secret,
                        region_name="us-east-1", config=Config(**config) if config else None)


@pytest.fixture
def cluster(s3_cluster):
    return s3_cluster


@pytest.fixture
def s3(cluster):
    return client(cluster)


@pytest.fixture
def bucket(s3):
    name = f"s3-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def error_code(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return caught.value.response["Error"]["Code"]


def raw_request(url: str, method: str = "GET", body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, dict, bytes]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request(method, parts.path + ("?" + parts.query if parts.query else ""), body=body,
                 headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_bucket_lifecycle(s3):
    name = f"life-{uuid.uuid4().hex[:10]}"
    assert s3.create_bucket(Bucket=name)["Location"] == f"/{name}"
    assert error_code(s3.create_bucket, Bucket=name) == "BucketAlreadyOwnedByYou"
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=name)
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    assert "Status" not in s3.get_bucket_versioning(Bucket=name)
    assert error_code(s3.create_bucket, Bucket="Bad_Name") == "InvalidBucketName"
    s3.put_object(Bucket=name, Key="x", Body=b"1")
    assert error_code(s3.delete_bucket, Bucket=name) == "BucketNotEmpty"
    s3.delete_object(Bucket=name, Key="x")
    s3.delete_bucket(Bucket=name)
    assert error_code(s3.head_bucket, Bucket=name) == "404"
    assert error_code(s3.list_objects_v2, Bucket=name) == "NoSuchBucket"
    assert error_code(s3.put_object, Bucket=name, Key="k", Body=b"") == "NoSuchBucket"


def test_put_get_head_delete_with_metadata_and_checksum(s3, bucket):
    body = b"hello s3 world" * 100
    put = s3.put_object(Bucket=bucket, Key="dir/hello.txt", Body=body, ContentType="text/plain",
                        Metadata={"color": "blue"}, CacheControl="max-age=60")
    assert put["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
    assert put["ChecksumCRC32"] == crc32_b64(body)  # boto3 sent it by default; we verified it
    got = s3.get_object(Bucket=bucket, Key="dir/hello.txt", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got["Metadata"] == {"color": "blue"}
    assert got["ContentType"] == "text/plain" and got["CacheControl"] == "max-age=60"
    assert got["ChecksumCRC32"] == crc32_b64(body)
    head = s3.head_object(Bucket=bucket, Key="dir/hello.txt")
    assert head["ContentLength"] == len(body) and head["ETag"] == put["ETag"]
    ranged = s3.get_object(Bucket=bucket, Key="dir/hello.txt", Range="bytes=6-7")
    assert ranged["Body"].read() == b"s3" and ranged["ContentRange"] == f"bytes 6-7/{len(body)}"
    assert error_code(s3.get_object, Bucket=bucket, Key="dir/hello.txt",
                      Range=f"bytes={len(body) + 10}-") == "InvalidRange"
    assert error_code(s3.get_object, Bucket=bucket, Key="dir/hello.txt",
                      IfMatch='"0123"') == "PreconditionFailed"
    assert error_code(s3.get_object, Bucket=bucket, Key="dir/hello.txt",
                      IfNoneMatch=put["ETag"]) == "304"
    overridden = s3.get_object(Bucket=bucket, Key="dir/hello.txt",
                               ResponseContentType="application/x-test",
                               ResponseContentDisposition="attachment; filename=a.txt")
    assert overridden["ContentType"] == "application/x-test"
    assert overridden["ContentDisposition"] == "attachment; filename=a.txt"
    assert s3.get_object(Bucket=bucket, Key="dir/hello.txt")["ContentType"] == "text/plain"
    s3.delete_object(Bucket=bucket, Key="dir/hello.txt")
    assert error_code(s3.get_object, Bucket=bucket, Key="dir/hello.txt") == "NoSuchKey"
    s3.delete_object(Bucket=bucket, Key="dir/hello.txt")  # deleting what is gone is fine


def test_bad_checksum_or_md5_stores_nothing(s3, bucket):
    assert error_code(s3.put_object, Bucket=bucket, Key="k", Body=b"data",
                      ChecksumCRC32=crc32_b64(b"other")) == "BadDigest"
    assert error_code(s3.put_object, Bucket=bucket, Key="k", Body=b"data",
                      ContentMD5=base64.b64encode(hashlib.md5(b"x").digest()).decode()) \
        == "BadDigest"
    assert error_code(s3.head_object, Bucket=bucket, Key="k") == "404"


def as_over_tls(monkeypatch) -> None:
    """Make boto3 send what it sends over TLS: aws-chunked bodies with a CRC32 trailer."""
    real_urlparse = botocore.httpchecksum.urlparse
    monkeypatch.setattr(botocore.httpchecksum, "urlparse",
                        lambda url: real_urlparse(url.replace("http://", "https://", 1)))


def test_unsigned_payload_and_streaming_trailer(cluster, bucket, monkeypatch):
    unsigned = client(cluster, s3={"payload_signing_enabled": False})
    unsigned.put_object(Bucket=bucket, Key="unsigned", Body=b"u" * 1000)
    assert unsigned.get_object(Bucket=bucket, Key="unsigned")["Body"].read() == b"u" * 1000
    as_over_tls(monkeypatch)
    trailer = client(cluster)
    body = bytes(range(256)) * 2000
    put = trailer.put_object(Bucket=bucket, Key="trailer", Body=body)
    assert put["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
    assert trailer.get_object(Bucket=bucket, Key="trailer")["Body"].read() == body


@pytest.mark.parametrize("policy", ["Policy-0", "ec42"])
@pytest.mark.parametrize("size", [10, 300_000])  # the proxy's one-packet PUT, and a streamed one
def test_a_trailing_checksum_is_stored_and_returned(cluster, conn, monkeypatch, policy, size):
    """boto3's default over TLS (a CRC32 trailer after an aws-chunked body): the checksum,
    known only after the body, is stored with the object, on whole copies and EC alike."""
    bucket = f"trailer-{policy.lower()}-{uuid.uuid4().hex[:8]}"
    conn.put_container(bucket, headers={"X-Storage-Policy": policy})
    as_over_tls(monkeypatch)
    s3 = client(cluster)
    body = os.urandom(size)
    put = s3.put_object(Bucket=bucket, Key="k", Body=body)
    assert put["ChecksumCRC32"] == crc32_b64(body)
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got["Body"].read() == body and got["ChecksumCRC32"] == crc32_b64(body)
    assert s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")["ChecksumCRC32"] == \
        crc32_b64(body)
    assert "ChecksumCRC32" not in s3.head_object(Bucket=bucket, Key="k")
    assert conn.head_container(bucket)["x-storage-policy"] == policy


def test_listings_with_delimiter_pagination_and_encoding(s3, bucket):
    keys = ["a/1", "a/2", "b/1", "c", "d e+f", "e"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    v2 = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [c["Key"] for c in v2["Contents"]] == ["c", "d e+f", "e"]
    assert [p["Prefix"] for p in v2["CommonPrefixes"]] == ["a/", "b/"]
    assert v2["KeyCount"] == 5 and not v2["IsTruncated"] and "Owner" not in v2["Contents"][0]
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    assert [c["Key"] for page in pages for c in page.get("Contents", [])] == ["c", "d e+f", "e"]
    assert [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])] == ["a/", "b/"]
    v1_pages = list(s3.get_paginator("list_objects").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 4}))
    assert [c["Key"] for page in v1_pages for c in page["Contents"]] == keys
    assert v1_pages[0]["Contents"][0]["Owner"]["ID"] == ACCESS_KEY
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="b/1", Prefix="", FetchOwner=True)
    assert [c["Key"] for c in after["Contents"]] == ["c", "d e+f", "e"]
    assert after["Contents"][0]["Owner"]["ID"] == ACCESS_KEY
    prefixed = s3.list_objects(Bucket=bucket, Prefix="a/", Marker="a/1")
    assert [c["Key"] for c in prefixed["Contents"]] == ["a/2"]
    # boto3 asks for encoding-type=url by default and decodes; asked for, it leaves keys encoded
    encoded = s3.list_objects_v2(Bucket=bucket, Prefix="d", EncodingType="url")
    assert [urllib.parse.unquote_plus(c["Key"]) for c in encoded["Contents"]] == ["d e+f"]
    assert s3.list_objects_v2(Bucket=bucket, MaxKeys=0)["KeyCount"] == 0
    item = s3.list_objects_v2(Bucket=bucket, Prefix="c")["Contents"][0]
    head = s3.head_object(Bucket=bucket, Key="c")
    assert item["ETag"] == head["ETag"] and item["Size"] == 1
    assert item["LastModified"] == head["LastModified"]


def test_delete_objects(s3, bucket):
    for i in range(30):
        s3.put_object(Bucket=bucket, Key=f"k{i:02d}", Body=b"x")
    result = s3.delete_objects(Bucket=bucket, Delete={
        "Objects": [{"Key": f"k{i:02d}"} for i in range(20)] + [{"Key": "never-was"}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == sorted(
        [f"k{i:02d}" for i in range(20)] + ["never-was"])
    quiet = s3.delete_objects(Bucket=bucket, Delete={
        "Objects": [{"Key": f"k{i:02d}"} for i in range(20, 30)], "Quiet": True})
    assert "Deleted" not in quiet and "Errors" not in quiet
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_copy_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"copy me", ContentType="text/x-src",
                  Metadata={"a": "1"})
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert copied["CopyObjectResult"]["ETag"] == '"%s"' % hashlib.md5(b"copy me").hexdigest()
    dst = s3.get_object(Bucket=bucket, Key="dst", ChecksumMode="ENABLED")
    assert dst["Body"].read() == b"copy me" and dst["Metadata"] == {"a": "1"}
    assert dst["ContentType"] == "text/x-src"
    assert dst["ChecksumCRC32"] == crc32_b64(b"copy me")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src",
                   MetadataDirective="REPLACE", Metadata={"b": "2"}, ContentType="text/plain")
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert head["Metadata"] == {"b": "2"} and head["ContentType"] == "text/plain"
    # copy onto itself: only to change the metadata
    assert error_code(s3.copy_object, Bucket=bucket, Key="src",
                      CopySource={"Bucket": bucket, "Key": "src"}) == "InvalidRequest"
    s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Metadata={"c": "3"})
    assert s3.head_object(Bucket=bucket, Key="src")["Metadata"] == {"c": "3"}
    assert error_code(s3.copy_object, Bucket=bucket, Key="x", CopySource=f"{bucket}/src",
                      CopySourceIfMatch='"nope"') == "PreconditionFailed"
    assert error_code(s3.copy_object, Bucket=bucket, Key="x",
                      CopySource=f"{bucket}/missing") == "NoSuchKey"


def test_presigned_get_and_put_over_plain_http(s3, bucket):
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "p"},
                                        ExpiresIn=300)
    status, _, _ = raw_request(put_url, "PUT", b"presigned body")
    assert status == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"})
    status, headers, data = raw_request(get_url)
    assert (status, data) == (200, b"presigned body")
    assert headers["etag"] == '"%s"' % hashlib.md5(b"presigned body").hexdigest()
    tampered = get_url.replace("/p?", "/q?")
    status, headers, data = raw_request(tampered)
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in data
    assert headers["content-type"] == "application/xml"
    expired = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"},
                                        ExpiresIn=-1)
    status, _, data = raw_request(expired)
    assert status == 403 and b"Request has expired" in data


def test_signature_v2_header_and_presigned(cluster, bucket):
    v2 = client(cluster, signature_version="s3")
    v2.put_object(Bucket=bucket, Key="v2 key", Body=b"signed v2")
    assert v2.get_object(Bucket=bucket, Key="v2 key")["Body"].read() == b"signed v2"
    url = v2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "v2 key"})
    assert "AWSAccessKeyId=" in url
    status, _, data = raw_request(url)
    assert (status, data) == (200, b"signed v2")


def test_authentication_errors_are_s3_xml(cluster, s3, bucket):
    assert error_code(client(cluster, secret="wrong").list_buckets) == "SignatureDoesNotMatch"
    assert error_code(client(cluster, access_key="nobody:none").list_buckets) == \
        "InvalidAccessKeyId"
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "missing"})
    status, headers, data = raw_request(url)
    assert status == 404 and headers["x-amz-request-id"]
    assert b"<Code>NoSuchKey</Code>" in data and f"<Resource>/{bucket}/missing</Resource>".encode() in data
    assert f"<RequestId>{headers['x-amz-request-id']}</RequestId>".encode() in data
    status, _, data = raw_request(f"http://127.0.0.1:{cluster.port}/{bucket}?cors",
                                  headers={"Authorization": "AWS4-HMAC-SHA256 garbage"})
    assert status == 400 and b"<Code>AuthorizationHeaderMalformed</Code>" in data
    stale = {"Authorization": "AWS test:tester:abc", "Date": "Tue, 27 Mar 2007 19:36:42 +0000"}
    status, _, data = raw_request(f"http://127.0.0.1:{cluster.port}/", headers=stale)
    assert status == 403 and b"<Code>RequestTimeTooSkewed</Code>" in data


def test_cross_api(s3, bucket, conn):
    s3.put_object(Bucket=bucket, Key="from-s3", Body=b"written by S3", Metadata={"k": "v"})
    headers, body = conn.get_object(bucket, "from-s3")
    assert body == b"written by S3" and headers["x-object-meta-k"] == "v"
    conn.put_object(bucket, "from-swift", b"written by Swift", headers={"X-Object-Meta-W": "x"})
    got = s3.get_object(Bucket=bucket, Key="from-swift")
    assert got["Body"].read() == b"written by Swift" and got["Metadata"] == {"w": "x"}
    assert [c["Key"] for c in s3.list_objects_v2(Bucket=bucket)["Contents"]] == \
        ["from-s3", "from-swift"]
    conn.put_container("made-by-swift")
    assert "made-by-swift" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
