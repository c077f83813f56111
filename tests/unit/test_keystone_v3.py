"""The Keystone v3 token API of the swauth filter, over FakeSwift: discovery
documents, password and token logins, scopes, validation, revocation, and
every refusal in Keystone's error JSON."""
import json

import pytest
from webob import Request

from auth.swauth import tokens
from auth.swauth.keystone.documents import timestamp
from auth.swauth.keystone.request import KeystoneError, parse_auth_request
from auth.swauth.middleware import Swauth
from objstore.common.config import ConfigError
from tests.fake_swift import FakeSwift

SUPER = {"X-Auth-Admin-User": ".super_admin", "X-Auth-Admin-Key": "sk"}
TOKENS = "/auth/v3/auth/tokens"
DOMAIN = {"name": "Default"}


def call(app, method, path, headers=None, body=None):
    req = Request.blank(path, method=method, headers=headers or {})
    if body is not None:
        req.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        req.content_type = req.content_type or "application/json"
    return req.get_response(app)


def add_user(app, account, user, key, *flags):
    if call(app, "GET", f"/auth/v2/{account}", SUPER).status_int == 404:
        assert call(app, "PUT", f"/auth/v2/{account}",
                    {**SUPER, "X-Account-Suffix": account}).status_int == 201
    headers = {**SUPER, "X-Auth-User-Key": key}
    headers.update({f"X-Auth-User-{flag}": "true" for flag in flags})
    assert call(app, "PUT", f"/auth/v2/{account}/{user}", headers).status_int == 201


@pytest.fixture(scope="module")
def swauth():
    app = Swauth(FakeSwift(), {"super_admin_key": "sk", "key_hash": "pbkdf2",
                               "reseller_prefix": "AUTH, SERVICE",
                               "keystone_region": "Here"})
    assert call(app, "POST", "/auth/v2/.prep", SUPER).status_int == 204
    add_user(app, "test", "tester", "testing", "Admin")
    add_user(app, "test", "tester3", "testing3")
    add_user(app, "test", "tester6", "testing6", "Reseller-Admin")
    add_user(app, "test2", "tester2", "testing2", "Admin")
    return app


def password_body(user, password, scope=None):
    body = {"auth": {"identity": {"methods": ["password"],
                                  "password": {"user": {**user, "password": password}}}}}
    if scope is not None:
        body["auth"]["scope"] = scope
    return body


def project(name="test"):
    return {"project": {"name": name, "domain": DOMAIN}}


def issue(app, body, path=TOKENS):
    return call(app, "POST", path, body=body)


def token_of(app, user="tester", password="testing", account="test"):
    resp = issue(app, password_body({"name": f"{account}:{user}", "domain": DOMAIN}, password,
                                    project(account)))
    assert resp.status_int == 201, resp.body
    return resp.headers["X-Subject-Token"]


def assert_keystone_error(resp, status):
    assert resp.status_int == status, resp.body
    assert resp.content_type == "application/json"
    error = resp.json["error"]
    assert error["code"] == status and error["title"] and error["message"]
    if status == 401:
        assert resp.headers["WWW-Authenticate"].startswith('Keystone uri="http://localhost')
    return error["message"]


# ---- discovery ------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/auth/", "/auth"])
def test_the_auth_root_lists_v3_as_keystones_root_does(swauth, path):
    resp = call(swauth, "GET", path, {"Host": "proxy:8080"})
    assert resp.status_int == 300
    [version] = resp.json["versions"]["values"]
    assert version["id"].startswith("v3.") and version["status"] == "stable"
    assert version["links"] == [{"rel": "self", "href": "http://proxy:8080/auth/v3/"}]
    assert version["media-types"][0]["type"] == "application/vnd.openstack.identity-v3+json"


@pytest.mark.parametrize("path, href", [("/auth/v3", "http://proxy:8080/auth/v3/"),
                                        ("/auth/v3/", "http://proxy:8080/auth/v3/"),
                                        ("/v3", "http://proxy:8080/v3/")])
def test_v3_shows_its_version_where_it_is_mounted(swauth, path, href):
    resp = call(swauth, "GET", path, {"Host": "proxy:8080"})
    assert resp.status_int == 200
    assert resp.json["version"]["links"][0]["href"] == href
    assert call(swauth, "HEAD", path).status_int == 200


def test_unknown_paths_and_methods_answer_in_keystones_shape(swauth):
    assert_keystone_error(call(swauth, "GET", "/auth/v3/users"), 404)
    resp = call(swauth, "PUT", TOKENS)
    assert_keystone_error(resp, 405)
    assert resp.headers["Allow"] == "POST, GET, HEAD, DELETE"
    assert_keystone_error(call(swauth, "POST", "/auth/v3"), 405)


