"""The S3 examples ``objstore-aio start`` prints work as printed: the boto3 snippet,
then the ``aws`` lines, then the ``s3cmd`` line, pasted into a shell in that order,
with the key pair the all-in-one made in its Swauth-style store."""
from __future__ import annotations

import json
import os
import sys
import textwrap
import urllib.request

from tests.e2e.conftest import run_command


def printed_block(banner: str, title: str) -> str:
    """The indented lines under ``title`` in the banner, up to the next blank line."""
    lines = banner.splitlines()
    start = lines.index(title) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return textwrap.dedent("\n".join(lines[start:end])) + "\n"


def test_the_printed_s3_examples_work_as_printed(s3_cluster, tmp_path):
    banner = s3_cluster.banner
    assert f"  endpoint:   http://127.0.0.1:{s3_cluster.port}\n" in banner
    # a clean home: no ~/.aws or ~/.s3cfg of the machine's helps the examples along
    env = {"HOME": str(tmp_path), "PATH": os.path.dirname(sys.executable) + os.pathsep
           + os.environ.get("PATH", "")}
    (tmp_path / "README.md").write_text("read me\n")

    boto3_code = printed_block(banner, "boto3 (pip install boto3):")
    ran = run_command("the printed boto3 example", [sys.executable, "-c", boto3_code],
                      check=True, timeout=60, cwd=str(tmp_path), env=env)
    assert ran.stdout == "b'hello'\n"

    aws_lines = printed_block(banner, "aws CLI (pip install awscli):")
    ran = run_command("the printed aws lines", ["bash", "-e", "-c", aws_lines], check=True,
                      timeout=120, cwd=str(tmp_path), env=env)
    assert "upload: ./README.md to s3://mybucket/README.md" in ran.stdout
    assert " 8 README.md" in ran.stdout and " 5 hello.txt" in ran.stdout

    s3cmd_line = printed_block(banner, "s3cmd (pip install s3cmd):")
    ran = run_command("the printed s3cmd line", ["bash", "-e", "-c", s3cmd_line], check=True,
                      timeout=60, cwd=str(tmp_path), env=env)
    assert "s3://mybucket/README.md" in ran.stdout and "s3://mybucket/hello.txt" in ran.stdout


def test_info_shows_slo_limits_for_10000_parts(s3_cluster):
    with urllib.request.urlopen(f"http://127.0.0.1:{s3_cluster.port}/info", timeout=30) as resp:
        slo = json.load(resp)["slo"]
    assert slo["max_manifest_segments"] == 10000
    assert slo["max_manifest_size"] == 16 * 1024 * 1024
