"""``objstore-aio`` with the Swauth-style store (the default): the SAIO users log in, the
banner's add-user line works as printed, users, tokens and the S3 key pair survive a restart;
``--auth tempauth`` switches to the static users (S3: account:user / key).

Its own one-node cluster, so that restarting it does not disturb the session's cluster.
"""
from __future__ import annotations

import http.client
import os
import shlex
import shutil
import subprocess
import sys

import pytest

from aio.layout import SWAUTH_USERS
from aio.processes import program
from tests.support import free_port


def run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)


def login(port: int, user: str, key: str) -> tuple[int, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/auth/v1.0", headers={"X-Auth-User": user, "X-Auth-Key": key})
        resp = conn.getresponse()
        resp.read()
        return resp.status, {name.lower(): value for name, value in resp.getheaders()}
    finally:
        conn.close()


def printed_command(banner: str, starts_with: str, naming: str = "") -> list[str]:
    """The banner's one command line that starts with ``starts_with`` (and names
    ``naming``), as argv to run as is."""
    [line] = [line.strip() for line in banner.splitlines()
              if line.strip().startswith(starts_with) and naming in line]
    argv = shlex.split(line)
    found = shutil.which(argv[0], path=os.path.dirname(sys.executable)) or shutil.which(argv[0])
    assert found, f"{argv[0]} is not installed"
    return [found, *argv[1:]]


@pytest.fixture
def small_cluster(tmp_path):
    base = str(tmp_path / "aio")
    port = free_port()

    def aio(*args: str) -> subprocess.CompletedProcess:
        done = run(program("objstore-aio") + [args[0], "--dir", base, *args[1:]])
        assert done.returncode == 0, done.stdout + done.stderr
        return done
    try:
        yield port, aio
    finally:
        run(program("objstore-aio") + ["stop", "--dir", base])


def s3_client(port: int, access_key: str, secret: str):
    import boto3
    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id=access_key, aws_secret_access_key=secret)


def s3_error(call) -> str:
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def test_saio_users_the_printed_add_user_line_and_a_restart(small_cluster):
    port, aio = small_cluster
    banner = aio("start", "--nodes", "1", "--replicas", "1", "--part-power", "2",
                 "--port", str(port), "--timeout", "150").stdout
    for user in SWAUTH_USERS:
        status, headers = login(port, user.name, user.key)
        assert status == 200, user.name
        assert headers["x-storage-url"] == f"http://127.0.0.1:{port}/v1/AUTH_{user.account}"
    assert login(port, "test:tester", "wrong")[0] == 401
    assert login(port, "admin:admin", "admin")[0] == 401  # tempauth's, not this store's
    token = login(port, "test:tester", "testing")[1]["x-auth-token"]
    # the banner's S3 pair is in the store; tempauth's account:user / key is not a pair here
    s3_client(port, "test:tester", "testing").create_bucket(Bucket="kept")
    assert s3_error(s3_client(port, "test2:tester2", "testing2").list_buckets) == \
        "InvalidAccessKeyId"

    added = run(printed_command(banner, "objstore-auth-add-user"))
    assert added.returncode == 0, added.stderr
    stat = run(printed_command(banner, "swift -A", naming="myaccount:myuser"))
    assert stat.returncode == 0 and "Account: AUTH_" in stat.stdout, stat.stdout + stat.stderr

    again = aio("restart").stdout
    assert login(port, "myaccount:myuser", "mykey")[0] == 200
    # a start leaves existing users alone: same key, same token
    assert login(port, "test:tester", "testing")[1]["x-auth-token"] == token
    key_line = [line for line in again.splitlines() if "super admin key:" in line]
    assert key_line and key_line[0] in banner  # the same key, kept in aio.json
    assert [b["Name"] for b in s3_client(port, "test:tester", "testing").list_buckets()[
        "Buckets"]] == ["kept"]  # the S3 pair is kept (not made twice) across the restart

    switched = aio("restart", "--auth", "tempauth").stdout
    [started] = [line for line in switched.splitlines() if ": started " in line]
    assert "super admin key" not in switched and "auth-token-cleaner" not in started
    assert login(port, "admin:admin", "admin")[0] == 200
    assert login(port, "test5:tester5", "testing5")[0] == 401
    assert login(port, "test:tester", "testing")[0] == 200
    # with tempauth, account:user / key are access key / secret, as with Swift's s3api
    test2 = s3_client(port, "test2:tester2", "testing2")
    test2.create_bucket(Bucket="tempauth-bucket")
    test2.put_object(Bucket="tempauth-bucket", Key="k", Body=b"via tempauth")
    assert test2.get_object(Bucket="tempauth-bucket", Key="k")["Body"].read() == b"via tempauth"
    assert s3_error(s3_client(port, "test2:tester2", "wrong").list_buckets) == \
        "SignatureDoesNotMatch"
