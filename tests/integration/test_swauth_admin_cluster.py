"""swauth's /auth/v2 admin API through real daemons: every call with each class of
caller (allowed and refused), and hostile requests, each a 4xx that changes nothing."""
import json

import pytest

from tests.integration.swauth_helpers import SUPER, add_users, admin, login, swauth_cluster, token

BAD = {"X-Auth-Admin-User": ".super_admin", "X-Auth-Admin-Key": "wrong"}
UNKNOWN = {"X-Auth-Admin-User": "test:nobody", "X-Auth-Admin-Key": "testing"}
CALLERS = {"super": SUPER, "reseller": admin("test:tester6"), "admin": admin("test:tester"),
           "other_admin": admin("test2:tester2"), "user": admin("test:tester3"),
           "bad_key": BAD, "unknown": UNKNOWN, "nobody": {}}
ORDER = list(CALLERS)
DENIED = {"bad_key": 401, "unknown": 401, "nobody": 401}


@pytest.fixture(scope="module")
def cluster():
    with swauth_cluster() as running:
        add_users(running)
        yield running


def expect(**statuses):
    """Expected status per caller: the given ones, 401 for bad credentials."""
    return {**DENIED, **statuses}


READS = [
    ("GET", "/auth/v2/", expect(super=200, reseller=200, admin=403, other_admin=403, user=403)),
    ("GET", "/auth/v2/test", expect(super=200, reseller=200, admin=200, other_admin=403, user=403)),
    ("GET", "/auth/v2/test/.groups",
     expect(super=200, reseller=200, admin=200, other_admin=403, user=403)),
    ("GET", "/auth/v2/test/tester3",
     expect(super=200, reseller=200, admin=200, other_admin=403, user=200)),   # user: itself
    ("GET", "/auth/v2/test/tester",
     expect(super=200, reseller=200, admin=200, other_admin=403, user=403)),
    ("GET", "/auth/v2/test/tester6",
     expect(super=200, reseller=200, admin=403, other_admin=403, user=403)),
    # an account the caller may not see: 403 whether it exists or not
    ("GET", "/auth/v2/nosuch", expect(super=404, reseller=404, admin=403, other_admin=403, user=403)),
    ("GET", "/auth/v2/test/nosuch",
     expect(super=404, reseller=404, admin=404, other_admin=403, user=403)),
    ("GET", "/auth/v2/.token/AUTH_tk" + "0" * 32,
     expect(super=404, reseller=404, admin=403, other_admin=403, user=403)),
    ("POST", "/auth/v2/.prep", expect(super=204, reseller=403, admin=403, other_admin=403, user=403)),
]


@pytest.mark.parametrize("method,path,statuses", READS, ids=[f"{m} {p}" for m, p, _ in READS])
def test_reads_and_prep_for_each_caller(cluster, method, path, statuses):
    got = {who: cluster.request(method, path, headers=CALLERS[who])[0] for who in ORDER}
    assert got == statuses


def test_user_details_never_show_the_key(cluster):
    status, _, body = cluster.request("GET", "/auth/v2/test/tester", headers=SUPER)
    assert status == 200
    assert json.loads(body) == {"groups": [{"name": "test:tester"}, {"name": "test"},
                                           {"name": ".admin"}]}
    details = json.loads(cluster.request("GET", "/auth/v2/test", headers=SUPER)[2])
    assert details["account_id"] == "AUTH_test"
    assert sorted(u["name"] for u in details["users"]) == ["tester", "tester3", "tester6"]


def users_of(cluster, account="test"):
    return sorted(u["name"] for u in json.loads(
        cluster.request("GET", f"/auth/v2/{account}", headers=SUPER)[2])["users"])


