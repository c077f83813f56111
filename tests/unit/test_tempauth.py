import configparser

import pytest
from webob import Request

from auth.acl import ACLError, clean_acl, parse_acl, referrer_allowed
from auth.tempauth import TempAuth, filter_factory, parse_users
from objstore.common.config import ConfigError
from tests.fake_swift import FakeSwift

CONF = {
    "user_test_tester": "testing .admin",
    "user_test2_tester2": "testing2 .admin",
    "user_test_tester3": "testing3",
    "user_admin_admin": "admin .admin .reseller_admin",
    "user64_dW5kZXJfc2NvcmU_dXNlcl8x": "secret .admin http://example.com/v1/AUTH_under_score",
    "user_host_user": "hostkey $HOST/v1/AUTH_elsewhere",
}


@pytest.fixture
def swift():
    fake = FakeSwift()
    fake.put_container("AUTH_test", "private")
    fake.put_object("AUTH_test", "private", "o", b"secret")
    fake.put_container("AUTH_test", "shared", **{"X-Container-Read": "test:tester3,test2",
                                                 "X-Container-Write": "test2:tester2"})
    fake.put_object("AUTH_test", "shared", "o", b"shared")
    fake.put_container("AUTH_test", "public", **{"X-Container-Read": ".r:*"})
    fake.put_object("AUTH_test", "public", "o", b"public")
    fake.put_container("AUTH_test", "listed", **{"X-Container-Read": ".r:*,.rlistings"})
    fake.put_container("AUTH_test", "refs", **{"X-Container-Read": ".r:.example.com,.r:-bad.example.com"})
    fake.put_object("AUTH_test", "refs", "o", b"refs")
    return fake


@pytest.fixture
def auth(swift):
    return TempAuth(swift, CONF, hash_salt="salt")


def get_token(app, user, key, path="/auth/v1.0", **headers):
    req = Request.blank(path, headers={"X-Auth-User": user, "X-Auth-Key": key, **headers})
    return req.get_response(app)


def token_for(app, user, key):
    resp = get_token(app, user, key)
    assert resp.status_int == 200, resp.body
    return resp.headers["X-Auth-Token"]


def call(app, method, path, token=None, **headers):
    if token:
        headers["X-Auth-Token"] = token
    return Request.blank(path, method=method, headers=headers).get_response(app)


def test_get_token_returns_storage_url_and_token(auth):
    resp = get_token(auth, "test:tester", "testing", Host="proxy:8080")
    assert resp.status_int == 200
    assert resp.headers["X-Storage-Url"] == "http://proxy:8080/v1/AUTH_test"
    token = resp.headers["X-Auth-Token"]
    assert token.startswith("AUTH_tk") and resp.headers["X-Storage-Token"] == token
    assert 86000 < int(resp.headers["X-Auth-Token-Expires"]) <= 86400


@pytest.mark.parametrize("path", ["/auth/v1.0", "/auth/v1.0/", "/v1.0", "/auth/v1", "/auth/auth",
                                  "/auth/v1/test/auth"])
def test_auth_paths_and_storage_headers(auth, path):
    req = Request.blank(path, headers={"X-Storage-User": "test:tester", "X-Storage-Pass": "testing",
                                       "Host": "10.0.0.1:8080"})
    resp = req.get_response(auth)
    assert resp.status_int == 200
    assert resp.headers["X-Storage-Url"] == "http://10.0.0.1:8080/v1/AUTH_test"


@pytest.mark.parametrize("user,key", [("test:tester", "wrong"), ("test:nobody", "testing"),
                                      ("", ""), ("test:tester", "")])
def test_bad_credentials_401(auth, user, key):
    assert get_token(auth, user, key).status_int == 401


def test_unknown_auth_version_400(auth):
    assert get_token(auth, "test:tester", "testing", path="/auth/v2.0").status_int == 400
    assert get_token(auth, "test:tester", "testing", path="/auth/v1/x/y/z").status_int == 400


def test_account_scoped_auth_path(auth):
    req = Request.blank("/auth/v1/test/auth", headers={"X-Storage-User": "tester", "X-Storage-Pass": "testing"})
    assert req.get_response(auth).status_int == 200
    assert get_token(auth, "test:tester", "testing", path="/auth/v1/test2/auth").status_int == 401


def test_user64_and_explicit_storage_url(auth):
    resp = get_token(auth, "under_score:user_1", "secret")
    assert resp.status_int == 200
    assert resp.headers["X-Storage-Url"] == "http://example.com/v1/AUTH_under_score"
    assert call(auth, "HEAD", "/v1/AUTH_under_score", resp.headers["X-Auth-Token"]).status_int != 401


