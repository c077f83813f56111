"""Pre-authorized system requests: who may make one, and that no client can forge one.

Everything goes through the real proxy pipeline (catch_errors, gatekeeper,
tempauth, large objects, copy, the proxy Application) over fake storage nodes.
"""
import sys
import types

import pytest
from webob import Request

from auth.tempauth import TempAuth
from proxy.infocache import get_container_info
from proxy.internal.client import InternalClient
from proxy.middleware.gatekeeper import Gatekeeper
from proxy.internal.subrequest import IDENTITY_KEYS, SYSTEM_REQUEST, is_system_request, make_env
from proxy.pipeline import load_pipeline
from tests.fake_swift import FakeSwift
from tests.unit.proxy_fakes import make_app, make_conf

HIDDEN = "AUTH_.auth"
USERS = {"user_test_tester": "testing .admin",
         "user_admin_admin": "admin .admin .reseller_admin"}
FORGED_HEADERS = ["X-Objstore-System-Request", "x-objstore-system-request",
                  "X_Objstore_System_Request", "Objstore.System_Request", "objstore.system_request",
                  "X-Objstore-System-Request-"]


@pytest.fixture
def mark_filter(monkeypatch):
    """A ``[filter:marker] use = marker_mw:filter_factory`` that marks every request."""
    module = types.ModuleType("marker_mw")

    def filter_factory(conf, options):
        def make(app):
            def middleware(environ, start_response):
                environ[SYSTEM_REQUEST] = True
                return app(environ, start_response)
            return middleware
        return make

    module.filter_factory = filter_factory
    monkeypatch.setitem(sys.modules, "marker_mw", module)


def build(line="catch_errors gatekeeper healthcheck tempauth dlo slo copy proxy-server"):
    conf = make_conf(line)
    conf["filter:tempauth"] = USERS
    conf["filter:marker"] = {"use": "marker_mw:filter_factory"}
    proxy, cluster = make_app(conf)
    return load_pipeline(conf, proxy), proxy, cluster


def token(app, user="test:tester", key="testing"):
    resp = Request.blank("/auth/v1.0", headers={"X-Auth-User": user, "X-Auth-Key": key}
                         ).get_response(app)
    assert resp.status_int == 200
    return resp.headers["X-Auth-Token"]


def request(app, method, path, environ=None, **headers):
    req = Request.blank(path, method=method, headers=headers, environ=environ or {})
    if method == "PUT":
        req.body = b"secret"
    return req.get_response(app)


@pytest.fixture
def pipeline():
    app, proxy, _ = build()
    InternalClient(proxy).put(HIDDEN, "users")
    InternalClient(proxy).put(HIDDEN, "users", "bob", body=b"key hash")
    return app, proxy


@pytest.mark.parametrize("method,path", [
    ("GET", f"/v1/{HIDDEN}/users/bob"), ("PUT", f"/v1/{HIDDEN}/users/eve"),
    ("DELETE", f"/v1/{HIDDEN}/users/bob"), ("GET", f"/v1/{HIDDEN}/users"),
    ("PUT", f"/v1/{HIDDEN}/evil")])
@pytest.mark.parametrize("header", FORGED_HEADERS)
def test_a_header_cannot_make_a_system_request(pipeline, method, path, header):
    app, proxy = pipeline
    for who in ({"X-Auth-Token": token(app)}, {"X-Auth-Token": token(app, "admin:admin", "admin")},
                {}):
        resp = request(app, method, path, **who, **{header: "true"})
        assert resp.status_int == (403 if who else 401), (who, resp.status)
    with InternalClient(proxy).get(HIDDEN, "users", "bob") as resp:
        assert b"".join(resp) == b"key hash"  # nothing was changed
    assert InternalClient(proxy).head(HIDDEN, "users", "eve", acceptable={404}).status_int == 404


@pytest.mark.parametrize("value", [True, "true", 1])
def test_a_mark_set_before_the_gatekeeper_is_removed(pipeline, value):
    app, _ = pipeline
    for who in ({"X-Auth-Token": token(app)}, {}):
        resp = request(app, "GET", f"/v1/{HIDDEN}/users/bob", environ={SYSTEM_REQUEST: value},
                       **who)
        assert resp.status_int == (403 if who else 401)


