"""swauth tokens on the storage API through real daemons: container ACLs (groups,
referrers, .rlistings), account ACLs, service tokens, and hostile tokens and paths
(each a 4xx that changes nothing)."""
import json

import pytest

from tests.integration.swauth_helpers import SUPER, add_users, swauth_cluster, token

URL = "/v1/AUTH_test"


@pytest.fixture(scope="module")
def cluster():
    with swauth_cluster() as running:
        add_users(running)
        yield running


@pytest.fixture(scope="module")
def tokens(cluster):
    found = {user: {"X-Auth-Token": token(cluster, user)}
             for user in ("test:tester", "test:tester3", "test2:tester2", "test5:tester5",
                          "test:tester6")}
    req = cluster.request
    owner = found["test:tester"]
    assert req("PUT", URL + "/private", headers=owner)[0] == 201
    assert req("PUT", URL + "/private/o", b"private", headers=owner)[0] == 201
    return found


def test_container_acls(cluster, tokens):
    req, owner, t3, t2 = cluster.request, tokens["test:tester"], tokens["test:tester3"], \
        tokens["test2:tester2"]
    assert req("GET", URL + "/private/o", headers=t3)[0] == 403
    assert req("GET", URL + "/private/o")[0] == 401
    assert req("PUT", URL + "/shared", headers={**owner, "X-Container-Read": "test:tester3,test2",
                                                "X-Container-Write": "test2:tester2"})[0] == 201
    assert req("PUT", URL + "/shared/o", b"shared", headers=owner)[0] == 201
    assert req("GET", URL + "/shared/o", headers=t3)[2] == b"shared"
    assert req("GET", URL + "/shared/o", headers=t2)[0] == 200  # account-wide group
    assert req("PUT", URL + "/shared/x", b"x", headers=t3)[0] == 403
    assert req("PUT", URL + "/shared/x", b"x", headers=t2)[0] == 201
    assert req("DELETE", URL + "/shared/o", headers=t3)[0] == 403
    assert req("PUT", URL + "/public", headers={**owner, "X-Container-Read": ".r:*"})[0] == 201
    assert req("PUT", URL + "/public/o", b"public", headers=owner)[0] == 201
    assert req("GET", URL + "/public/o")[2] == b"public"
    assert req("GET", URL + "/public")[0] == 401  # no .rlistings
    assert req("POST", URL + "/public", headers={**owner, "X-Container-Read": ".r:*,.rlistings"})[0] == 204
    assert req("GET", URL + "/public")[0] == 200
    assert req("PUT", URL + "/refs", headers={
        **owner, "X-Container-Read": ".r:.example.com,.r:-bad.example.com"})[0] == 201
    assert req("PUT", URL + "/refs/o", b"refs", headers=owner)[0] == 201
    assert req("GET", URL + "/refs/o", headers={"Referer": "http://www.example.com/"})[0] == 200
    assert req("GET", URL + "/refs/o", headers={"Referer": "http://bad.example.com/"})[0] == 401
    assert req("PUT", URL + "/refs", headers={**owner, "X-Container-Write": ".r:*"})[0] == 400


def test_account_acls(cluster, tokens):
    req, owner, t3, t2 = cluster.request, tokens["test:tester"], tokens["test:tester3"], \
        tokens["test2:tester2"]
    acl = json.dumps({"read-only": ["test:tester3"], "read-write": ["test2:tester2"]})
    assert req("POST", URL, headers={**t3, "X-Account-Access-Control": acl})[0] == 403
    assert req("POST", URL, headers={**owner, "X-Account-Access-Control": '{"x": 1}'})[0] == 400
    assert req("POST", URL, headers={**owner, "X-Account-Access-Control": acl})[0] == 204
    assert req("GET", URL + "/private/o", headers=t3)[2] == b"private"
    assert req("PUT", URL + "/private/n", b"n", headers=t3)[0] == 403
    assert req("PUT", URL + "/private/n", b"n", headers=t2)[0] == 201
    assert req("POST", URL, headers={**t2, "X-Account-Meta-X": "1"})[0] == 403
    assert req("POST", URL, headers={**owner, "X-Account-Access-Control": ""})[0] == 204
    assert req("GET", URL + "/private/o", headers=t3)[0] == 403


