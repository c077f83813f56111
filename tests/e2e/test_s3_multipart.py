"""Multipart uploads through boto3 (default configuration) as static large objects."""
from __future__ import annotations

import base64
import hashlib
import os
import uuid
import zlib

import boto3
import pytest
from botocore.exceptions import ClientError

MiB = 1024 * 1024


@pytest.fixture
def s3(s3_cluster):
    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3_cluster.port}",
                        aws_access_key_id="test:tester", aws_secret_access_key="testing",
                        region_name="us-east-1")


@pytest.fixture
def bucket(s3):
    name = f"mpu-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def swift(s3_cluster):
    from swiftclient.client import Connection
    conn = Connection(authurl=f"http://127.0.0.1:{s3_cluster.port}/auth/v1.0",
                      user="test:tester", key="testing", retries=0)
    yield conn
    conn.close()


def error_code(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return caught.value.response["Error"]["Code"]


def multipart_etag(parts: list[bytes]) -> str:
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f'"{digest}-{len(parts)}"'


def test_upload_file_and_download_file_are_byte_identical(s3, bucket, swift, tmp_path):
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(20 * MiB + 12345))  # boto3: 8 MiB parts, so 3 of them
    s3.upload_file(str(source), bucket, "big.bin")
    down = tmp_path / "down.bin"
    s3.download_file(bucket, "big.bin", str(down))
    assert down.read_bytes() == source.read_bytes()
    data = source.read_bytes()
    expected = multipart_etag([data[:8 * MiB], data[8 * MiB:16 * MiB], data[16 * MiB:]])
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ETag"] == expected and head["ContentLength"] == len(data)
    assert head["PartsCount"] == 3
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    assert listed["ETag"] == expected and listed["Size"] == len(data)
    part = s3.get_object(Bucket=bucket, Key="big.bin", PartNumber=2)
    assert part["Body"].read() == data[8 * MiB:16 * MiB] and part["PartsCount"] == 3
    # the Swift API sees a static large object
    headers = swift.head_object(bucket, "big.bin")
    assert headers["x-static-large-object"].lower() == "true"
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    # deleting the object deletes its parts
    s3.delete_object(Bucket=bucket, Key="big.bin")
    _, segments = swift.get_container(f"{bucket}+segments")
    assert segments == []
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert f"{bucket}+segments" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_low_level_multipart_with_checksums_and_listings(s3, bucket):
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), b"tail"]
    created = s3.create_multipart_upload(Bucket=bucket, Key="obj", ContentType="text/x-mpu",
                                         Metadata={"m": "1"}, ChecksumAlgorithm="CRC32")
    upload_id = created["UploadId"]
    etags = []
    for number, data in enumerate(parts, 1):
        resp = s3.upload_part(Bucket=bucket, Key="obj", UploadId=upload_id, PartNumber=number,
                              Body=data, ChecksumAlgorithm="CRC32")
        assert resp["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
        etags.append((resp["ETag"], resp["ChecksumCRC32"]))
    listed = s3.list_parts(Bucket=bucket, Key="obj", UploadId=upload_id, MaxParts=2)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2] and listed["IsTruncated"]
    rest = s3.list_parts(Bucket=bucket, Key="obj", UploadId=upload_id,
                         PartNumberMarker=listed["NextPartNumberMarker"])
    assert [(p["PartNumber"], p["Size"]) for p in rest["Parts"]] == [(3, 4)]
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("obj", upload_id)]
    assert error_code(s3.complete_multipart_upload, Bucket=bucket, Key="obj", UploadId=upload_id,
                      MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": etags[1][0]},
                                                 {"PartNumber": 1, "ETag": etags[0][0]}]}) \
        == "InvalidPartOrder"
    assert error_code(s3.complete_multipart_upload, Bucket=bucket, Key="obj", UploadId=upload_id,
                      MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00"'}]}) \
        == "InvalidPart"
    assert error_code(s3.complete_multipart_upload, Bucket=bucket, Key="obj", UploadId=upload_id,
                      MultipartUpload={"Parts": [{"PartNumber": 3, "ETag": etags[2][0]},
                                                 {"PartNumber": 4, "ETag": etags[2][0]}]}) \
        == "InvalidPart"
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="obj", UploadId=upload_id, MultipartUpload={"Parts": [
            {"PartNumber": n, "ETag": etag, "ChecksumCRC32": crc}
            for n, (etag, crc) in enumerate(etags, 1)]})
    assert done["ETag"] == multipart_etag(parts)
    crcs = b"".join(base64.b64decode(crc) for _, crc in etags)
    composite = base64.b64encode(zlib.crc32(crcs).to_bytes(4, "big")).decode() + "-3"
    assert done["ChecksumCRC32"] == composite
    got = s3.get_object(Bucket=bucket, Key="obj", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"".join(parts)
    assert got["ContentType"] == "text/x-mpu" and got["Metadata"] == {"m": "1"}
    assert got["ChecksumCRC32"] == composite
    assert error_code(s3.list_parts, Bucket=bucket, Key="obj", UploadId=upload_id) \
        == "NoSuchUpload"


def test_small_parts_abort_and_part_copy(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    first = s3.upload_part(Bucket=bucket, Key="small", UploadId=upload_id, PartNumber=1,
                           Body=b"a" * 1000)["ETag"]
    second = s3.upload_part(Bucket=bucket, Key="small", UploadId=upload_id, PartNumber=2,
                            Body=b"b")["ETag"]
    assert error_code(s3.complete_multipart_upload, Bucket=bucket, Key="small",
                      UploadId=upload_id, MultipartUpload={"Parts": [
                          {"PartNumber": 1, "ETag": first}, {"PartNumber": 2, "ETag": second}]}) \
        == "EntityTooSmall"
    assert error_code(s3.upload_part, Bucket=bucket, Key="small", UploadId=upload_id,
                      PartNumber=10001, Body=b"x") == "InvalidArgument"
    s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=upload_id)
    assert error_code(s3.upload_part, Bucket=bucket, Key="small", UploadId=upload_id,
                      PartNumber=1, Body=b"x") == "NoSuchUpload"
    assert error_code(s3.abort_multipart_upload, Bucket=bucket, Key="small",
                      UploadId=upload_id) == "NoSuchUpload"
    # UploadPartCopy, whole and ranged
    source = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="copied")["UploadId"]
    one = s3.upload_part_copy(Bucket=bucket, Key="copied", UploadId=upload_id, PartNumber=1,
                              CopySource={"Bucket": bucket, "Key": "source"})
    two = s3.upload_part_copy(Bucket=bucket, Key="copied", UploadId=upload_id, PartNumber=2,
                              CopySource={"Bucket": bucket, "Key": "source"},
                              CopySourceRange="bytes=10-19")
    assert two["CopyPartResult"]["ETag"] == f'"{hashlib.md5(source[10:20]).hexdigest()}"'
    assert error_code(s3.upload_part_copy, Bucket=bucket, Key="copied", UploadId=upload_id,
                      PartNumber=3, CopySource={"Bucket": bucket, "Key": "source"},
                      CopySourceRange=f"bytes=0-{6 * MiB}") == "InvalidArgument"
    s3.complete_multipart_upload(Bucket=bucket, Key="copied", UploadId=upload_id,
                                 MultipartUpload={"Parts": [
                                     {"PartNumber": 1, "ETag": one["CopyPartResult"]["ETag"]},
                                     {"PartNumber": 2, "ETag": two["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="copied")["Body"].read() == source + source[10:20]


def test_upload_file_with_crc32_trailers(s3_cluster, s3, bucket, tmp_path, monkeypatch):
    """What boto3 sends over TLS: every part aws-chunked with a CRC32 trailer."""
    import botocore.httpchecksum
    real_urlparse = botocore.httpchecksum.urlparse
    monkeypatch.setattr(botocore.httpchecksum, "urlparse",
                        lambda url: real_urlparse(url.replace("http://", "https://", 1)))
    source = tmp_path / "trailed.bin"
    source.write_bytes(os.urandom(9 * MiB))
    s3.upload_file(str(source), bucket, "trailed.bin")
    got = s3.get_object(Bucket=bucket, Key="trailed.bin", ChecksumMode="ENABLED")
    assert got["Body"].read() == source.read_bytes()
    assert got["ChecksumCRC32"].endswith("-2")
