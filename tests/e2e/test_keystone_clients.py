"""OpenStack's own clients log in to the all-in-one's Keystone v3 token API (the swauth
filter's, no Keystone anywhere) and use the object store; and the API refuses what it
must: another project's account, a wrong password, a revoked or expired token.

Users of their own (``ks1:alice`` and ``ks2:bob``, account admins; ``ks1:dave`` for
the expiry test), added with ``objstore-auth-add-user`` as the README does, so the
session's other tests keep their tokens.
"""
from __future__ import annotations

import configparser
import http.client
import json
import os
import uuid

import pytest

from aio.processes import program
from tests.e2e.conftest import find_tool, run_command
from tests.support import wait_for

DOMAIN = {"name": "Default"}
USERS = (("ks1", "alice", "alicekey"), ("ks2", "bob", "bobkey"), ("ks1", "dave", "davekey"))
# a revoked token is refused by every proxy worker within token_cache_life (10 s)
REVOCATION_BOUND = 15.0


@pytest.fixture(scope="module")
def users(cluster):
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(os.path.join(cluster.dir, "etc", "proxy.conf"))
    key = conf["filter:swauth"]["super_admin_key"]
    for account, user, password in USERS:
        run_command("objstore-auth-add-user",
                    program("objstore-auth-add-user") + [
                        "-A", f"http://127.0.0.1:{cluster.port}/auth/", "-K", key, "-a",
                        "-s", account, account, user, password],
                    check=True, timeout=60)
    return cluster


def v3_url(cluster) -> str:
    return f"http://127.0.0.1:{cluster.port}/auth/v3"


def request(cluster, method: str, path: str, headers: dict[str, str] | None = None,
            body: dict | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", cluster.port, timeout=30)
    try:
        data = json.dumps(body).encode() if body is not None else None
        sent = {**(headers or {}), **({"Content-Type": "application/json"} if data else {})}
        conn.request(method, path, body=data, headers=sent)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def password_login(cluster, account: str, user: str, password: str, project: str | None = None
                   ) -> tuple[int, dict[str, str], bytes]:
    auth = {"identity": {"methods": ["password"], "password": {
        "user": {"name": user, "domain": DOMAIN, "password": password}}},
        "scope": {"project": {"name": project or account, "domain": DOMAIN}}}
    return request(cluster, "POST", "/auth/v3/auth/tokens", body={"auth": auth})


def token_of(cluster, account: str, user: str, password: str) -> str:
    status, headers, body = password_login(cluster, account, user, password)
    assert status == 201, body
    return headers["x-subject-token"]


def assert_keystone_error(status: int, body: bytes, expected: int) -> None:
    assert status == expected, body
    error = json.loads(body)["error"]
    assert error["code"] == expected and error["title"] and error["message"]


# ---- python-swiftclient, auth version 3 -------------------------------------------------
def test_swift_cli_with_auth_version_3(users, tmp_path):
    swift = find_tool("swift", "python-swiftclient")
    options = ["--auth-version", "3", "--os-auth-url", v3_url(users),
               "--os-username", "alice", "--os-password", "alicekey",
               "--os-project-name", "ks1", "--os-user-domain-name", "Default",
               "--os-project-domain-name", "Default"]

    def run(*args: str):
        return run_command(f"swift {' '.join(args)}", [swift, *options, *args], check=True,
                           timeout=60, cwd=str(tmp_path))
    container = f"v3-{uuid.uuid4().hex[:8]}"
    (tmp_path / "notes.txt").write_bytes(b"v3 notes\n" * 500)
    assert "Account: AUTH_ks1" in run("stat").stdout
    run("upload", container, "notes.txt")
    assert run("list", container).stdout.split() == ["notes.txt"]
    run("download", container, "notes.txt", "-o", "back.txt")
    assert (tmp_path / "back.txt").read_bytes() == (tmp_path / "notes.txt").read_bytes()
    run("delete", container, "notes.txt")
    assert run("list", container).stdout.split() == []
    run("delete", container)


def test_swiftclient_library_by_ids(users):
    from swiftclient.client import Connection
    conn = Connection(authurl=v3_url(users) + "/", user=None, key="bobkey", auth_version="3",
                      retries=0, os_options={"user_id": "ks2:bob", "project_id": "ks2"})
    try:
        assert conn.get_auth()[0] == f"http://127.0.0.1:{users.port}/v1/AUTH_ks2"
        conn.put_container("by-ids")
        conn.put_object("by-ids", "o", b"data")
        assert conn.get_object("by-ids", "o")[1] == b"data"
        conn.delete_object("by-ids", "o")
        conn.delete_container("by-ids")
    finally:
        conn.close()


# ---- what the API refuses ---------------------------------------------------------------
def test_a_project_token_cannot_reach_another_projects_account(users):
    token = token_of(users, "ks1", "alice", "alicekey")
    auth = {"X-Auth-Token": token}
    assert request(users, "PUT", "/v1/AUTH_ks1/mine", auth)[0] == 201
    assert request(users, "GET", "/v1/AUTH_ks2", auth)[0] == 403
    assert request(users, "PUT", "/v1/AUTH_ks2/theirs", auth)[0] == 403
    assert request(users, "GET", "/v1/AUTH_ks2/anything/obj", auth)[0] == 403
    status, _, body = password_login(users, "ks1", "alice", "alicekey", project="ks2")
    assert_keystone_error(status, body, 401)
    assert request(users, "DELETE", "/v1/AUTH_ks1/mine", auth)[0] == 204


def test_wrong_passwords_are_refused_and_no_body_carries_one(users):
    status, headers, body = password_login(users, "ks1", "alice", "alicekey")
    assert status == 201 and b"alicekey" not in body
    assert headers["x-subject-token"].encode() not in body
    for account, user, password in (("ks1", "alice", "wrong"), ("ks1", "nobody", "alicekey"),
                                    ("ks9", "alice", "alicekey")):
        status, headers, body = password_login(users, account, user, password)
        assert_keystone_error(status, body, 401)
        assert headers["www-authenticate"].startswith("Keystone uri=")


def test_a_revoked_token_is_refused(users):
    token = token_of(users, "ks2", "bob", "bobkey")
    both = {"X-Auth-Token": token, "X-Subject-Token": token}
    assert request(users, "GET", "/auth/v3/auth/tokens", both)[0] == 200
    assert request(users, "DELETE", "/auth/v3/auth/tokens", both)[0] == 204
    rescope = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}}}}

    def refused() -> bool:
        status, _, body = request(users, "POST", "/auth/v3/auth/tokens", body=rescope)
        if status != 401:
            return False
        assert_keystone_error(status, body, 401)
        return request(users, "HEAD", "/v1/AUTH_ks2", {"X-Auth-Token": token})[0] == 401
    # the worker that revoked it refuses it at once, the others once their cache entry ends
    wait_for(refused, timeout=REVOCATION_BOUND, what="the revoked token to be refused")
    assert token_of(users, "ks2", "bob", "bobkey") != token


