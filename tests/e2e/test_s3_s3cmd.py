"""s3cmd (path-style, Signature V4) against the all-in-one's S3 API."""
from __future__ import annotations

import sys
import uuid

import pytest

from tests.e2e.conftest import find_tool, run_command


@pytest.fixture
def s3cmd(s3_cluster, tmp_path):
    config = tmp_path / "s3cfg"
    host = f"127.0.0.1:{s3_cluster.port}"
    config.write_text(f"[default]\naccess_key = test:tester\nsecret_key = testing\n"
                      f"host_base = {host}\nhost_bucket = {host}\nuse_https = False\n"
                      f"bucket_location = us-east-1\nsignature_v2 = False\n")
    binary = find_tool("s3cmd", "s3cmd")

    def run(*args: str, check: bool = True):
        return run_command(f"s3cmd {' '.join(args)}",
                           [sys.executable, binary, "-c", str(config), *args], check=check,
                           timeout=120)
    return run


def test_s3cmd_put_get_ls_del(s3cmd, tmp_path):
    bucket = f"s3cmd-{uuid.uuid4().hex[:10]}"
    s3cmd("mb", f"s3://{bucket}")
    source = tmp_path / "file.txt"
    source.write_bytes(b"s3cmd was here\n" * 1000)
    s3cmd("put", str(source), f"s3://{bucket}/dir/file.txt")
    assert f"s3://{bucket}/dir/file.txt" in s3cmd("ls", "--recursive", f"s3://{bucket}").stdout
    assert f"s3://{bucket}" in s3cmd("ls").stdout
    s3cmd("get", f"s3://{bucket}/dir/file.txt", str(tmp_path / "got.txt"))
    assert (tmp_path / "got.txt").read_bytes() == source.read_bytes()
    s3cmd("del", f"s3://{bucket}/dir/file.txt")
    assert "file.txt" not in s3cmd("ls", "--recursive", f"s3://{bucket}").stdout
    s3cmd("rb", f"s3://{bucket}")
