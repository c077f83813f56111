"""swauth through real daemons: login, token reuse and renewal, expiry, revocation in
every proxy worker within token_cache_life, the store surviving a proxy restart,
python-swiftclient with auth version 1."""
import json
import time

import pytest
from swiftclient.client import Connection

from tests.integration.swauth_helpers import SUPER, USERS, add_users, login, swauth_cluster, token
from tests.support import wait_for

CACHE_LIFE = 1.0  # token_cache_life of swauth_cluster()
OLD_KEY, NEW_KEY = "old-key-4f1c9e", "new-key-8d2b7a"


@pytest.fixture(scope="module")
def cluster():
    with swauth_cluster(max_token_life="3600") as running:
        add_users(running)
        yield running


def heads(cluster, tok, count=6):
    """Statuses of ``count`` HEADs on new connections (they land on both workers)."""
    return [cluster.request("HEAD", "/v1/AUTH_test", headers={"X-Auth-Token": tok})[0]
            for _ in range(count)]


def test_login_answers_like_swauth(cluster):
    status, headers, body = login(cluster, "test:tester")
    assert status == 200
    tok = headers["x-auth-token"]
    assert tok.startswith("AUTH_tk") and len(tok) == len("AUTH_tk") + 32
    assert headers["x-storage-token"] == tok
    assert headers["x-storage-url"] == cluster.url("/v1/AUTH_test")
    assert 3590 < int(headers["x-auth-token-expires"]) <= 3600  # token_life capped by max
    assert json.loads(body) == {"storage": {"default": "local",
                                            "local": cluster.url("/v1/AUTH_test")}}
    assert set(heads(cluster, tok)) == {204}


@pytest.mark.parametrize("path,headers", [
    ("/auth/v1.0", {"X-Storage-User": "test:tester3", "X-Storage-Pass": "testing3"}),
    ("/auth/auth", {"X-Auth-User": "test%3Atester3", "X-Auth-Key": "testing3"}),
    ("/auth/v1/test/auth", {"X-Storage-User": "tester3", "X-Storage-Pass": "testing3"}),
    ("/auth/v1/test/auth", {"X-Auth-User": "test:tester3", "X-Auth-Key": "testing3"}),
])
def test_login_paths_and_headers(cluster, path, headers):
    status, found, _ = cluster.request("GET", path, headers=headers)
    assert status == 200 and found["x-storage-url"].endswith("/v1/AUTH_test")


def test_a_token_is_reused_until_x_auth_new_token(cluster):
    first = token(cluster, "test:tester3")
    assert token(cluster, "test:tester3") == first
    renewed = token(cluster, "test:tester3", **{"X-Auth-New-Token": "true"})
    assert renewed != first
    assert token(cluster, "test:tester3") == renewed
    # the old token is revoked at once in the worker that renewed it, everywhere within the cache life
    wait_for(lambda: set(heads(cluster, first)) == {401}, timeout=CACHE_LIFE + 5,
             what="the renewed-away token refused by every worker")
    assert cluster.request("GET", "/v1/AUTH_test/x", headers={"X-Auth-Token": renewed})[0] in (403, 404)


def test_lifetime_is_capped_and_a_short_token_expires(cluster):
    capped = login(cluster, "test2:tester2", **{"X-Auth-New-Token": "true",
                                               "X-Auth-Token-Lifetime": "999999"})[1]
    assert int(capped["x-auth-token-expires"]) <= 3600
    status, short, _ = login(cluster, "test2:tester2", **{"X-Auth-New-Token": "true",
                                                          "X-Auth-Token-Lifetime": "2"})
    assert status == 200 and int(short["x-auth-token-expires"]) <= 2
    tok = short["x-auth-token"]
    url = "/v1/AUTH_test2"
    assert cluster.request("HEAD", url, headers={"X-Auth-Token": tok})[0] == 204
    wait_for(lambda: cluster.request("HEAD", url, headers={"X-Auth-Token": tok})[0] == 401,
             timeout=10, what="the 2 s token to expire")
    # an expired token is not handed out again
    assert token(cluster, "test2:tester2") != tok


@pytest.mark.parametrize("value", ["0", "-5", "abc", "1" * 40])
def test_a_malformed_lifetime_is_400(cluster, value):
    status, _, body = login(cluster, "test:tester3", **{"X-Auth-Token-Lifetime": value})
    assert status == 400 and b"X-Auth-Token-Lifetime" in body


def test_failed_logins_all_look_the_same(cluster):
    answers = {login(cluster, user, key)[0:3:2] for user, key in [
        ("test:tester", "wrong"), ("test:nobody", "testing"), ("nowhere:tester", "testing"),
        ("test:tester", ""), ("test", "testing"), ("test:.services", "x"), (":", "x")]}
    assert answers == {(401, b"Invalid user or key\n")}


