"""Client input the proxy refuses, each with a clear 4xx."""
import io
import socket
import time

import pytest
from webob import Request

from tests.unit.proxy_fakes import call, make_app, make_conf


@pytest.fixture
def proxy():
    conf = make_conf()
    conf["constraints"] = {"max_file_size": "100", "container_listing_limit": "50"}
    app, cluster = make_app(conf)
    call(app, "/v1/AUTH_a/c", "PUT")
    return app, cluster


@pytest.fixture
def app(proxy):
    return proxy[0]


def put_without_length(app, path, body=b"", **headers):
    req = Request.blank(path, method="PUT", headers=headers)
    req.body_file = io.BytesIO(body)
    req.environ.pop("CONTENT_LENGTH", None)
    return req.get_response(app)


def test_missing_length_is_411(app):
    resp = put_without_length(app, "/v1/AUTH_a/c/o")
    assert resp.status_int == 411
    assert b"Content-Length" in resp.body


def test_bad_length_is_400(app):
    req = Request.blank("/v1/AUTH_a/c/o", method="PUT")
    req.environ["CONTENT_LENGTH"] = "12abc"
    resp = req.get_response(app)
    assert resp.status_int == 400 and b"Content-Length" in resp.body


def test_unknown_transfer_encoding_is_501(app):
    resp = put_without_length(app, "/v1/AUTH_a/c/o", **{"Transfer-Encoding": "gzip"})
    assert resp.status_int == 501


def test_too_large_is_413(app, proxy):
    assert call(app, "/v1/AUTH_a/c/o", "PUT", b"x" * 101).status_int == 413
    assert call(app, "/v1/AUTH_a/c/o", "PUT", b"x" * 100).status_int == 201


def test_chunked_too_large_is_413_and_nothing_is_stored(app, proxy):
    _, cluster = proxy
    resp = put_without_length(app, "/v1/AUTH_a/c/big", b"x" * 150, **{"Transfer-Encoding": "chunked"})
    assert resp.status_int == 413
    assert call(app, "/v1/AUTH_a/c/big").status_int == 404
    ok = put_without_length(app, "/v1/AUTH_a/c/small", b"y" * 30, **{"Transfer-Encoding": "chunked"})
    assert ok.status_int == 201
    assert call(app, "/v1/AUTH_a/c/small").body == b"y" * 30


def test_client_disconnect_is_499(app):
    req = Request.blank("/v1/AUTH_a/c/o", method="PUT")
    req.body_file = io.BytesIO(b"abc")
    req.environ["CONTENT_LENGTH"] = "50"
    assert req.get_response(app).status_int == 499
    assert call(app, "/v1/AUTH_a/c/o").status_int == 404


def test_name_lengths(app):
    resp = call(app, "/v1/AUTH_a/c/" + "o" * 1025, "PUT", b"")
    assert resp.status_int == 400 and b"longer than 1024" in resp.body
    assert call(app, "/v1/AUTH_a/" + "c" * 257, "PUT").status_int == 400
    assert call(app, "/v1/" + "a" * 257, "HEAD").status_int == 400


@pytest.mark.parametrize("headers,message", [
    ({"X-Object-Meta-" + "n" * 129: "v"}, b"name too long"),
    ({"X-Object-Meta-N": "v" * 257}, b"value longer"),
    ({f"X-Object-Meta-N{i}": "v" for i in range(91)}, b"Too many metadata"),
    ({f"X-Object-Meta-N{i}": "v" * 200 for i in range(25)}, b"Total metadata too large"),
])
def test_object_metadata_limits(app, headers, message):
    resp = call(app, "/v1/AUTH_a/c/o", "PUT", b"", **headers)
    assert resp.status_int == 400
    assert message in resp.body


def test_container_metadata_limits(app):
    resp = call(app, "/v1/AUTH_a/c", "POST", **{"X-Container-Meta-K": "v" * 257})
    assert resp.status_int == 400


