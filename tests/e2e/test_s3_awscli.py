"""The AWS CLI (``aws s3`` and ``aws s3api``, with --endpoint-url) against the all-in-one's S3 API."""
from __future__ import annotations

import json
import os
import uuid

import pytest

from tests.e2e.conftest import find_tool, run_command

MiB = 1024 * 1024


@pytest.fixture
def aws(s3_cluster, tmp_path):
    """Run ``aws --endpoint-url ...`` with the cluster's credentials and nothing else."""
    env_keys = {"AWS_ACCESS_KEY_ID": "test:tester", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials")}
    binary = find_tool("aws", "awscli")

    def run(*args: str, check: bool = True):
        return run_command(f"aws {' '.join(args)}",
                           [binary, "--endpoint-url", f"http://127.0.0.1:{s3_cluster.port}", *args],
                           check=check, timeout=120, env={**os.environ, **env_keys})
    return run


def test_aws_s3_cp_ls_sync_rm(aws, tmp_path):
    bucket = f"cli-{uuid.uuid4().hex[:10]}"
    aws("s3", "mb", f"s3://{bucket}")
    local = tmp_path / "tree"
    (local / "sub").mkdir(parents=True)
    (local / "a.txt").write_bytes(b"alpha\n")
    (local / "sub" / "b.bin").write_bytes(os.urandom(9 * MiB))  # multipart (8 MiB parts)
    aws("s3", "cp", str(local / "a.txt"), f"s3://{bucket}/one/a.txt")
    listing = aws("s3", "ls", f"s3://{bucket}/one/").stdout
    assert "a.txt" in listing and " 6 " in listing
    aws("s3", "sync", str(local), f"s3://{bucket}/tree")
    recursive = aws("s3", "ls", "--recursive", f"s3://{bucket}/tree/").stdout
    assert "tree/a.txt" in recursive and "tree/sub/b.bin" in recursive
    # a second sync finds nothing to do
    assert "upload:" not in aws("s3", "sync", str(local), f"s3://{bucket}/tree").stdout
    back = tmp_path / "back"
    aws("s3", "sync", f"s3://{bucket}/tree", str(back))
    assert (back / "sub" / "b.bin").read_bytes() == (local / "sub" / "b.bin").read_bytes()
    aws("s3", "cp", f"s3://{bucket}/one/a.txt", str(tmp_path / "a.copy"))
    assert (tmp_path / "a.copy").read_bytes() == b"alpha\n"
    aws("s3", "rm", "--recursive", f"s3://{bucket}/tree")
    assert "tree/" not in aws("s3", "ls", "--recursive", f"s3://{bucket}").stdout
    aws("s3", "rm", f"s3://{bucket}/one/a.txt")
    aws("s3", "rb", f"s3://{bucket}")
    assert bucket not in aws("s3", "ls").stdout


def test_aws_s3api_calls(aws, tmp_path):
    bucket = f"api-{uuid.uuid4().hex[:10]}"
    aws("s3api", "create-bucket", "--bucket", bucket)
    body = tmp_path / "body.txt"
    body.write_bytes(b"via s3api")
    put = json.loads(aws("s3api", "put-object", "--bucket", bucket, "--key", "k",
                         "--body", str(body), "--metadata", "team=storage").stdout)
    assert put["ETag"].strip('"')
    head = json.loads(aws("s3api", "head-object", "--bucket", bucket, "--key", "k").stdout)
    assert head["ContentLength"] == 9 and head["Metadata"] == {"team": "storage"}
    listed = json.loads(aws("s3api", "list-objects-v2", "--bucket", bucket).stdout)
    assert [item["Key"] for item in listed["Contents"]] == ["k"]
    missing = aws("s3api", "get-object", "--bucket", bucket, "--key", "nope",
                  str(tmp_path / "out"), check=False)
    assert missing.returncode != 0 and "NoSuchKey" in missing.stderr
    aws("s3api", "delete-object", "--bucket", bucket, "--key", "k")
    aws("s3api", "delete-bucket", "--bucket", bucket)
    gone = aws("s3api", "head-bucket", "--bucket", bucket, check=False)
    assert gone.returncode != 0 and "404" in gone.stderr


def test_aws_s3api_object_tagging(aws, tmp_path):
    bucket = f"tag-{uuid.uuid4().hex[:10]}"
    aws("s3api", "create-bucket", "--bucket", bucket)
    body = tmp_path / "body.txt"
    body.write_bytes(b"tagged")
    aws("s3api", "put-object", "--bucket", bucket, "--key", "k", "--body", str(body),
        "--tagging", "team=storage")
    aws("s3api", "put-object-tagging", "--bucket", bucket, "--key", "k", "--tagging",
        json.dumps({"TagSet": [{"Key": "team", "Value": "s3"}, {"Key": "tier", "Value": "hot"}]}))
    got = json.loads(aws("s3api", "get-object-tagging", "--bucket", bucket, "--key", "k").stdout)
    assert got["TagSet"] == [{"Key": "team", "Value": "s3"}, {"Key": "tier", "Value": "hot"}]
    too_many = aws("s3api", "put-object-tagging", "--bucket", bucket, "--key", "k", "--tagging",
                   json.dumps({"TagSet": [{"Key": f"k{i}", "Value": ""} for i in range(11)]}),
                   check=False)
    assert too_many.returncode != 0 and "BadRequest" in too_many.stderr
    aws("s3api", "delete-object", "--bucket", bucket, "--key", "k")
    aws("s3api", "delete-bucket", "--bucket", bucket)
