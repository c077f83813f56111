"""Object and bucket tagging through boto3 against the all-in-one's S3 API: the tag
operations, x-amz-tagging on uploads and copies, S3's limits, and tags that survive
metadata updates of either API."""
from __future__ import annotations

import pytest

from tests.e2e.test_s3_boto3 import bucket, cluster, error_code, s3  # noqa: F401 (fixtures)

TAGS = [{"Key": "project", "Value": "blue sky"}, {"Key": "owner", "Value": "ops/team@x"}]


def tag_set(s3, bucket: str, key: str) -> list[dict]:
    return s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]


def as_dict(tags: list[dict]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags}


def test_object_tagging_round_trip_keeps_the_object(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="doc", Body=b"tagged body", ContentType="text/x-doc",
                        Metadata={"color": "red"}, Tagging="stage=draft&note=a%20b%2Bc")
    assert as_dict(tag_set(s3, bucket, "doc")) == {"stage": "draft", "note": "a b+c"}
    assert s3.head_object(Bucket=bucket, Key="doc")["ResponseMetadata"]["HTTPHeaders"][
        "x-amz-tagging-count"] == "2"
    assert s3.get_object(Bucket=bucket, Key="doc")["TagCount"] == 2

    s3.put_object_tagging(Bucket=bucket, Key="doc", Tagging={"TagSet": TAGS})
    assert tag_set(s3, bucket, "doc") == TAGS
    got = s3.get_object(Bucket=bucket, Key="doc")
    assert got["Body"].read() == b"tagged body" and got["ETag"] == put["ETag"]
    assert got["Metadata"] == {"color": "red"} and got["ContentType"] == "text/x-doc"
    assert got["TagCount"] == 2

    deleted = s3.delete_object_tagging(Bucket=bucket, Key="doc")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert tag_set(s3, bucket, "doc") == []
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="doc")
    assert s3.get_object(Bucket=bucket, Key="doc")["Metadata"] == {"color": "red"}


def test_tag_limits_and_errors(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")

    def put(tags):
        return error_code(s3.put_object_tagging, Bucket=bucket, Key="k",
                          Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags]})
    assert put([(f"k{i}", "v") for i in range(11)]) == "BadRequest"
    assert put([("same", "1"), ("same", "2")]) == "InvalidTag"
    assert put([("k" * 129, "v")]) == "InvalidTag"
    assert put([("k", "v" * 257)]) == "InvalidTag"
    assert put([("aws:reserved", "v")]) == "InvalidTag"
    assert put([("bad<char", "v")]) == "InvalidTag"
    # the limits count Unicode characters, not bytes
    unicode_tags = [("ключ" * 32, "значение" * 32)] + [(f"k{i}", "") for i in range(9)]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [
        {"Key": k, "Value": v} for k, v in unicode_tags]})
    assert [(t["Key"], t["Value"]) for t in tag_set(s3, bucket, "k")] == unicode_tags
    assert error_code(s3.put_object, Bucket=bucket, Key="k2", Body=b"",
                      Tagging="&".join(f"t{i}=v" for i in range(11))) == "BadRequest"
    assert error_code(s3.put_object, Bucket=bucket, Key="k2", Body=b"",
                      Tagging="a=1&a=2") == "InvalidTag"
    assert error_code(s3.head_object, Bucket=bucket, Key="k2") == "404"  # nothing stored
    assert error_code(s3.get_object_tagging, Bucket=bucket, Key="nope") == "NoSuchKey"
    assert error_code(s3.put_object_tagging, Bucket=bucket, Key="nope",
                      Tagging={"TagSet": TAGS}) == "NoSuchKey"
    assert error_code(s3.get_object_tagging, Bucket=bucket + "-gone", Key="k") == "NoSuchBucket"


def test_tags_survive_metadata_updates(s3, bucket, conn):
    s3.put_object(Bucket=bucket, Key="m", Body=b"meta", Tagging="keep=me")
    # S3's metadata update: a copy onto itself (the tagging directive defaults to COPY)
    s3.copy_object(Bucket=bucket, Key="m", CopySource={"Bucket": bucket, "Key": "m"},
                   MetadataDirective="REPLACE", Metadata={"new": "meta"})
    assert as_dict(tag_set(s3, bucket, "m")) == {"keep": "me"}
    # the Swift API's metadata update: a POST, which keeps system metadata
    conn.post_object(bucket, "m", headers={"X-Object-Meta-Swift": "posted"})
    assert as_dict(tag_set(s3, bucket, "m")) == {"keep": "me"}
    assert s3.head_object(Bucket=bucket, Key="m")["Metadata"] == {"swift": "posted"}


def test_copy_object_tagging_directive(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"copy me", Tagging="a=1")
    s3.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "src"})
    assert as_dict(tag_set(s3, bucket, "copied")) == {"a": "1"}
    s3.copy_object(Bucket=bucket, Key="replaced", CopySource={"Bucket": bucket, "Key": "src"},
                   TaggingDirective="REPLACE", Tagging="b=2&c=3")
    assert as_dict(tag_set(s3, bucket, "replaced")) == {"b": "2", "c": "3"}
    s3.copy_object(Bucket=bucket, Key="untagged", CopySource={"Bucket": bucket, "Key": "src"},
                   TaggingDirective="REPLACE")
    assert tag_set(s3, bucket, "untagged") == []


def test_multipart_object_tagging_keeps_its_parts_and_etag(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="from=create",
                                        Metadata={"m": "1"}, ContentType="text/x-mp")
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1,
                          Body=b"part one")
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert as_dict(tag_set(s3, bucket, "mp")) == {"from": "create"}
    s3.put_object_tagging(Bucket=bucket, Key="mp", Tagging={"TagSet": TAGS})
    assert tag_set(s3, bucket, "mp") == TAGS
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == b"part one" and got["ETag"] == done["ETag"]
    assert got["Metadata"] == {"m": "1"} and got["ContentType"] == "text/x-mp"
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="mp")["Contents"]
    assert listed[0]["ETag"] == done["ETag"]


@pytest.mark.parametrize("count", [1, 50])
def test_bucket_tagging(s3, bucket, count):
    assert error_code(s3.get_bucket_tagging, Bucket=bucket) == "NoSuchTagSet"
    tags = [{"Key": f"k{i}", "Value": f"v{i}"} for i in range(count)]
    put = s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == tags
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags[:1]})  # replaces, not merges
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == tags[:1]
    assert error_code(s3.put_bucket_tagging, Bucket=bucket, Tagging={"TagSet": [
        {"Key": f"k{i}", "Value": ""} for i in range(51)]}) == "BadRequest"
    s3.delete_bucket_tagging(Bucket=bucket)
    assert error_code(s3.get_bucket_tagging, Bucket=bucket) == "NoSuchTagSet"
    assert error_code(s3.get_bucket_tagging, Bucket=bucket + "-gone") == "NoSuchBucket"