def test_a_filter_left_of_the_gatekeeper_cannot_mark(mark_filter):
    app, _, _ = build("catch_errors marker gatekeeper tempauth proxy-server")
    resp = request(app, "PUT", f"/v1/{HIDDEN}/evil", **{"X-Auth-Token": token(app)})
    assert resp.status_int == 403


def test_a_filter_right_of_the_gatekeeper_can_mark(mark_filter):
    """The control for the two tests above: the mark itself does grant access."""
    app, _, _ = build("catch_errors gatekeeper marker tempauth proxy-server")
    assert request(app, "PUT", f"/v1/{HIDDEN}/mine").status_int == 201
    resp = request(app, "GET", f"/v1/{HIDDEN}/mine")
    assert resp.status_int == 204 and resp.headers.get("X-Container-Object-Count") == "0"


def test_the_gatekeeper_hands_nothing_marked_inwards():
    seen = []

    def inner(environ, start_response):
        seen.append(SYSTEM_REQUEST in environ)
        start_response("204 No Content", [])
        return []

    Request.blank("/v1/a", environ={SYSTEM_REQUEST: True}).get_response(Gatekeeper(inner))
    assert seen == [False]


def test_the_proxy_gives_a_system_request_owner_rights_without_asking_authorize():
    proxy, _ = make_app()
    asked = []

    def deny(req):
        asked.append(req)
        return lambda environ, start_response: start_response("403 Forbidden", []) or []

    env = make_env({}, "PUT", f"/v1/{HIDDEN}/c", source="test", system=True)
    env["swift.authorize"] = deny
    status = []
    list(proxy(env, lambda s, h, e=None: status.append(s)))
    assert status[0].startswith("201") and not asked and env["swift_owner"] is True
    assert env["swift.authorize"] is deny  # put back for whoever looks after the proxy


def test_make_env_as_the_caller_or_as_the_system():
    client_env = {"REMOTE_USER": "test,AUTH_test", "swift.authorize": print,
                  "objstore.identity": {"user": "test:tester"}, "HTTP_REFERER": "http://x",
                  "HTTP_X_TRANS_ID": "tx1", "swift.infocache": {}, "HTTP_X_AUTH_TOKEN": "t"}
    caller = make_env(client_env, "GET", "/v1/AUTH_test/c/o", source="SLO")
    assert caller["REMOTE_USER"] == "test,AUTH_test" and caller["swift.authorize"] is print
    assert not is_system_request(caller)
    system = make_env(client_env, "HEAD", f"/v1/{HIDDEN}/c", source="AUTH", system=True)
    assert is_system_request(system)
    assert not [key for key in IDENTITY_KEYS if key in system and key != SYSTEM_REQUEST]
    assert system["HTTP_X_TRANS_ID"] == "tx1"
    assert system["swift.infocache"] is client_env["swift.infocache"]
    assert "HTTP_X_AUTH_TOKEN" not in system
    # a sub-request made as a system request's caller is a system request too
    assert is_system_request(make_env(system, "GET", f"/v1/{HIDDEN}/c/o", source="SLO"))


def test_info_lookups_are_system_requests():
    seen = []

    def app(environ, start_response):
        seen.append(environ)
        start_response("204 No Content", [("X-Container-Read", ".r:*")])
        return []

    env = {"PATH_INFO": "/v1/AUTH_test/c/o", "REMOTE_USER": "test", "swift.authorize": print}
    assert get_container_info(env, app)["read_acl"] == ".r:*"
    assert is_system_request(seen[0]) and "REMOTE_USER" not in seen[0]
    assert "swift.authorize" not in seen[0]


def test_tempauth_lets_a_system_request_through_as_owner():
    swift = FakeSwift.with_containers(HIDDEN, "c")
    auth = TempAuth(swift, USERS)
    env = make_env({}, "GET", f"/v1/{HIDDEN}/c", source="test", system=True)
    status = []
    list(auth(env, lambda s, h, e=None: status.append(s)))
    assert status[0][:3] in ("200", "204") and env["swift_owner"] is True
    assert "swift.authorize" not in swift.calls[-1].environ  # FakeSwift would have asked it