# ---- password logins --------------------------------------------------------------------
def test_a_project_scoped_password_login_is_the_v1_token_with_a_catalog(swauth):
    v1 = call(swauth, "GET", "/auth/v1.0", {"X-Auth-User": "test:tester", "X-Auth-Key": "testing"})
    resp = issue(swauth, password_body({"name": "test:tester", "domain": DOMAIN}, "testing",
                                       project()))
    assert resp.status_int == 201
    assert resp.headers["X-Subject-Token"] == v1.headers["X-Auth-Token"]
    token = resp.json["token"]
    assert token["methods"] == ["password"]
    assert token["user"] == {"id": "test:tester", "name": "tester", "password_expires_at": None,
                             "domain": {"id": "default", "name": "Default"}}
    assert token["project"] == {"id": "test", "name": "test",
                                "domain": {"id": "default", "name": "Default"}}
    assert [role["name"] for role in token["roles"]] == ["admin", "member", "reader"]
    assert token["is_domain"] is False and len(token["audit_ids"]) == 1
    assert token["expires_at"].endswith("Z") and token["issued_at"] < token["expires_at"]
    [store, identity] = token["catalog"]
    assert (store["type"], identity["type"]) == ("object-store", "identity")
    assert sorted(e["interface"] for e in store["endpoints"]) == ["admin", "internal", "public"]
    assert {(e["url"], e["region"], e["region_id"]) for e in store["endpoints"]} == \
        {("http://localhost:80/v1/AUTH_test", "Here", "Here")}
    assert identity["endpoints"][0]["url"] == "http://localhost:80/auth/v3"
    assert "testing" not in resp.text and resp.headers["X-Subject-Token"] not in resp.text


def test_the_token_expiry_is_the_v1_one(swauth):
    v1 = call(swauth, "GET", "/auth/v1.0", {"X-Auth-User": "test:tester3", "X-Auth-Key": "testing3"})
    resp = issue(swauth, password_body({"name": "test:tester3", "domain": DOMAIN}, "testing3"))
    checked = swauth.check_token(v1.headers["X-Auth-Token"])
    assert resp.json["token"]["expires_at"] == timestamp(checked.expires)
    assert resp.json["token"]["issued_at"] == timestamp(checked.issued)


@pytest.mark.parametrize("user, scope", [
    ({"id": "test:tester"}, {"project": {"id": "test"}}),
    ({"name": "tester", "domain": {"id": "default"}}, {"project": {"id": "test"}}),
    ({"name": "tester", "domain": DOMAIN}, project()),
    ({"name": "test:tester", "domain": DOMAIN}, {"project": {"name": "test",
                                                             "domain": {"id": "default"}}}),
])
def test_users_and_projects_by_id_or_by_name(swauth, user, scope):
    resp = issue(swauth, password_body(user, "testing", scope))
    assert resp.status_int == 201, resp.body
    assert resp.json["token"]["project"]["id"] == "test"
    assert resp.json["token"]["user"]["id"] == "test:tester"


@pytest.mark.parametrize("scope", [None, "unscoped"])
def test_an_unscoped_token_has_no_project_roles_or_catalog(swauth, scope):
    resp = issue(swauth, password_body({"id": "test:tester"}, "testing", scope))
    assert resp.status_int == 201
    assert not {"project", "roles", "catalog"} & set(resp.json["token"])


def test_roles_follow_the_users_groups(swauth):
    def roles(user, password):
        resp = issue(swauth, password_body({"id": f"test:{user}"}, password, project()))
        return [role["name"] for role in resp.json["token"]["roles"]]
    assert roles("tester3", "testing3") == ["member", "reader"]
    assert roles("tester6", "testing6") == ["admin", "member", "reader", "ResellerAdmin"]


def test_nocatalog(swauth):
    resp = issue(swauth, password_body({"id": "test:tester"}, "testing", project()),
                 path=TOKENS + "?nocatalog")
    assert resp.status_int == 201 and "catalog" not in resp.json["token"]
    assert resp.json["token"]["roles"]


@pytest.mark.parametrize("user, password, scope", [
    ({"id": "test:tester"}, "wrong", project()),
    ({"id": "test:nobody"}, "testing", None),
    ({"id": "nowhere:tester"}, "testing", None),
    ({"name": "test:tester", "domain": {"name": "Other"}}, "testing", None),
    ({"name": "test:tester", "domain": {"id": "other"}}, "testing", None),
    ({"name": "tester", "domain": DOMAIN}, "testing", None),  # a bare name needs a project
    ({"name": "tester", "domain": DOMAIN}, "testing", project("test2")),  # test2 has no tester
    ({"id": "test:tester"}, "", None),
    ({"id": ".auth:tester"}, "testing", None),
])
def test_wrong_credentials_are_one_401(swauth, user, password, scope):
    message = assert_keystone_error(issue(swauth, password_body(user, password, scope)), 401)
    assert message == "The request you have made requires authentication."