def test_creating_accounts(cluster):
    got = {who: cluster.request("PUT", f"/auth/v2/acct-{who}", headers=CALLERS[who])[0]
           for who in ORDER}
    assert got == expect(super=201, reseller=201, admin=403, other_admin=403, user=403)
    listed = {a["name"] for a in json.loads(cluster.request("GET", "/auth/v2/", headers=SUPER)[2])
              ["accounts"]}
    assert {f"acct-{who}" for who in ORDER} & listed == {"acct-super", "acct-reseller"}
    assert cluster.request("PUT", "/auth/v2/acct-super", headers=SUPER)[0] == 202
    assert cluster.request("PUT", "/auth/v2/acct-dup",
                           headers={**SUPER, "X-Account-Suffix": "test"})[0] == 409
    # the default storage account is the prefix and a UUID
    assert json.loads(cluster.request("GET", "/auth/v2/acct-super", headers=SUPER)[2]
                      )["account_id"].startswith("AUTH_")


def test_creating_users(cluster):
    before = users_of(cluster)
    got = {who: cluster.request("PUT", f"/auth/v2/test/new-{who}",
                                headers={**CALLERS[who], "X-Auth-User-Key": "k"})[0]
           for who in ORDER}
    assert got == expect(super=201, reseller=201, admin=201, other_admin=403, user=403)
    assert users_of(cluster) == sorted(before + ["new-super", "new-reseller", "new-admin"])
    assert login(cluster, "test:new-admin", "k")[0] == 200
    reseller = {who: cluster.request("PUT", f"/auth/v2/test2/res-{who}",
                                     headers={**CALLERS[who], "X-Auth-User-Key": "k",
                                              "X-Auth-User-Reseller-Admin": "true"})[0]
                for who in ORDER}
    assert reseller == expect(super=201, reseller=403, admin=403, other_admin=403, user=403)
    assert users_of(cluster, "test2") == ["res-super", "tester2"]


def test_deleting_users(cluster):
    for who in ORDER:
        assert cluster.request("PUT", f"/auth/v2/test/victim-{who}",
                               headers={**SUPER, "X-Auth-User-Key": "v"})[0] == 201
    got = {who: cluster.request("DELETE", f"/auth/v2/test/victim-{who}",
                                headers=CALLERS[who])[0] for who in ORDER}
    assert got == expect(super=204, reseller=204, admin=204, other_admin=403, user=403)
    left = {name for name in users_of(cluster) if name.startswith("victim-")}
    assert left == {f"victim-{who}" for who in ORDER} - {"victim-super", "victim-reseller",
                                                         "victim-admin"}
    assert cluster.request("DELETE", "/auth/v2/test/victim-super", headers=SUPER)[0] == 404
    # an account admin may not touch a reseller admin
    assert cluster.request("DELETE", "/auth/v2/test/tester6", headers=CALLERS["admin"])[0] == 403
    assert cluster.request("PUT", "/auth/v2/test/tester6",
                           headers={**CALLERS["admin"], "X-Auth-User-Key": "mine"})[0] == 403
    assert login(cluster, "test:tester6")[0] == 200


def test_nobody_raises_their_own_rights(cluster):
    user, adm, res = CALLERS["user"], CALLERS["admin"], CALLERS["reseller"]
    put = lambda path, headers: cluster.request("PUT", path, headers=headers)[0]  # noqa: E731
    assert put("/auth/v2/test/tester3", {**user, "X-Auth-User-Key": "testing3",
                                         "X-Auth-User-Admin": "true"}) == 403
    assert put("/auth/v2/test/tester", {**adm, "X-Auth-User-Key": "testing",
                                        "X-Auth-User-Reseller-Admin": "true"}) == 403
    assert put("/auth/v2/test/tester3", {**adm, "X-Auth-User-Key": "testing3",
                                         "X-Auth-User-Groups": "service"}) == 403
    assert put("/auth/v2/test/tester3", {**user, "X-Auth-User-Key": "testing3"}) == 201
    assert put("/auth/v2/test/tester6", {**res, "X-Auth-User-Key": "testing6",
                                         "X-Auth-User-Reseller-Admin": "true"}) == 201
    groups = lambda name: [g["name"] for g in json.loads(  # noqa: E731
        cluster.request("GET", f"/auth/v2/test/{name}", headers=SUPER)[2])["groups"]]
    assert groups("tester3") == ["test:tester3", "test"]
    assert groups("tester") == ["test:tester", "test", ".admin"]


