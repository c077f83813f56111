"""The proxy's Swift API over fake rings and in-memory storage nodes."""
import json

import pytest
from webob import Request

from tests.unit.proxy_fakes import call, make_app, make_conf


@pytest.fixture
def proxy():
    return make_app()


@pytest.fixture
def app(proxy):
    return proxy[0]


@pytest.fixture
def cluster(proxy):
    return proxy[1]


def test_object_put_get_head_delete_cycle(app, cluster):
    assert call(app, "/v1/AUTH_a/c", "PUT").status_int == 201
    resp = call(app, "/v1/AUTH_a/c/o.txt", "PUT", b"hello", **{"X-Object-Meta-Color": "blue"})
    assert resp.status_int == 201
    assert resp.headers["Etag"] == "5d41402abc4b2a76b9719d911017c592"
    assert resp.headers["Last-Modified"]
    assert resp.headers["Content-Length"] == "0"
    puts = cluster.requests("PUT")
    object_puts = [r for r in puts if r[2].endswith("/o.txt")]
    assert len(object_puts) == 3
    assert len({r[3]["x-timestamp"] for r in object_puts}) == 1
    assert {r[3]["content-type"] for r in object_puts} == {"text/plain"}

    resp = call(app, "/v1/AUTH_a/c/o.txt")
    assert resp.status_int == 200
    assert resp.body == b"hello"
    assert resp.headers["X-Object-Meta-Color"] == "blue"
    assert resp.headers["Accept-Ranges"] == "bytes"
    assert resp.headers["Etag"] == "5d41402abc4b2a76b9719d911017c592"

    resp = call(app, "/v1/AUTH_a/c/o.txt", "HEAD")
    assert resp.status_int == 200
    assert resp.headers["Content-Length"] == "5"
    assert resp.body == b""

    assert call(app, "/v1/AUTH_a/c/o.txt", "DELETE").status_int == 204
    assert call(app, "/v1/AUTH_a/c/o.txt").status_int == 404
    assert call(app, "/v1/AUTH_a/c/o.txt", "DELETE").status_int == 404


@pytest.mark.parametrize("body,expect", [(b"x", None), (b"x" * 100000, "100-continue")])
def test_object_put_carries_container_replica_i(app, cluster, body, expect):
    call(app, "/v1/AUTH_a/c", "PUT")
    call(app, "/v1/AUTH_a/c/o", "PUT", body)
    _, cont_nodes = app.rings["container"].get_nodes("AUTH_a", "c")
    puts = [r for r in cluster.requests("PUT") if r[2].endswith("/AUTH_a/c/o")]
    _, obj_nodes = app.rings["object"].get_nodes("AUTH_a", "c", "o")
    by_node = {r[1]: r[3] for r in puts}
    for i, node in enumerate(obj_nodes):
        headers = by_node[f"{node['ip']}:{node['port']}/{node['device']}"]
        assert headers["x-container-host"] == f"{cont_nodes[i]['ip']}:{cont_nodes[i]['port']}"
        assert headers["x-container-device"] == cont_nodes[i]["device"]
        assert headers.get("expect") == expect
        assert headers["x-backend-storage-policy-index"] == "0"


def test_container_put_carries_account_replica_and_autocreates(app, cluster):
    assert call(app, "/v1/AUTH_new/c", "PUT").status_int == 201
    account_puts = [r for r in cluster.requests("PUT") if r[2].endswith("/AUTH_new")]
    assert len(account_puts) == 3
    cont_puts = [r for r in cluster.requests("PUT") if r[2].endswith("/AUTH_new/c")]
    _, acct_nodes = app.rings["account"].get_nodes("AUTH_new")
    assert sorted(r[3]["x-account-host"] for r in cont_puts) == sorted(
        f"{n['ip']}:{n['port']}" for n in acct_nodes)
    assert call(app, "/v1/AUTH_new/c", "PUT").status_int == 202


def test_account_autocreate_answers_empty_account(app):
    resp = call(app, "/v1/AUTH_nobody", "HEAD")
    assert resp.status_int == 204
    assert resp.headers["X-Account-Container-Count"] == "0"
    resp = call(app, "/v1/AUTH_nobody?format=json")
    assert resp.status_int == 200
    assert json.loads(resp.body) == []
    assert call(app, "/v1/AUTH_nobody").status_int == 204


def test_account_without_autocreate_is_404():
    app, _ = make_app(make_conf(account_autocreate="false"))
    assert call(app, "/v1/AUTH_nobody", "HEAD").status_int == 404
    assert call(app, "/v1/AUTH_nobody/c", "PUT").status_int == 404


