"""Swift v1 API details that OpenStack Swift's functional tests
(test/functional/*.py) check, through the proxy over fake storage nodes."""
from __future__ import annotations

import pytest
from webob import Request

from auth.tempauth import TempAuth
from tests.unit.proxy_fakes import call, make_app


@pytest.fixture
def app():
    return make_app()[0]


@pytest.mark.parametrize("path", ["/v1", "/v1/"])
def test_version_only_path_is_412_bad_url(app, path):
    resp = call(app, path, "PUT")
    assert (resp.status_int, resp.body) == (412, b"Bad URL")


def test_invalid_utf8_body_is_verbatim(app):
    env = Request.blank("/").environ
    env["PATH_INFO"] = "/v1/AUTH_a/\xff\xfe"
    resp = Request(env).get_response(app)
    assert (resp.status_int, resp.body) == (412, b"Invalid UTF8 or contains NULL")


def test_www_authenticate_realm_is_quoted(app):
    auth = TempAuth(app, {"user_test_tester": "testing .admin"})
    env = Request.blank("/").environ
    env["PATH_INFO"] = '/v1/AUTH_haxx"\nContent-Length: 5\n\n<b>'
    resp = Request(env).get_response(auth)
    assert resp.status_int == 401
    assert resp.headers["WWW-Authenticate"] == \
        'Swift realm="AUTH_haxx%22%0AContent-Length%3A%205%0A%0A%3Cb%3E"'


def test_object_metadata_may_be_any_bytes_but_container_metadata_is_utf8(app):
    cut = "\u3705".encode()[:2].decode("latin-1")  # a UTF-8 character cut in half
    assert call(app, "/v1/AUTH_a/c", "PUT").status_int == 201
    env = Request.blank("/v1/AUTH_a/c/o", method="PUT", body=b"x").environ
    env["HTTP_X_OBJECT_META_CUT"] = cut
    assert Request(env).get_response(app).status_int == 201
    assert call(app, "/v1/AUTH_a/c/o", "HEAD").headers["X-Object-Meta-Cut"] == cut
    env = Request.blank("/v1/AUTH_a/c", method="POST").environ
    env["HTTP_X_CONTAINER_META_CUT"] = cut
    assert Request(env).get_response(app).status_int == 400


def test_daemons_parse_requests_with_every_metadata_header():
    import http.client
    import io

    from objstore.common.constraints import Constraints
    from objstore.common.wsgi_daemon import allow_header_count

    lines = b"".join(b"X-Object-Meta-%d: v\r\n" % i for i in range(Constraints().max_meta_count + 30))
    saved = http.client._MAXHEADERS
    try:
        allow_header_count(Constraints().max_header_count)
        assert len(http.client.parse_headers(io.BytesIO(lines + b"\r\n"))) == 120
    finally:
        http.client._MAXHEADERS = saved


def test_info_change_in_one_worker_ends_cached_copies_in_the_others():
    import os

    from proxy.infocache import Generations, TTLCache

    generations = Generations()
    mine = TTLCache(60, generations=generations)
    mine.put("account/AUTH_a", {"status": 204, "acl": "old"})
    stale_fetch = mine.generation("account/AUTH_b")
    pid = os.fork()
    if pid == 0:  # another worker: its POST changes both accounts
        theirs = TTLCache(60, generations=generations)
        theirs.pop("account/AUTH_a")
        theirs.pop("account/AUTH_b")
        os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    assert mine.get("account/AUTH_a") is None
    mine.put("account/AUTH_b", {"status": 204}, stale_fetch)  # fetched before the change
    assert mine.get("account/AUTH_b") is None
    mine.put("account/AUTH_a", {"status": 204, "acl": "new"})
    assert mine.get("account/AUTH_a") == {"status": 204, "acl": "new"}


def test_empty_storage_policy_header_means_default(app):
    assert call(app, "/v1/AUTH_a/c", "PUT", **{"X-Storage-Policy": ""}).status_int == 201
    assert call(app, "/v1/AUTH_a/c", "HEAD").headers["X-Storage-Policy"] == "gold"


def test_container_name_too_long_is_html_400_like_swift(app):
    resp = call(app, "/v1/AUTH_a/" + "X" * 2048, "PUT")
    assert resp.status_int == 400
    assert resp.headers["Content-Type"] == "text/html; charset=UTF-8"


@pytest.mark.parametrize("headers, body", [
    ({"X-Delete-At": "0"}, b"X-Delete-At in past"),
    ({"X-Delete-At": "soon"}, b"Non-integer X-Delete-At"),
    ({"X-Delete-After": "1.5"}, b"Non-integer X-Delete-After"),
    ({"X-Delete-After": "-5"}, b"X-Delete-After in past"),
])
def test_bad_expiry_bodies_are_swifts(app, headers, body):
    call(app, "/v1/AUTH_a/c", "PUT")
    resp = call(app, "/v1/AUTH_a/c/o", "PUT", b"", **headers)
    assert (resp.status_int, resp.body) == (400, body)


def test_far_future_expiry_is_clamped_to_ten_digits(app):
    call(app, "/v1/AUTH_a/c", "PUT")
    assert call(app, "/v1/AUTH_a/c/o", "PUT", b"", **{"X-Delete-At": "1" * 100}).status_int == 201
    assert call(app, "/v1/AUTH_a/c/o", "HEAD").headers["X-Delete-At"] == "9" * 10


def test_non_integer_x_if_delete_at_is_400_even_for_a_missing_object(app):
    call(app, "/v1/AUTH_a/c", "PUT")
    resp = call(app, "/v1/AUTH_a/c/nothing", "DELETE", **{"X-If-Delete-At": "bad"})
    assert (resp.status_int, resp.body) == (400, b"Bad X-If-Delete-At header value")


def test_options_with_origin_but_no_request_method_is_401(app):
    call(app, "/v1/AUTH_a/c", "PUT", **{"X-Container-Meta-Access-Control-Allow-Origin": "*"})
    assert call(app, "/v1/AUTH_a/c/o", "OPTIONS", Origin="http://m.com").status_int == 401
    assert call(app, "/v1/AUTH_a/c/o", "OPTIONS").status_int == 200
    resp = call(app, "/v1/AUTH_a/c/o", "OPTIONS", Origin="http://m.com",
                **{"Access-Control-Request-Method": "GET"})
    assert resp.status_int == 200 and resp.headers["Access-Control-Allow-Origin"] == "*"


def test_versions_location_does_not_persist_without_versioning(app):
    call(app, "/v1/AUTH_a/c", "PUT", **{"X-Versions-Location": "v", "X-History-Location": "h"})
    headers = call(app, "/v1/AUTH_a/c", "HEAD").headers
    assert "X-Versions-Location" not in headers and "X-History-Location" not in headers