def test_deleting_accounts(cluster):
    assert cluster.request("PUT", "/auth/v2/gone", headers=SUPER)[0] == 201
    assert cluster.request("PUT", "/auth/v2/gone/u", headers={**SUPER, "X-Auth-User-Key": "k"})[0] == 201
    got = {who: cluster.request("DELETE", "/auth/v2/gone", headers=CALLERS[who])[0] for who in ORDER}
    assert got == expect(super=409, reseller=409, admin=403, other_admin=403, user=403)
    assert cluster.request("DELETE", "/auth/v2/gone/u", headers=SUPER)[0] == 204
    assert cluster.request("DELETE", "/auth/v2/gone", headers=CALLERS["reseller"])[0] == 204
    assert cluster.request("DELETE", "/auth/v2/gone", headers=SUPER)[0] == 404
    assert cluster.request("GET", "/auth/v2/gone", headers=SUPER)[0] == 404


def test_services(cluster):
    body = json.dumps({"storage": {"backup": "https://backup.example/v1/AUTH_test"}}).encode()
    got = {who: cluster.request("POST", "/auth/v2/test/.services", body,
                                headers=CALLERS[who])[0] for who in ORDER}
    assert got == expect(super=200, reseller=200, admin=403, other_admin=403, user=403)
    services = json.loads(cluster.request("GET", "/auth/v2/test", headers=SUPER)[2])["services"]
    assert services["storage"]["backup"] == "https://backup.example/v1/AUTH_test"
    assert services["storage"]["default"] == "local"
    assert json.loads(login(cluster, "test:tester")[2]) == services


def test_s3_keys(cluster):
    path = "/auth/v2/test/tester3/.s3keys"
    status, _, body = cluster.request("POST", path, headers=CALLERS["user"])
    assert status == 201
    pair = json.loads(body)
    assert len(pair["access_key"]) == 20 and len(pair["secret_key"]) >= 30
    listed = json.loads(cluster.request("GET", path, headers=CALLERS["admin"])[2])
    assert listed == {"s3_keys": [{"access_key": pair["access_key"]}]}  # never the secret
    assert pair["secret_key"].encode() not in cluster.request("GET", path, headers=SUPER)[2]
    got = {who: cluster.request("GET", path, headers=CALLERS[who])[0] for who in ORDER}
    assert got == expect(super=200, reseller=200, admin=200, other_admin=403, user=200)
    given = {**CALLERS["admin"], "X-Auth-S3-Access-Key": "test:tester3",
             "X-Auth-S3-Secret-Key": "testing3"}
    assert cluster.request("POST", path, headers=given)[0] == 201
    assert cluster.request("POST", "/auth/v2/test/tester/.s3keys", headers={
        **SUPER, "X-Auth-S3-Access-Key": "test:tester3"})[0] == 409  # taken
    assert cluster.request("POST", path, headers=CALLERS["other_admin"])[0] == 403
    assert cluster.request("DELETE", f"{path}/{pair['access_key']}",
                           headers=CALLERS["other_admin"])[0] == 403
    assert cluster.request("DELETE", f"{path}/{pair['access_key']}", headers=CALLERS["user"])[0] == 204
    assert cluster.request("DELETE", f"{path}/{pair['access_key']}", headers=CALLERS["user"])[0] == 404
    assert json.loads(cluster.request("GET", path, headers=SUPER)[2]) == \
        {"s3_keys": [{"access_key": "test:tester3"}]}


def test_token_validation_endpoint(cluster):
    tok = token(cluster, "test:tester")
    status, headers, _ = cluster.request("GET", f"/auth/v2/.token/{tok}", headers=SUPER)
    assert status == 204
    assert headers["x-auth-groups"] == "test:tester,test,AUTH_test,SERVICE_test"
    assert 0 < int(headers["x-auth-ttl"]) <= 86400
    assert cluster.request("GET", f"/auth/v2/.token/{tok}")[0] == 401