def test_listing_limits(app):
    assert call(app, "/v1/AUTH_a/c?limit=51").status_int == 412
    assert call(app, "/v1/AUTH_a/c?limit=50").status_int in (200, 204)
    assert call(app, "/v1/AUTH_a/c?limit=abc").status_int in (200, 204)  # ignored, as Swift
    assert call(app, "/v1/AUTH_a?limit=5000.0").status_int in (200, 204)
    assert call(app, "/v1/AUTH_a?limit=10001").status_int == 412
    resp = call(app, "/v1/AUTH_a/c?prefix=%FF")
    assert resp.status_int == 400 and b"UTF-8" in resp.body


def test_delete_at_and_after(app, proxy):
    _, cluster = proxy
    past = str(int(time.time()) - 10)
    assert call(app, "/v1/AUTH_a/c/o", "PUT", b"", **{"X-Delete-At": past}).status_int == 400
    assert call(app, "/v1/AUTH_a/c/o", "PUT", b"", **{"X-Delete-At": "soon"}).status_int == 400
    assert call(app, "/v1/AUTH_a/c/o", "PUT", b"", **{"X-Delete-After": "-5"}).status_int == 400
    assert call(app, "/v1/AUTH_a/c/o", "PUT", b"", **{"X-Delete-After": "60"}).status_int == 201
    put = [r for r in cluster.requests("PUT") if r[2].endswith("/c/o")][-1][3]
    assert abs(int(put["x-delete-at"]) - (time.time() + 60)) < 5
    assert "x-delete-after" not in put


def test_content_type_is_guessed_or_kept(app, proxy):
    _, cluster = proxy
    call(app, "/v1/AUTH_a/c/page.html", "PUT", b"")
    call(app, "/v1/AUTH_a/c/blob", "PUT", b"")
    call(app, "/v1/AUTH_a/c/x.html", "PUT", b"", **{"Content-Type": "text/x-mine"})
    types = {r[2].rsplit("/", 1)[1]: r[3]["content-type"] for r in cluster.requests("PUT")
             if "/c/" in r[2]}
    assert types == {"page.html": "text/html", "blob": "application/octet-stream",
                     "x.html": "text/x-mine"}


def test_container_acl_is_cleaned_by_auth_middleware():
    app, _ = make_app(make_conf())

    def clean(name, value):
        if value == "bad":
            raise ValueError("bad ACL")
        return value.upper()
    req = Request.blank("/v1/AUTH_a/c", method="PUT", headers={"X-Container-Read": "bad"})
    req.environ["swift.clean_acl"] = clean
    resp = req.get_response(app)
    assert resp.status_int == 400 and b"bad ACL" in resp.body


class SlowInput:
    """A client body that stalls after some bytes (like a socket timeout)."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)

    def read(self, size=-1):
        chunk = self.data.read(size)
        if not chunk:
            raise socket.timeout("client went quiet")
        return chunk


@pytest.mark.parametrize("size", [100, 200000])  # one packet / streamed
def test_stalled_or_vanished_client_stores_nothing(size):
    app, _ = make_app()
    call(app, "/v1/AUTH_a/c", "PUT")
    req = Request.blank("/v1/AUTH_a/c/o", method="PUT")
    req.environ["wsgi.input"] = SlowInput(b"x" * (size // 2))
    req.environ["CONTENT_LENGTH"] = str(size)
    assert req.get_response(app).status_int == 408
    req = Request.blank("/v1/AUTH_a/c/o", method="PUT")
    req.body_file = io.BytesIO(b"x" * (size // 2))
    req.environ["CONTENT_LENGTH"] = str(size)
    assert req.get_response(app).status_int == 499
    assert call(app, "/v1/AUTH_a/c/o").status_int == 404


def test_if_none_match_on_put_only_supports_star(app):
    resp = call(app, "/v1/AUTH_a/c/o", "PUT", b"", **{"If-None-Match": '"abc"'})
    assert resp.status_int == 400 and b"only supports *" in resp.body
