"""The objstore-auth-* commands as console scripts against a real cluster whose proxy runs swauth.

Each command is run as a user runs it (its installed script, a child process)
and judged by its exit code, its output and what the cluster does afterwards:
whether the user it made can log in, whether a deleted one still can.
"""
from __future__ import annotations

import json
import subprocess

import pytest

from aio.processes import program
from tests.integration.swauth_helpers import SUPER_KEY, swauth_cluster
from tests.support import wait_for


@pytest.fixture(scope="module")
def cluster():
    with swauth_cluster() as running:
        yield running


def auth_cli(cluster, command: str, *args: str, user: str = ".super_admin",
             key: str = SUPER_KEY, url: str = "") -> subprocess.CompletedProcess:
    url = url or cluster.url("/auth/")
    return subprocess.run(program(f"objstore-auth-{command}") + ["-A", url, "-U", user, "-K", key,
                                                                  *args],
                          capture_output=True, text=True, timeout=60, check=False)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert result.stderr == ""
    return result.stdout


def refused(result: subprocess.CompletedProcess, command: str, status: str) -> str:
    """A failure: exit 1 and one line on stderr naming the status; no traceback."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith(f"objstore-auth-{command}: ") and status in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    return result.stderr


def login(cluster, user: str, key: str, **headers: str) -> int:
    return cluster.request("GET", "/auth/v1.0",
                           headers={"X-Auth-User": user, "X-Auth-Key": key, **headers})[0]


def test_prep_add_users_and_log_in(cluster):
    ok(auth_cli(cluster, "prep"))
    ok(auth_cli(cluster, "prep"))  # idempotent
    ok(auth_cli(cluster, "add-user", "-a", "-s", "cli", "cli", "boss", "bosskey"))
    assert login(cluster, "cli:boss", "bosskey") == 200
    # the account admin adds a plain user to its own account, with the login URL as -A
    ok(auth_cli(cluster, "add-user", "cli", "worker", "workerkey", user="cli:boss",
                key="bosskey", url=cluster.url("/auth/v1.0")))
    assert login(cluster, "cli:worker", "workerkey") == 200
    assert json.loads(ok(auth_cli(cluster, "list", "cli")))["account_id"] == "AUTH_cli"
    assert ok(auth_cli(cluster, "list", "-p", "cli")).split() == ["boss", "worker"]
    assert ok(auth_cli(cluster, "list", "-p", "cli", "boss")).split() == \
        ["cli:boss", "cli", ".admin"]
    assert "cli" in ok(auth_cli(cluster, "list", "-p")).split()
    # --if-missing leaves the user, and its key, alone
    ok(auth_cli(cluster, "add-user", "--if-missing", "cli", "worker", "otherkey"))
    assert login(cluster, "cli:worker", "workerkey") == 200


def test_refusals_are_one_line_with_the_status(cluster):
    ok(auth_cli(cluster, "add-user", "-a", "-s", "ref", "ref", "admin", "adminkey"))
    refused(auth_cli(cluster, "list", key="wrong"), "list", "401 Unauthorized")
    # an account admin cannot make a reseller admin, nor touch another account
    refused(auth_cli(cluster, "add-user", "-r", "ref", "sneaky", "k", user="ref:admin",
                     key="adminkey"), "add-user", "403 Forbidden")
    ok(auth_cli(cluster, "add-account", "elsewhere"))
    refused(auth_cli(cluster, "add-user", "elsewhere", "x", "k", user="ref:admin",
                     key="adminkey"), "add-user", "403 Forbidden")
    assert login(cluster, "ref:sneaky", "k") == 401
    refused(auth_cli(cluster, "delete-user", "ref", "nobody"), "delete-user", "404")
    refused(auth_cli(cluster, "add-user", "ref", ".dot", "k"), "add-user", "400 Bad Request")
    down = auth_cli(cluster, "list", url="http://127.0.0.1:1/auth/")
    assert down.returncode == 1 and "Connection refused" in down.stderr


def test_set_key_keeps_rights_and_revokes_the_old_key(cluster):
    ok(auth_cli(cluster, "add-user", "-a", "-s", "keys", "keys", "kim", "old"))
    ok(auth_cli(cluster, "set-key", "keys", "kim", "new"))
    assert login(cluster, "keys:kim", "old") == 401
    assert login(cluster, "keys:kim", "new") == 200
    assert ".admin" in ok(auth_cli(cluster, "list", "-p", "keys", "kim")).split()
    # a plain user changes its own key
    ok(auth_cli(cluster, "add-user", "keys", "pat", "patkey"))
    ok(auth_cli(cluster, "set-key", "keys", "pat", "patnew", user="keys:pat", key="patkey"))
    assert login(cluster, "keys:pat", "patnew") == 200


def test_delete_user_then_account(cluster):
    ok(auth_cli(cluster, "add-user", "-s", "gone", "gone", "ghost", "boo"))
    status, headers, _ = cluster.request("GET", "/auth/v1.0",
                                         headers={"X-Auth-User": "gone:ghost", "X-Auth-Key": "boo"})
    assert status == 200
    refused(auth_cli(cluster, "delete-account", "gone"), "delete-account", "409 Conflict")
    ok(auth_cli(cluster, "delete-user", "gone", "ghost"))
    assert login(cluster, "gone:ghost", "boo") == 401
    # the token stops working within the proxy workers' cache life (1 s here)
    wait_for(lambda: cluster.request("HEAD", "/v1/AUTH_gone",
                                     headers={"X-Auth-Token": headers["x-auth-token"]})[0] == 401,
             timeout=10, what="the deleted user's token to be refused")
    ok(auth_cli(cluster, "delete-account", "gone"))
    assert "gone" not in ok(auth_cli(cluster, "list", "-p")).split()


def test_service_user_groups(cluster):
    ok(auth_cli(cluster, "add-user", "-g", "service", "-s", "svc", "svc", "robot", "beep"))
    assert ok(auth_cli(cluster, "list", "-p", "svc", "robot")).split() == \
        ["svc:robot", "svc", "service"]


def test_s3_keys(cluster):
    ok(auth_cli(cluster, "add-user", "-s", "s3", "s3", "sam", "samkey"))
    lines = ok(auth_cli(cluster, "add-s3-key", "s3", "sam")).splitlines()
    assert lines[0].startswith("aws_access_key_id = ") and \
        lines[1].startswith("aws_secret_access_key = ")
    access = lines[0].split(" = ")[1]
    mine = ok(auth_cli(cluster, "add-s3-key", "--access-key", "SAMKEY", "--secret-key", "sesame",
                       "s3", "sam", user="s3:sam", key="samkey"))
    assert mine == "aws_access_key_id = SAMKEY\naws_secret_access_key = sesame\n"
    assert sorted(ok(auth_cli(cluster, "list-s3-keys", "s3", "sam")).split()) == \
        sorted([access, "SAMKEY"])
    ok(auth_cli(cluster, "delete-s3-key", "s3", "sam", access))
    assert ok(auth_cli(cluster, "list-s3-keys", "s3", "sam")).split() == ["SAMKEY"]
    refused(auth_cli(cluster, "delete-s3-key", "s3", "sam", access), "delete-s3-key", "404")


def test_cleanup_tokens_removes_expired_ones(cluster):
    ok(auth_cli(cluster, "add-user", "-s", "tok", "tok", "tim", "timkey"))
    assert login(cluster, "tok:tim", "timkey", **{"X-Auth-Token-Lifetime": "1"}) == 200

    def removed_some() -> bool:
        out = ok(auth_cli(cluster, "cleanup-tokens"))
        assert out.startswith("checked ")
        return "removed 0 expired" not in out
    wait_for(removed_some, timeout=30, interval=0.5, what="the expired token to be removed")
    refused(auth_cli(cluster, "cleanup-tokens", user="tok:tim", key="timkey"), "cleanup-tokens",
            "403 Forbidden")