@pytest.mark.parametrize("scope", [project("test2"), {"project": {"id": "test2"}},
                                   project("missing"), {"project": {"id": "../x"}},
                                   {"project": {"name": "test2", "domain": {"name": "Other"}}}])
def test_a_user_cannot_scope_to_another_project(swauth, scope):
    assert_keystone_error(issue(swauth, password_body({"id": "test:tester"}, "testing", scope)),
                          401)


def test_a_reseller_admin_may_scope_to_any_project(swauth):
    resp = issue(swauth, password_body({"id": "test:tester6"}, "testing6", project("test2")))
    assert resp.status_int == 201
    token = resp.json["token"]
    assert token["project"]["id"] == "test2" and "admin" not in [r["name"] for r in token["roles"]]
    assert token["catalog"][0]["endpoints"][0]["url"].endswith("/v1/AUTH_test2")


# ---- token logins ----------------------------------------------------------------------
def token_body(token, scope=None):
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}}}}
    if scope is not None:
        body["auth"]["scope"] = scope
    return body


def test_a_token_rescopes_to_itself(swauth):
    unscoped = issue(swauth, password_body({"id": "test:tester"}, "testing"))
    token = unscoped.headers["X-Subject-Token"]
    resp = issue(swauth, token_body(token, project()))
    assert resp.status_int == 201
    assert resp.headers["X-Subject-Token"] == token
    assert resp.json["token"]["methods"] == ["token"]
    assert resp.json["token"]["expires_at"] == unscoped.json["token"]["expires_at"]
    assert resp.json["token"]["catalog"]
    assert_keystone_error(issue(swauth, token_body(token, project("test2"))), 401)
    for bad in ("AUTH_tk" + "0" * 32, token[:-1], "x" * 100):
        assert_keystone_error(issue(swauth, token_body(bad)), 401)


# ---- malformed requests ------------------------------------------------------------------
@pytest.mark.parametrize("body, status, says", [
    (b"{not json", 400, "not valid JSON"),
    ([], 400, "auth"),
    ({"auth": {}}, 400, "identity"),
    ({"auth": {"identity": {"methods": "password"}}}, 400, "methods"),
    ({"auth": {"identity": {"methods": []}}}, 400, "methods"),
    ({"auth": {"identity": {"methods": ["password"]}}}, 400, "password"),
    ({"auth": {"identity": {"methods": ["password"], "password": {}}}}, 400, "user"),
    (password_body({"name": "test:tester"}, "testing"), 400, "domain"),
    (password_body({"domain": DOMAIN}, "testing"), 400, "id or name"),
    (password_body({"id": 7}, "testing"), 400, "must be a string"),
    (password_body({"id": "x" * 2000}, "testing"), 400, "longer than"),
    (password_body({"id": "test:tester"}, 123), 400, "must be a string"),
    (password_body({"id": "test:tester"}, "testing", {"project": {"name": "test"}}), 400,
     "domain"),
    (password_body({"id": "test:tester"}, "testing", {"project": {"id": "test"},
                                                      "domain": {"id": "default"}}), 400, "one"),
    (password_body({"id": "test:tester"}, "testing", "everything"), 400, "unscoped"),
    ({"auth": {"identity": {"methods": ["password", "token"]}}}, 400, "one authentication"),
    ({"auth": {"identity": {"methods": ["token"], "token": {}}}}, 400, "id"),
    ({"auth": {"identity": {"methods": ["totp"]}}}, 401, "unsupported method"),
    (password_body({"id": "test:tester"}, "testing", {"domain": {"id": "default"}}), 401,
     "domain"),
    (password_body({"id": "test:tester"}, "testing", {"system": {"all": True}}), 401, "system"),
    (b"[" * 100 + b"]" * 100, 400, "nests deeper"),
    (b" " * 70000, 413, "larger than"),
])
def test_malformed_bodies(swauth, body, status, says):
    message = assert_keystone_error(issue(swauth, body), status)
    assert says in message


