"""Pipeline loading, catch_errors, gatekeeper, the authorize hook and the info helpers."""
import sys
import types

import pytest
from webob import Request

from objstore.common.config import ConfigError
from proxy.infocache import get_account_info, get_container_info
from proxy.pipeline import load_pipeline, pipeline_names
from tests.unit.proxy_fakes import call, make_app, make_conf


def pipeline(line, **sections):
    conf = make_conf(line)
    for name, options in sections.items():
        conf[name] = options
    proxy, cluster = make_app(conf)
    return load_pipeline(conf, proxy), proxy, cluster


def test_gatekeeper_is_inserted_after_catch_errors():
    assert pipeline_names(make_conf("catch_errors healthcheck proxy-server")) == [
        "catch_errors", "gatekeeper", "healthcheck", "proxy-server"]
    assert pipeline_names(make_conf("proxy-server")) == ["gatekeeper", "proxy-server"]


@pytest.mark.parametrize("line,sections,message", [
    ("catch_errors", {}, "must end with proxy-server"),
    ("nosuch proxy-server", {}, "no [filter:nosuch] section"),
    ("mine proxy-server", {"filter:mine": {"use": "no.such.module:filter_factory"}},
     "module 'no.such.module' not found"),
    ("mine proxy-server", {"filter:mine": {"use": "proxy.http:nothing_here"}},
     "has no callable 'nothing_here'"),
])
def test_pipeline_config_errors_are_clear(line, sections, message):
    conf = make_conf(line)
    for name, options in sections.items():
        conf[name] = options
    proxy, _ = make_app(conf)
    with pytest.raises(ConfigError) as err:
        load_pipeline(conf, proxy)
    assert message in str(err.value)


def test_custom_filter_gets_its_options(monkeypatch):
    module = types.ModuleType("fake_mw")
    seen = {}

    def filter_factory(conf, options):
        seen.update(options)

        def make(app):
            def middleware(environ, start_response):
                environ["HTTP_X_OBJECT_META_TAGGED"] = options["tag"]
                return app(environ, start_response)
            return middleware
        return make

    module.filter_factory = filter_factory
    monkeypatch.setitem(sys.modules, "fake_mw", module)
    app, _, _ = pipeline("catch_errors fake proxy-server",
                         **{"filter:fake": {"use": "fake_mw:filter_factory", "tag": "yes"}})
    assert seen["tag"] == "yes"
    call(app, "/v1/AUTH_a/c", "PUT")
    call(app, "/v1/AUTH_a/c/o", "PUT", b"x")
    assert call(app, "/v1/AUTH_a/c/o").headers["X-Object-Meta-Tagged"] == "yes"


def test_healthcheck_and_trans_id():
    app, _, _ = pipeline("catch_errors healthcheck proxy-server")
    resp = call(app, "/healthcheck")
    assert resp.status_int == 200 and resp.body == b"OK"
    assert resp.headers["X-Trans-Id"].startswith("tx")
    resp = call(app, "/v1/AUTH_a/c/missing")
    assert resp.headers["X-Trans-Id"] == resp.headers["X-Openstack-Request-Id"]


def test_catch_errors_turns_exceptions_into_500(monkeypatch, caplog):
    app, proxy, _ = pipeline("catch_errors proxy-server")

    def boom(req):
        raise RuntimeError("kaboom")
    monkeypatch.setattr(proxy, "handle", boom)
    resp = call(app, "/v1/AUTH_a")
    assert resp.status_int == 500
    assert b"kaboom" not in resp.body and b"Traceback" not in resp.body
    assert resp.headers["X-Trans-Id"]


def test_catch_errors_covers_errors_while_streaming():
    from proxy.middleware.catch_errors import CatchErrors
    from objstore.common.logs import get_logger

    def app(environ, start_response):
        def body():
            raise ValueError("late")
            yield b""
        start_response("200 OK", [("Content-Length", "5")])
        return body()
    statuses = []

    def start_response(status, headers, exc_info=None):  # like a server: last call wins
        statuses.append(status)
    env = Request.blank("/x").environ
    body = b"".join(CatchErrors(app, get_logger("proxy-test", "CRITICAL"))(env, start_response))
    assert statuses[-1].startswith("500") and b"error" in body


