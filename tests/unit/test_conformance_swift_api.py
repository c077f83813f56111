"""Swift v1 API details that OpenStack Swift's functional tests
(test/functional/*.py) check, through the proxy over fake storage nodes."""
from __future__ import annotations

import pytest
from webob import Request

from auth.tempauth import TempAuth
from tests.unit.proxy_fakes import make_app


def call(app, path, method="GET", body=None, **headers):
    req = Request.blank(path, method=method, headers=headers)
    if body is not None:
        req.body = body
    return req.get_response(app)


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