def test_a_body_that_is_not_json_by_its_content_type(swauth):
    req = Request.blank(TOKENS, method="POST", body=b"auth=1",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert "application/json" in assert_keystone_error(req.get_response(swauth), 400)


def test_parse_keeps_what_it_was_given():
    request = parse_auth_request(password_body({"name": "u", "domain": {"id": "d"}}, "pw",
                                               {"project": {"id": "p"}}))
    assert (request.method, request.user.name, request.user.domain.id, request.password,
            request.project.id) == ("password", "u", "d", "pw", "p")
    with pytest.raises(KeystoneError):
        parse_auth_request({"auth": {"identity": {"methods": [None]}}})


# ---- validation and revocation ----------------------------------------------------------
def check(app, method, caller, subject, query=""):
    headers = {"X-Subject-Token": subject}
    if caller:
        headers["X-Auth-Token"] = caller
    return call(app, method, TOKENS + query, headers)


def test_a_user_validates_its_own_token(swauth):
    token = token_of(swauth)
    resp = check(swauth, "GET", token, token)
    assert resp.status_int == 200 and resp.headers["X-Subject-Token"] == token
    assert resp.json["token"]["project"]["id"] == "test" and resp.json["token"]["catalog"]
    assert "catalog" not in check(swauth, "GET", token, token, "?nocatalog").json["token"]
    head = check(swauth, "HEAD", token, token)
    assert head.status_int == 200 and head.body == b""


def test_others_tokens_are_shown_to_reseller_admins_only(swauth):
    token = token_of(swauth)
    other = token_of(swauth, "tester2", "testing2", "test2")
    reseller = token_of(swauth, "tester6", "testing6")
    assert_keystone_error(check(swauth, "GET", other, token), 403)
    assert_keystone_error(check(swauth, "DELETE", other, token), 403)
    assert check(swauth, "GET", reseller, other).json["token"]["project"]["id"] == "test2"
    assert_keystone_error(check(swauth, "GET", None, token), 401)
    assert_keystone_error(check(swauth, "GET", "AUTH_tk" + "1" * 32, token), 401)
    assert_keystone_error(check(swauth, "GET", token, "AUTH_tk" + "1" * 32), 404)
    assert_keystone_error(call(swauth, "GET", TOKENS, {"X-Auth-Token": token}), 400)


def test_revocation_is_swauths(swauth):
    token = token_of(swauth, "tester2", "testing2", "test2")
    assert call(swauth, "HEAD", "/v1/AUTH_test2", {"X-Auth-Token": token}).status_int == 204
    assert check(swauth, "DELETE", token, token).status_int == 204
    assert swauth.validate_token(token) is None
    assert call(swauth, "HEAD", "/v1/AUTH_test2", {"X-Auth-Token": token}).status_int == 401
    assert_keystone_error(issue(swauth, token_body(token)), 401)
    assert_keystone_error(check(swauth, "GET", token, token), 401)
    assert token_of(swauth, "tester2", "testing2", "test2") != token  # a new one
    v1 = call(swauth, "GET", "/auth/v1.0", {"X-Auth-User": "test2:tester2", "X-Auth-Key": "testing2"})
    assert v1.headers["X-Auth-Token"] != token


def test_a_key_change_revokes_the_token(swauth):
    add_user(swauth, "test3", "tester", "old")
    token = token_of(swauth, "tester", "old", "test3")
    add_user(swauth, "test3", "tester", "new")
    assert_keystone_error(issue(swauth, token_body(token)), 401)
    assert_keystone_error(issue(swauth, password_body({"id": "test3:tester"}, "old")), 401)
    assert token_of(swauth, "tester", "new", "test3") != token


def test_an_expired_token_is_refused(swauth, monkeypatch):
    token = token_of(swauth, "tester3", "testing3")
    later = swauth.check_token(token).expires + 1
    swauth.cache.forget(tokens.token_hash(token))
    monkeypatch.setattr("time.time", lambda: later)
    assert_keystone_error(issue(swauth, token_body(token)), 401)
    assert_keystone_error(check(swauth, "GET", token_of(swauth, "tester"), token), 404)
    assert token_of(swauth, "tester3", "testing3") != token  # a new one, not the expired one


def test_a_token_scoped_to_its_project_cannot_reach_another(swauth):
    token = token_of(swauth)
    assert call(swauth, "PUT", "/v1/AUTH_test/c", {"X-Auth-Token": token}).status_int == 201
    for path in ("/v1/AUTH_test2", "/v1/AUTH_test2/c"):
        assert call(swauth, "PUT" if path.endswith("/c") else "HEAD", path,
                    {"X-Auth-Token": token}).status_int == 403


# ---- configuration ------------------------------------------------------------------------
def test_the_api_can_be_turned_off():
    app = Swauth(FakeSwift(), {"super_admin_key": "sk", "keystone_api": "false"})
    assert call(app, "GET", "/auth/v3").status_int == 400  # a v1.0 path it does not know
    assert call(app, "POST", "/v3/auth/tokens", body={}).content_type != "application/json"


@pytest.mark.parametrize("options", [{"keystone_region": ""}, {"keystone_domain_id": "a\nb"},
                                     {"keystone_domain_name": "x" * 300}])
def test_config_errors(options):
    with pytest.raises(ConfigError):
        Swauth(FakeSwift(), options)


def test_a_failing_store_is_a_keystone_503():
    def broken(environ, start_response):
        start_response("500 Internal Server Error", [("Content-Length", "0")])
        return [b""]
    app = Swauth(broken, {"super_admin_key": "sk"})
    assert_keystone_error(issue(app, password_body({"id": "a:b"}, "k")), 503)