def test_storage_url_host_placeholder(auth):
    resp = get_token(auth, "host:user", "hostkey", Host="proxy.example:8080")
    assert resp.headers["X-Storage-Url"] == "http://proxy.example:8080/v1/AUTH_elsewhere"


def test_token_valid_in_another_worker(swift):
    worker1 = TempAuth(swift, CONF, hash_salt="salt")
    worker2 = TempAuth(swift, CONF, hash_salt="salt")
    token = token_for(worker1, "test:tester", "testing")
    assert call(worker2, "GET", "/v1/AUTH_test/private/o", token).body == b"secret"
    other_cluster = TempAuth(swift, CONF, hash_salt="other")
    assert call(other_cluster, "GET", "/v1/AUTH_test/private/o", token).status_int == 401


def test_explicit_secret_and_key_change_revokes(swift):
    auth = TempAuth(swift, {**CONF, "token_secret": "s3cr3t"})
    token = token_for(auth, "test:tester", "testing")
    assert call(TempAuth(swift, {**CONF, "token_secret": "s3cr3t"}), "HEAD",
                "/v1/AUTH_test/private/o", token).status_int == 200
    rekeyed = TempAuth(swift, {**CONF, "user_test_tester": "newkey .admin"}, hash_salt="salt")
    derived = token_for(TempAuth(swift, CONF, hash_salt="salt"), "test:tester", "testing")
    assert call(rekeyed, "HEAD", "/v1/AUTH_test/private/o", derived).status_int == 401


def test_expired_and_forged_tokens_401(auth):
    user = auth.users["test:tester"]
    expired, _ = auth.issue_token(user, now=0)
    resp = call(auth, "GET", "/v1/AUTH_test/private/o", expired)
    assert resp.status_int == 401
    assert resp.headers["WWW-Authenticate"] == 'Swift realm="AUTH_test"'
    good = token_for(auth, "test:tester", "testing")
    forged = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert call(auth, "GET", "/v1/AUTH_test/private/o", forged).status_int == 401
    tampered = "AUTH_tk" + b"9999999999:00:admin:admin".hex() + good[-32:]
    assert call(auth, "GET", "/v1/AUTH_test/private/o", tampered).status_int == 401
    assert call(auth, "GET", "/v1/AUTH_test/private/o", "AUTH_tkzz").status_int == 401
    assert auth.validate_token(good) is user


def test_removed_user_token_rejected(swift):
    auth = TempAuth(swift, {**CONF, "token_secret": "x"})
    token = token_for(auth, "test:tester3", "testing3")
    without = {k: v for k, v in CONF.items() if k != "user_test_tester3"}
    assert TempAuth(swift, {**without, "token_secret": "x"}).validate_token(token) is None


def test_storage_token_header_accepted(auth):
    token = token_for(auth, "test:tester", "testing")
    resp = call(auth, "GET", "/v1/AUTH_test/private/o", **{"X-Storage-Token": token})
    assert resp.status_int == 200


# (user, method, path) -> expected status; None = anonymous
MATRIX = [
    ("test:tester", "GET", "/v1/AUTH_test/private/o", 200),
    ("test:tester", "PUT", "/v1/AUTH_test/private/new", 201),
    ("test:tester", "GET", "/v1/AUTH_test", 200),
    ("test:tester", "PUT", "/v1/AUTH_test", 403),        # account PUT is reseller-only
    ("test:tester", "GET", "/v1/AUTH_test2", 403),
    ("test:tester3", "GET", "/v1/AUTH_test/private/o", 403),
    ("test:tester3", "GET", "/v1/AUTH_test/shared/o", 200),
    ("test:tester3", "GET", "/v1/AUTH_test/shared", 200),
    ("test:tester3", "PUT", "/v1/AUTH_test/shared/x", 403),
    ("test:tester3", "GET", "/v1/AUTH_test", 403),
    ("test:tester3", "PUT", "/v1/AUTH_test/newcont", 403),
    ("test2:tester2", "GET", "/v1/AUTH_test/shared/o", 200),  # account-wide group "test2"
    ("test2:tester2", "PUT", "/v1/AUTH_test/shared/x", 201),
    ("test2:tester2", "DELETE", "/v1/AUTH_test/private/o", 403),
    ("admin:admin", "GET", "/v1/AUTH_test/private/o", 200),
    ("admin:admin", "PUT", "/v1/AUTH_test2/newcont", 201),
    (None, "GET", "/v1/AUTH_test/private/o", 401),
    (None, "GET", "/v1/AUTH_test/public/o", 200),
    (None, "HEAD", "/v1/AUTH_test/public/o", 200),
    (None, "GET", "/v1/AUTH_test/public", 401),           # no .rlistings
    (None, "GET", "/v1/AUTH_test/listed", 204),
    (None, "PUT", "/v1/AUTH_test/public/x", 401),
    (None, "GET", "/v1/AUTH_test/refs/o", 401),           # needs a matching Referer
    (None, "GET", "/v1/OTHER_x/c/o", 401),
    ("test:tester3", "GET", "/v1/AUTH_test/public", 403),
]