def test_key_change_and_delete_revoke_in_every_worker(cluster):
    put_user = {**SUPER, "X-Auth-User-Key": OLD_KEY}
    assert cluster.request("PUT", "/auth/v2/test/temp", headers=put_user)[0] == 201
    tok = login(cluster, "test:temp", OLD_KEY)[1]["x-auth-token"]
    assert set(heads(cluster, tok)) == {403}  # authenticated, but no rights on AUTH_test
    assert cluster.request("PUT", "/auth/v2/test/temp",
                           headers={**SUPER, "X-Auth-User-Key": NEW_KEY})[0] == 201
    started = time.monotonic()
    wait_for(lambda: set(heads(cluster, tok)) == {401}, timeout=CACHE_LIFE + 5,
             what="the token of the old key refused by every worker")
    assert time.monotonic() - started <= CACHE_LIFE + 3
    assert login(cluster, "test:temp", OLD_KEY)[0] == 401
    tok = login(cluster, "test:temp", NEW_KEY)[1]["x-auth-token"]
    assert set(heads(cluster, tok)) == {403}
    assert cluster.request("DELETE", "/auth/v2/test/temp", headers=SUPER)[0] == 204
    wait_for(lambda: set(heads(cluster, tok)) == {401}, timeout=CACHE_LIFE + 5,
             what="the deleted user's token refused by every worker")
    assert login(cluster, "test:temp", NEW_KEY)[0] == 401


def test_the_store_survives_a_proxy_restart(cluster):
    tok = token(cluster, "test:tester")
    assert cluster.request("PUT", "/v1/AUTH_test/kept", headers={"X-Auth-Token": tok})[0] == 201
    cluster.restart_proxy()
    assert set(heads(cluster, tok)) == {204}  # the token lives in the store, not the worker
    assert token(cluster, "test:tester") == tok
    assert cluster.request("GET", "/auth/v2/", headers=SUPER)[2] and \
        json.loads(cluster.request("GET", "/auth/v2/", headers=SUPER)[2]) == \
        {"accounts": [{"name": "test"}, {"name": "test2"}, {"name": "test5"}]}


def test_python_swiftclient_with_auth_version_1(cluster):
    conn = Connection(authurl=cluster.url("/auth/v1.0"), user="test:tester", key="testing",
                      auth_version="1", retries=0)
    conn.put_container("swiftclient")
    conn.put_object("swiftclient", "hello.txt", b"hello swauth")
    assert conn.get_object("swiftclient", "hello.txt")[1] == b"hello swauth"
    assert "swiftclient" in [c["name"] for c in conn.get_account()[1]]
    conn.close()


def test_cleanup_removes_expired_tokens_only(cluster):
    live = token(cluster, "test:tester")
    short = [login(cluster, "test:tester3", **{"X-Auth-New-Token": "true",
                                               "X-Auth-Token-Lifetime": "1"})[1]["x-auth-token"]
             for _ in range(2)]
    wait_for(lambda: cluster.request("HEAD", "/v1/AUTH_test",
                                     headers={"X-Auth-Token": short[-1]})[0] == 401,
             timeout=10, what="the short tokens to expire")
    refused = cluster.request("POST", "/auth/v2/.cleanup_tokens",
                              headers={"X-Auth-Admin-User": "test:tester6", "X-Auth-Admin-Key": "testing6"})
    assert refused[0] == 403
    status, _, body = cluster.request("POST", "/auth/v2/.cleanup_tokens", headers=SUPER)
    counters = json.loads(body)
    assert status == 200 and counters["removed"] >= 1 and counters["failed"] == 0
    assert counters["checked"] > counters["removed"]  # the live ones stay
    assert cluster.request("HEAD", "/v1/AUTH_test", headers={"X-Auth-Token": live})[0] == 204
    # the daemon's pass, as the all-in-one runs it: nothing left to remove now
    short = login(cluster, "test:tester3", **{"X-Auth-New-Token": "true",
                                              "X-Auth-Token-Lifetime": "1"})[1]["x-auth-token"]
    wait_for(lambda: cluster.request("HEAD", "/v1/AUTH_test",
                                     headers={"X-Auth-Token": short})[0] == 401,
             timeout=10, what="the short token to expire")
    last_pass = cluster.run_once(0, "auth-token-cleaner")
    assert last_pass["outcome"] == "done" and last_pass["counters"]["removed"] == 1
    assert cluster.request("HEAD", "/v1/AUTH_test", headers={"X-Auth-Token": live})[0] == 204


def test_no_key_hash_or_token_in_any_log(cluster):
    """Runs last: every request above (logins, key changes, admin calls) left its lines."""
    tok = token(cluster, "test:tester")
    assert cluster.request("GET", f"/auth/v2/.token/{tok}", headers=SUPER)[0] == 204
    assert cluster.request("HEAD", "/v1/AUTH_test", headers={"X-Auth-Token": tok})[0] == 204
    logs = cluster.all_logs()
    assert "/auth/v2/.token/" in logs  # the validation request was logged, redacted
    assert "AUTH_tk" not in logs  # no token at all, not only this one
    for secret in [key for key, _ in USERS.values()] + [OLD_KEY, NEW_KEY, SUPER["X-Auth-Admin-Key"]]:
        assert secret not in logs
    for hash_mark in ("scrypt:", "pbkdf2", "plaintext:", "sha1:", "sha512:"):
        assert hash_mark not in logs