def test_service_tokens(cluster, tokens):
    req, owner, service = cluster.request, tokens["test:tester"], tokens["test5:tester5"]
    both = {**owner, "X-Service-Token": service["X-Auth-Token"]}
    assert req("PUT", "/v1/SERVICE_test/c", headers=owner)[0] == 403  # needs the service's token
    assert req("PUT", "/v1/SERVICE_test/c", headers=service)[0] == 403  # not its account
    assert req("PUT", "/v1/SERVICE_test/c", headers=both)[0] == 201
    assert req("PUT", "/v1/SERVICE_test/c/o", b"svc", headers=both)[0] == 201
    assert req("GET", "/v1/SERVICE_test/c/o", headers=owner)[0] == 403
    forged = {**owner, "X-Service-Token": "AUTH_tk" + "1" * 32}
    assert req("GET", "/v1/SERVICE_test/c/o", headers=forged)[0] == 403
    assert req("GET", "/v1/SERVICE_test/c/o", headers=both)[2] == b"svc"
    # the user's own account needs no service token
    assert req("HEAD", URL, headers=owner)[0] == 204


@pytest.mark.parametrize("name,value", [
    ("forged", "AUTH_tk" + "ab" * 16), ("truncated", None), ("extended", None),
    ("other prefix", "OTHER_tk" + "ab" * 16), ("long", "AUTH_tk" + "a" * 5000),
    ("not hex", "AUTH_tk" + "zz" * 16), ("upper", None)])
def test_bad_tokens_are_401_and_change_nothing(cluster, tokens, name, value):
    good = tokens["test:tester"]["X-Auth-Token"]
    value = value or {"truncated": good[:-1], "extended": good + "0", "upper": good.upper()}[name]
    req = cluster.request
    status = req("PUT", URL + "/private/evil", b"evil", headers={"X-Auth-Token": value})[0]
    assert status == 401
    assert req("GET", URL + "/private/evil", headers=tokens["test:tester"])[0] == 404


def test_another_accounts_token(cluster, tokens):
    t2 = tokens["test2:tester2"]
    assert cluster.request("GET", URL + "/private/o", headers=t2)[0] == 403
    assert cluster.request("PUT", URL + "/evil", headers=t2)[0] == 403
    assert cluster.request("GET", URL + "/evil", headers=tokens["test:tester"])[0] == 404


@pytest.mark.parametrize("path", [
    "/v1/AUTH_.auth", "/v1/AUTH_.auth/test", "/v1/AUTH_.auth/test/tester",
    "/v1/AUTH_%2Eauth/test/tester", "/v1/AUTH_.auth%2Ftest%2Ftester", "/v1.0/AUTH_.auth/test",
    "/v1/AUTH_.auth/.token_0", "/v1/SERVICE_.auth/test", "/v1/AUTH_/x"])
@pytest.mark.parametrize("who", ["test:tester", "test:tester6", None])
def test_the_auth_store_is_out_of_reach(cluster, tokens, path, who):
    headers = tokens[who] if who else {}
    for method in ("GET", "HEAD", "PUT", "POST", "DELETE"):
        status = cluster.request(method, path, b"x" if method == "PUT" else None, headers=headers)[0]
        assert status == (403 if who else 401), (method, status)
    # still intact: tester logs in and its details are unchanged
    assert json.loads(cluster.request("GET", "/auth/v2/test/tester", headers=SUPER)[2])["groups"][0] == \
        {"name": "test:tester"}


@pytest.mark.parametrize("path", ["/v1/AUTH_test/../AUTH_.auth/test", "/v1/AUTH_test/%2E%2E/AUTH_.auth",
                                  "//v1/AUTH_.auth/test", "/v1//AUTH_.auth/test"])
def test_path_tricks_do_not_reach_the_store(cluster, tokens, path):
    status, _, body = cluster.request("GET", path, headers=tokens["test:tester6"])
    assert status in (400, 403, 404, 412), status
    assert b"tester" not in body and b"scrypt" not in body