def test_object_put_to_missing_container_is_404(app):
    assert call(app, "/v1/AUTH_a/nope/o", "PUT", b"x").status_int == 404


def test_container_listing_and_metadata(app):
    call(app, "/v1/AUTH_a/c", "PUT", **{"X-Container-Meta-Color": "red",
                                       "X-Container-Read": ".r:*"})
    call(app, "/v1/AUTH_a/c/b", "PUT", b"1")
    call(app, "/v1/AUTH_a/c/a", "PUT", b"2")
    resp = call(app, "/v1/AUTH_a/c?format=json")
    assert resp.status_int == 200
    assert [o["name"] for o in json.loads(resp.body)] == ["a", "b"]
    assert resp.headers["X-Container-Meta-Color"] == "red"
    assert resp.headers["X-Storage-Policy"] == "gold"
    assert resp.headers["X-Container-Read"] == ".r:*"  # no auth: everyone is the owner
    assert call(app, "/v1/AUTH_a/c", "POST", **{"X-Remove-Container-Meta-Color": "x"}).status_int == 204
    assert "X-Container-Meta-Color" not in call(app, "/v1/AUTH_a/c", "HEAD").headers
    assert call(app, "/v1/AUTH_a/c", "DELETE").status_int == 409
    call(app, "/v1/AUTH_a/c/a", "DELETE")
    call(app, "/v1/AUTH_a/c/b", "DELETE")
    assert call(app, "/v1/AUTH_a/c", "DELETE").status_int == 204
    assert call(app, "/v1/AUTH_a/c", "HEAD").status_int == 404


def test_storage_policy_on_container_put(app, cluster):
    assert call(app, "/v1/AUTH_a/c", "PUT", **{"X-Storage-Policy": "silver"}).status_int == 201
    resp = call(app, "/v1/AUTH_a/c", "HEAD")
    assert resp.headers["X-Storage-Policy"] == "silver"
    call(app, "/v1/AUTH_a/c/o", "PUT", b"x")
    obj_puts = [r for r in cluster.requests("PUT") if r[2].endswith("/c/o")]
    assert {r[3]["x-backend-storage-policy-index"] for r in obj_puts} == {"1"}
    # re-PUT without a policy keeps it; a different one conflicts
    assert call(app, "/v1/AUTH_a/c", "PUT").status_int == 202
    assert call(app, "/v1/AUTH_a/c", "PUT", **{"X-Storage-Policy": "gold"}).status_int == 409
    resp = call(app, "/v1/AUTH_a/d", "PUT", **{"X-Storage-Policy": "bronze"})
    assert resp.status_int == 400
    assert b"bronze" in resp.body
    assert call(app, "/v1/AUTH_a/d", "PUT", **{"X-Storage-Policy": "old"}).status_int == 400


def test_object_post_and_metadata(app):
    call(app, "/v1/AUTH_a/c", "PUT")
    call(app, "/v1/AUTH_a/c/o", "PUT", b"x", **{"X-Object-Meta-A": "1"})
    assert call(app, "/v1/AUTH_a/c/o", "POST", **{"X-Object-Meta-B": "2"}).status_int == 202
    resp = call(app, "/v1/AUTH_a/c/o", "HEAD")
    assert resp.headers["X-Object-Meta-B"] == "2"
    assert "X-Object-Meta-A" not in resp.headers
    assert call(app, "/v1/AUTH_a/c/missing", "POST").status_int == 404


def test_range_get(app):
    call(app, "/v1/AUTH_a/c", "PUT")
    call(app, "/v1/AUTH_a/c/o", "PUT", b"0123456789")
    resp = call(app, "/v1/AUTH_a/c/o", Range="bytes=2-4")
    assert resp.status_int == 206
    assert resp.body == b"234"


def test_info(app):
    from proxy.info import register_capability
    register_capability("testmw", {"answer": 42})
    resp = call(app, "/info")
    assert resp.status_int == 200
    info = json.loads(resp.body)
    assert info["swift"]["max_file_size"] == 5 * 1024 ** 3
    assert {p["name"] for p in info["swift"]["policies"]} == {"gold", "silver"}
    assert [p for p in info["swift"]["policies"] if p.get("default")][0]["name"] == "gold"
    assert info["testmw"] == {"answer": 42}
    assert call(app, "/info", "POST").status_int == 405


@pytest.mark.parametrize("path,status", [
    ("/v2/AUTH_a", 400), ("/v1/", 412), ("/v1", 412), ("/v1/AUTH_a//o", 404), ("/nothing", 412),
    ("//v1/AUTH_a", 404), ("/v1//c/o", 404), ("/v1///o", 404), ("/", 404)])