def test_gatekeeper_strips_internal_headers_both_ways():
    app, _, cluster = pipeline("catch_errors proxy-server")
    call(app, "/v1/AUTH_a/c", "PUT")
    call(app, "/v1/AUTH_a/c/o", "PUT", b"x", **{"X-Backend-Storage-Policy-Index": "1",
                                                "X-Object-Sysmeta-Evil": "1",
                                                "X-Container-Sysmeta-Evil": "1"})
    put = [r for r in cluster.requests("PUT") if r[2].endswith("/c/o")][0][3]
    assert put["x-backend-storage-policy-index"] == "0"
    assert "x-object-sysmeta-evil" not in put
    resp = call(app, "/v1/AUTH_a/c/o")
    assert not [h for h in resp.headers if h.lower().startswith("x-backend-")]


def test_delayed_denial_uses_the_container_acl():
    app, proxy, _ = pipeline("catch_errors proxy-server")
    call(app, "/v1/AUTH_a/c", "PUT", **{"X-Container-Read": "reader"})
    call(app, "/v1/AUTH_a/c/o", "PUT", b"data")
    calls = []

    def authorize(req):
        calls.append(req.acl)
        return None if req.acl == "reader" else Denied()

    class Denied:
        def __call__(self, environ, start_response):
            start_response("403 Forbidden", [("Content-Length", "0")])
            return []

    def get(path, method="GET"):
        req = Request.blank(path, method=method)
        req.environ["swift.authorize"] = authorize
        return req.get_response(app)
    assert get("/v1/AUTH_a/c/o").body == b"data"
    assert calls == [None, "reader"]
    assert get("/v1/AUTH_a/c/o", "PUT").status_int == 403  # write ACL is empty
    assert get("/v1/AUTH_a/c", "DELETE").status_int == 403  # not delayed: denied up front
    assert get("/v1/AUTH_a/c").status_int == 200  # listing: read ACL
    # only the owner sees the ACLs
    assert "X-Container-Read" not in get("/v1/AUTH_a/c", "HEAD").headers


def test_info_helpers_for_middleware():
    app, proxy, cluster = pipeline("catch_errors proxy-server")
    call(app, "/v1/AUTH_a/c", "PUT", **{"X-Container-Meta-K": "v", "X-Storage-Policy": "silver"})
    env = Request.blank("/v1/AUTH_a/c/o").environ
    info = get_container_info(env, app)
    assert info["status"] == 204 or info["status"] == 200
    assert info["meta"] == {"k": "v"}
    assert info["storage_policy"] == "1"
    heads = len(cluster.requests("HEAD"))
    assert get_container_info(env, app) is info  # cached in the request
    env2 = Request.blank("/v1/AUTH_a/c/o2").environ
    assert get_container_info(env2, app)["meta"] == {"k": "v"}
    assert len(cluster.requests("HEAD")) == heads  # and in the process
    assert get_container_info(Request.blank("/v1/AUTH_a/nope").environ, app)["status"] == 404
    assert get_account_info(env, app)["status"] // 100 == 2


def test_container_info_cache_is_dropped_on_change():
    app, proxy, cluster = pipeline("catch_errors proxy-server")
    call(app, "/v1/AUTH_a/c", "PUT")
    call(app, "/v1/AUTH_a/c/o", "PUT", b"x")
    call(app, "/v1/AUTH_a/c/o", "DELETE")
    assert call(app, "/v1/AUTH_a/c", "DELETE").status_int == 204
    assert call(app, "/v1/AUTH_a/c/o", "PUT", b"x").status_int == 404


def test_missing_rings_are_a_config_error(tmp_path):
    from objstore.common.logs import get_logger
    from proxy.server import Application
    conf = make_conf()
    conf["objstore"]["ring_dir"] = str(tmp_path)
    with pytest.raises(ConfigError) as err:
        Application(conf, get_logger("proxy-test", "CRITICAL"))
    assert "account ring" in str(err.value)