@pytest.mark.parametrize("user,method,path,status", MATRIX)
def test_authorization_matrix(auth, user, method, path, status):
    keys = {"test:tester": "testing", "test:tester3": "testing3", "test2:tester2": "testing2",
            "admin:admin": "admin"}
    token = token_for(auth, user, keys[user]) if user else None
    assert call(auth, method, path, token).status_int == status


def test_swift_owner_and_identity_set(auth, swift):
    token = token_for(auth, "test:tester", "testing")
    call(auth, "GET", "/v1/AUTH_test/private/o", token)
    env = swift.calls[-1].environ
    assert env["swift_owner"] is True
    assert env["REMOTE_USER"] == "test:tester,test,AUTH_test"
    assert env["objstore.identity"]["account"] == "test"
    token3 = token_for(auth, "test:tester3", "testing3")
    call(auth, "GET", "/v1/AUTH_test/shared/o", token3)
    assert "swift_owner" not in swift.calls[-1].environ


@pytest.mark.parametrize("referer,status", [("http://www.example.com/page", 200),
                                            ("http://bad.example.com/", 401),
                                            ("http://example.org/", 401)])
def test_referrer_acl(auth, referer, status):
    assert call(auth, "GET", "/v1/AUTH_test/refs/o", Referer=referer).status_int == status


def test_authorize_accepts_bare_environ(auth):
    environ = {"PATH_INFO": "/v1/AUTH_test/c/o", "REQUEST_METHOD": "GET", "swift.acl": ".r:*"}
    assert auth.authorize(environ) is None
    environ = {"PATH_INFO": "/v1/AUTH_test/c/o", "REQUEST_METHOD": "GET"}
    assert auth.authorize(environ).status == 401


def test_clean_and_parse_acl():
    assert clean_acl("X-Container-Read", ".r:*, .rlistings, test:tester3") == ".r:*,.rlistings,test:tester3"
    assert clean_acl("X-Container-Read", ".referrer:*.example.com,.ref:-bad.com") == \
        ".r:.example.com,.r:-bad.com"
    for bad in (".r:", ".x:foo", ".r:-"):
        with pytest.raises(ACLError):
            clean_acl("X-Container-Read", bad)
    with pytest.raises(ACLError):
        clean_acl("X-Container-Write", ".r:*")
    assert parse_acl(".r:*,.rlistings,a:b") == (["*"], [".rlistings", "a:b"])
    assert referrer_allowed(None, ["*"]) and not referrer_allowed(None, [".example.com"])
    assert referrer_allowed("http://a.example.com", ["*", "-.example.com", "a.example.com"])


def test_parse_users_errors():
    with pytest.raises(ConfigError):
        parse_users({"user_noname": "key"}, ("AUTH_",))
    with pytest.raises(ConfigError):
        parse_users({"user_a_b": ""}, ("AUTH_",))
    users = parse_users({"user_a_b_c": "k .admin"}, ("AUTH_",))
    assert users["a:b_c"].groups == ("a:b_c", "a", "AUTH_a")


def test_filter_factory_reads_config(swift):
    conf = configparser.ConfigParser(interpolation=None)
    conf.optionxform = str
    conf.read_dict({"objstore": {"hash_path_suffix": "s"},
                    "filter:tempauth": {"use": "auth.tempauth:filter_factory",
                                        "reseller_prefix": "KEY", "token_life": "60",
                                        "user_acct_u": "pw .admin"}})
    auth = filter_factory(conf, {})(swift)
    resp = get_token(auth, "acct:u", "pw")
    assert resp.headers["X-Storage-Url"].endswith("/v1/KEY_acct")
    assert resp.headers["X-Auth-Token"].startswith("KEY_tk")
    assert int(resp.headers["X-Auth-Token-Expires"]) <= 60
    swift.put_container("KEY_acct", "c")
    assert call(auth, "GET", "/v1/KEY_acct/c", resp.headers["X-Auth-Token"]).status_int == 204