def test_an_expired_token_is_refused(users):
    status, headers, _ = request(users, "GET", "/auth/v1.0", {
        "X-Auth-User": "ks1:dave", "X-Auth-Key": "davekey", "X-Auth-New-Token": "true",
        "X-Auth-Token-Lifetime": "2"})
    assert status == 200
    token = headers["x-auth-token"]
    rescope = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}}}}
    assert request(users, "POST", "/auth/v3/auth/tokens", body=rescope)[0] == 201
    wait_for(lambda: request(users, "POST", "/auth/v3/auth/tokens", body=rescope)[0] == 401,
             timeout=10, what="the token to expire")
    assert request(users, "HEAD", "/v1/AUTH_ks1", {"X-Auth-Token": token})[0] == 401
    fresh = token_of(users, "ks1", "dave", "davekey")
    status, _, body = request(users, "GET", "/auth/v3/auth/tokens",
                              {"X-Auth-Token": fresh, "X-Subject-Token": token})
    assert_keystone_error(status, body, 404)
    assert fresh != token


# ---- openstacksdk and the openstack CLI ---------------------------------------------------
def test_openstacksdk_object_store(users):
    import openstack
    conn = openstack.connect(auth_url=v3_url(users), username="alice", password="alicekey",
                             project_name="ks1", user_domain_name="Default",
                             project_domain_name="Default")
    store = conn.object_store
    container = f"sdk-{uuid.uuid4().hex[:8]}"
    store.create_container(name=container)
    store.upload_object(container=container, name="hello.txt", data=b"hello from the sdk")
    assert [obj.name for obj in store.objects(container)] == ["hello.txt"]
    assert store.download_object("hello.txt", container=container) == b"hello from the sdk"
    store.delete_object("hello.txt", container=container)
    assert list(store.objects(container)) == []
    store.delete_container(container)
    assert conn.current_project_id == "ks1"


def test_openstacksdk_refuses_a_wrong_password(users):
    import openstack
    from keystoneauth1.exceptions.http import Unauthorized
    conn = openstack.connect(auth_url=v3_url(users), username="alice", password="wrong",
                             project_name="ks1", user_domain_name="Default",
                             project_domain_name="Default")
    with pytest.raises(Unauthorized):
        list(conn.object_store.containers())


def test_openstack_cli_with_the_environment_the_readme_prints(users, tmp_path):
    openstack_cli = find_tool("openstack", "python-openstackclient")
    env = {**os.environ, "OS_AUTH_URL": v3_url(users), "OS_IDENTITY_API_VERSION": "3",
           "OS_USERNAME": "bob", "OS_PASSWORD": "bobkey", "OS_PROJECT_NAME": "ks2",
           "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default"}

    def run(*args: str):
        return run_command(f"openstack {' '.join(args)}", [openstack_cli, *args], check=True,
                           timeout=120, cwd=str(tmp_path), env=env)
    issued = json.loads(run("token", "issue", "-f", "json").stdout)
    assert (issued["project_id"], issued["user_id"]) == ("ks2", "ks2:bob")
    container = f"osc-{uuid.uuid4().hex[:8]}"
    (tmp_path / "data.bin").write_bytes(os.urandom(4096))
    run("container", "create", container)
    run("object", "create", container, "data.bin")
    assert "data.bin" in run("object", "list", container, "-f", "value").stdout.split()
    run("object", "save", "--file", "back.bin", container, "data.bin")
    assert (tmp_path / "back.bin").read_bytes() == (tmp_path / "data.bin").read_bytes()
    run("object", "delete", container, "data.bin")
    run("container", "delete", container)
    run("token", "revoke", issued["id"])
    check = {"X-Auth-Token": token_of(users, "ks2", "bob", "bobkey"),
             "X-Subject-Token": issued["id"]}
    wait_for(lambda: request(users, "GET", "/auth/v3/auth/tokens", check)[0] == 404,
             timeout=REVOCATION_BOUND, what="the revoked token to be gone")