def test_bad_paths(app, path, status):
    assert call(app, path).status_int == status


def test_bad_utf8_path_is_412(app):
    env = Request.blank("/").environ
    env["PATH_INFO"] = "/v1/AUTH_a/c/\xff\xfe"
    assert Request(env).get_response(app).status_int == 412


def test_unknown_method_is_405(app):
    resp = call(app, "/v1/AUTH_a/c/o", "PATCH")
    assert resp.status_int == 405
    assert "GET" in resp.headers["Allow"]


def test_account_management_is_off_by_default(app):
    assert call(app, "/v1/AUTH_x", "PUT").status_int == 405
    assert call(app, "/v1/AUTH_x", "DELETE").status_int == 405
    app2, _ = make_app(make_conf(allow_account_management="true"))
    assert call(app2, "/v1/AUTH_x", "PUT").status_int == 201
    assert call(app2, "/v1/AUTH_x", "DELETE").status_int == 204


def test_account_post_autocreates(app):
    assert call(app, "/v1/AUTH_m", "POST", **{"X-Account-Meta-K": "v"}).status_int == 204
    assert call(app, "/v1/AUTH_m", "HEAD").headers["X-Account-Meta-K"] == "v"


def test_cors_preflight_and_actual_requests(app):
    call(app, "/v1/AUTH_a/c", "PUT", **{
        "X-Container-Meta-Access-Control-Allow-Origin": "http://good.example",
        "X-Container-Meta-Access-Control-Max-Age": "600",
        "X-Container-Meta-Access-Control-Expose-Headers": "X-Custom"})
    call(app, "/v1/AUTH_a/c/o", "PUT", b"x", **{"X-Object-Meta-Color": "red"})
    pre = {"Origin": "http://good.example", "Access-Control-Request-Method": "PUT",
           "Access-Control-Request-Headers": "x-auth-token, content-type"}
    resp = call(app, "/v1/AUTH_a/c/o", "OPTIONS", **pre)
    assert resp.status_int == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "http://good.example"
    assert "PUT" in resp.headers["Access-Control-Allow-Methods"]
    assert resp.headers["Access-Control-Allow-Headers"] == "x-auth-token, content-type"
    assert resp.headers["Access-Control-Max-Age"] == "600"
    assert call(app, "/v1/AUTH_a/c/o", "OPTIONS", **{**pre, "Origin": "http://evil.example"}
                ).status_int == 401
    assert call(app, "/v1/AUTH_a/c/o", "OPTIONS", **{**pre, "Access-Control-Request-Method": "BREW"}
                ).status_int == 401
    resp = call(app, "/v1/AUTH_a/c/o", Origin="http://good.example")
    assert resp.headers["Access-Control-Allow-Origin"] == "http://good.example"
    exposed = resp.headers["Access-Control-Expose-Headers"].split(", ")
    assert {"etag", "x-trans-id", "x-object-meta-color", "x-custom"} <= set(exposed)
    assert "Access-Control-Allow-Origin" not in call(app, "/v1/AUTH_a/c/o",
                                                     Origin="http://evil.example").headers
    # without an Origin, OPTIONS just lists the methods
    resp = call(app, "/v1/AUTH_a/c/o", "OPTIONS")
    assert resp.status_int == 200 and "GET" in resp.headers["Allow"]


def test_cluster_wide_cors_origin():
    app, _ = make_app(make_conf(cors_allow_origin="http://everywhere.example"))
    call(app, "/v1/AUTH_a/c", "PUT")
    resp = call(app, "/v1/AUTH_a/c", "OPTIONS", Origin="http://everywhere.example",
                **{"Access-Control-Request-Method": "GET"})
    assert resp.status_int == 200


def test_container_post_keeps_the_policy_and_non_owners_cannot_set_acls(app):
    call(app, "/v1/AUTH_a/c", "PUT", **{"X-Storage-Policy": "silver"})
    assert call(app, "/v1/AUTH_a/c", "POST", **{"X-Storage-Policy": "gold"}).status_int == 204
    assert call(app, "/v1/AUTH_a/c", "HEAD").headers["X-Storage-Policy"] == "silver"
    req = Request.blank("/v1/AUTH_a/c", method="POST",
                        headers={"X-Container-Read": ".r:*", "X-Container-Meta-A": "b"})
    req.environ["swift.authorize"] = lambda r: None  # allowed, but not the owner
    assert req.get_response(app).status_int == 204
    resp = call(app, "/v1/AUTH_a/c", "HEAD")
    assert resp.headers["X-Container-Meta-A"] == "b"
    assert "X-Container-Read" not in resp.headers