HOSTILE = [
    ("PUT", "/auth/v2/test/big", {"X-Auth-User-Key": "k" * 2000}, b""),
    ("PUT", "/auth/v2/test/hash", {"X-Auth-User-Key-Hash": "md5:abc"}, b""),
    ("PUT", "/auth/v2/test/hash", {"X-Auth-User-Key-Hash": "sha1:salt$nothex"}, b""),
    ("PUT", "/auth/v2/test/hash", {"X-Auth-User-Key-Hash": "scrypt:1048576:64:1:c2FsdA==$" +
                                   "A" * 44}, b""),
    ("PUT", "/auth/v2/test/both", {"X-Auth-User-Key": "k", "X-Auth-User-Key-Hash": "plaintext:k"}, b""),
    ("PUT", "/auth/v2/test/nokey", {}, b""),
    ("PUT", "/auth/v2/test/.services", {"X-Auth-User-Key": "k"}, b""),
    ("PUT", "/auth/v2/test/" + "u" * 300, {"X-Auth-User-Key": "k"}, b""),
    ("PUT", "/auth/v2/test/grp", {"X-Auth-User-Key": "k", "X-Auth-User-Groups": "AUTH_test2"}, b""),
    ("PUT", "/auth/v2/test/grp", {"X-Auth-User-Key": "k", "X-Auth-User-Groups": ".admin"}, b""),
    ("PUT", "/auth/v2/.auth", {}, b""),
    ("PUT", "/auth/v2/evil", {"X-Account-Suffix": ".auth"}, b""),
    ("PUT", "/auth/v2/evil", {"X-Account-Suffix": "../x"}, b""),
    ("PUT", "/auth/v2/a:b", {}, b""),
    ("PUT", "/auth/v2/test%2Fx/u", {"X-Auth-User-Key": "k"}, b""),
    ("PUT", "/auth/v2/test//u", {"X-Auth-User-Key": "k"}, b""),
    ("PUT", "/auth/v2/test/u/extra", {"X-Auth-User-Key": "k"}, b""),
    ("PUT", "/auth/v2/test/caf%C3", {"X-Auth-User-Key": "k"}, b""),
    ("POST", "/auth/v2/test/.services", {}, b"{not json"),
    ("POST", "/auth/v2/test/.services", {}, b'["storage"]'),
    ("POST", "/auth/v2/test/.services", {}, b'{"storage": {"x": 1}}'),
    ("POST", "/auth/v2/test/.services", {}, b"[" * 5000 + b"]" * 5000),
    ("POST", "/auth/v2/test/.services", {}, b'{"a": "' + b"x" * 70000 + b'"}'),
    ("POST", "/auth/v2/test/tester3/.s3keys", {"X-Auth-S3-Access-Key": "a/b"}, b""),
    ("POST", "/auth/v2/test/tester3/.s3keys", {"X-Auth-S3-Secret-Key": "x" * 200}, b""),
    ("PATCH", "/auth/v2/test", {}, b""),
]


@pytest.mark.parametrize("method,path,headers,body", HOSTILE, ids=[f"{m} {p[:40]}" for m, p, _, _ in HOSTILE])
def test_hostile_admin_requests_are_4xx_and_change_nothing(cluster, method, path, headers, body):
    before = (json.loads(cluster.request("GET", "/auth/v2/", headers=SUPER)[2]),
              users_of(cluster), json.loads(cluster.request("GET", "/auth/v2/test", headers=SUPER)[2]))
    status, _, answer = cluster.request(method, path, body or None, headers={**SUPER, **headers})
    assert 400 <= status < 500 and status != 404, (status, answer)
    assert answer.strip(), "a 4xx says why"
    after = (json.loads(cluster.request("GET", "/auth/v2/", headers=SUPER)[2]),
             users_of(cluster), json.loads(cluster.request("GET", "/auth/v2/test", headers=SUPER)[2]))
    assert after == before