def test_account_acls(auth, swift):
    admin = token_for(auth, "test:tester", "testing")
    tester3 = token_for(auth, "test:tester3", "testing3")
    tester2 = token_for(auth, "test2:tester2", "testing2")
    assert call(auth, "GET", "/v1/AUTH_test/private/o", tester3).status_int == 403
    # only owners may set it, and it must be valid JSON of the known levels
    bad = call(auth, "POST", "/v1/AUTH_test", admin, **{"X-Account-Access-Control": '{"owner": []}'})
    assert bad.status_int == 400
    acl = '{"read-only": ["test:tester3"], "read-write": ["test2"]}'
    call(auth, "POST", "/v1/AUTH_test", tester3, **{"X-Account-Access-Control": '{"admin": ["test:tester3"]}'})
    assert "x-account-sysmeta-core-access-control" not in swift.account_headers.get("AUTH_test", {})
    assert call(auth, "POST", "/v1/AUTH_test", admin, **{"X-Account-Access-Control": acl}).status_int == 204
    assert swift.account_headers["AUTH_test"]["x-account-sysmeta-core-access-control"] == \
        '{"read-write":["test2"],"read-only":["test:tester3"]}'
    shown = call(auth, "HEAD", "/v1/AUTH_test", admin).headers
    assert shown["X-Account-Access-Control"] == '{"read-write":["test2"],"read-only":["test:tester3"]}'
    # read-only: reads anywhere in the account, no writes
    assert call(auth, "GET", "/v1/AUTH_test/private/o", tester3).status_int == 200
    assert call(auth, "GET", "/v1/AUTH_test", tester3).status_int == 200
    assert "X-Account-Access-Control" not in call(auth, "HEAD", "/v1/AUTH_test", tester3).headers
    assert call(auth, "PUT", "/v1/AUTH_test/private/new", tester3).status_int == 403
    # read-write: object and container writes, not account writes
    assert call(auth, "PUT", "/v1/AUTH_test/private/new", tester2).status_int == 201
    assert call(auth, "POST", "/v1/AUTH_test", tester2, **{"X-Account-Meta-X": "1"}).status_int == 403
    # admin level makes the user an owner
    call(auth, "POST", "/v1/AUTH_test", admin, **{"X-Account-Access-Control": '{"admin": ["test:tester3"]}'})
    assert call(auth, "POST", "/v1/AUTH_test", tester3, **{"X-Account-Meta-X": "1"}).status_int == 204
    assert call(auth, "DELETE", "/v1/AUTH_test/private/new", tester2).status_int == 403
    # an empty value removes the ACL
    call(auth, "POST", "/v1/AUTH_test", admin, **{"X-Account-Access-Control": ""})
    assert call(auth, "GET", "/v1/AUTH_test/private/o", tester3).status_int == 403


@pytest.mark.parametrize("user,method,path,status", MATRIX)
def test_authorization_matrix_on_the_v1_0_prefix(auth, user, method, path, status):
    # the proxy serves /v1.0/ as /v1/: tempauth must apply the same rules there
    keys = {"test:tester": "testing", "test:tester3": "testing3", "test2:tester2": "testing2",
            "admin:admin": "admin"}
    token = token_for(auth, user, keys[user]) if user else None
    assert call(auth, method, "/v1.0" + path[len("/v1"):], token).status_int == status


@pytest.mark.parametrize("value", ['{"admin": ["caf\xc3"]}', "[" * 5000 + "]" * 5000,
                                   '{"admin": [' + "1" * 5000 + "]}"])
def test_invalid_account_acl_is_400_and_keeps_the_stored_one(auth, swift, value):
    admin = token_for(auth, "test:tester", "testing")
    acl = '{"read-only":["test:tester3"]}'
    assert call(auth, "POST", "/v1/AUTH_test", admin, **{"X-Account-Access-Control": acl}).status_int == 204
    resp = call(auth, "POST", "/v1/AUTH_test", admin, **{"X-Account-Access-Control": value})
    assert resp.status_int == 400 and b"X-Account-Access-Control" in resp.body
    assert swift.account_headers["AUTH_test"]["x-account-sysmeta-core-access-control"] == acl


def test_service_tokens_and_service_prefix():
    swift = FakeSwift()
    auth = TempAuth(swift, {"reseller_prefix": "AUTH, SERVICE", "SERVICE_require_group": "service",
                            "user_test_tester": "testing .admin", "user_test5_tester5": "testing5 service"})
    assert auth.users["test:tester"].groups == ("test:tester", "test", "AUTH_test", "SERVICE_test")
    user, service = token_for(auth, "test:tester", "testing"), token_for(auth, "test5:tester5", "testing5")
    assert call(auth, "PUT", "/v1/SERVICE_test/c", user).status_int == 403
    assert call(auth, "PUT", "/v1/SERVICE_test/c", service).status_int == 403
    assert call(auth, "PUT", "/v1/SERVICE_test/c", user, **{"X-Service-Token": service}).status_int == 201
    assert call(auth, "PUT", "/v1/SERVICE_test/c", user,
                **{"X-Service-Token": service[:-1] + ("1" if service[-1] == "0" else "0")}
                ).status_int == 403
    assert call(auth, "PUT", "/v1/AUTH_test/c", user).status_int == 201  # no service token needed
    assert call(auth, "GET", "/v1/AUTH_.hidden/c", user).status_int == 403
