"""Object server behaviour that OpenStack Swift's functional tests check
(tests.py testRangedGets, testIfMatchAndUnmodified, test_POST; test_slo.py
test_slo_container_listing)."""
from __future__ import annotations

import hashlib

import pytest

from objstore.obj.container_updates import ContainerUpdateSender
from tests.unit.obj_helpers import make_app, put, req, ts

BODY = b"hello"
ETAG = hashlib.md5(BODY).hexdigest()
BEFORE = "Tue, 14 Nov 2023 22:13:19 GMT"
TARGETS = {"X_Container_Host": "10.0.0.1:6201", "X_Container_Device": "sdb",
           "X_Container_Partition": "42"}


@pytest.fixture
def app(tmp_path):
    return make_app(str(tmp_path))


@pytest.fixture
def sent(monkeypatch):
    calls = []

    def fake_send(self, target, partition, path, op, headers):
        calls.append((op, dict(headers)))
        return True
    monkeypatch.setattr(ContainerUpdateSender, "send_one", fake_send)
    return calls


def test_416_and_412_carry_the_objects_headers(app):
    put(app, body=BODY, X_Object_Meta_Color="red")
    for method in ("GET", "HEAD"):
        resp = req(app, "/sda/1/a/c/o", method, Range="bytes=-0")
        assert resp.status_int == 416 and resp.headers["Content-Range"] == "bytes */5"
        assert resp.headers["ETag"] == ETAG
        resp = req(app, "/sda/1/a/c/o", method, If_Match="nope")
        assert resp.status_int == 412
        assert resp.headers["ETag"] == ETAG and resp.headers["X-Object-Meta-Color"] == "red"


def test_412_says_why_and_304_is_empty(app):
    """A refused precondition is a 4xx with a reason (the hostile-input rule); a 304 has no body."""
    put(app, body=BODY, Content_Type="image/png")
    resp = req(app, "/sda/1/a/c/o", If_Match="nope")
    assert resp.status_int == 412 and resp.body.startswith(b"Precondition Failed: ")
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert resp.headers["Content-Length"] == str(len(resp.body))
    resp = req(app, "/sda/1/a/c/o", If_None_Match=ETAG)
    assert (resp.status_int, resp.body) == (304, b"")


def test_if_unmodified_since_applies_even_when_if_match_matches(app):
    put(app, body=BODY)
    assert req(app, "/sda/1/a/c/o", If_Match=ETAG, If_Unmodified_Since=BEFORE).status_int == 412


def test_post_updates_the_listing_like_swift(app, sent):
    put(app, body=BODY, Content_Type="text/foobar", **TARGETS)
    sent.clear()
    assert req(app, "/sda/1/a/c/o", "POST", X_Timestamp=ts(1), Content_Type="image/foobarbaz",
               **TARGETS).status_int == 202
    [(op, headers)] = sent
    assert op == "PUT"
    assert {k: headers[k] for k in ("X-Timestamp", "X-Size", "X-Etag", "X-Content-Type",
                                    "X-Content-Type-Timestamp", "X-Meta-Timestamp")} == {
        "X-Timestamp": ts(), "X-Size": "5", "X-Etag": ETAG, "X-Content-Type": "image/foobarbaz",
        "X-Content-Type-Timestamp": ts(1), "X-Meta-Timestamp": ts(1)}
    # a later POST without Content-Type keeps the type (and its time) of the first
    sent.clear()
    req(app, "/sda/1/a/c/o", "POST", X_Timestamp=ts(2), X_Object_Meta_A="b", **TARGETS)
    assert sent[0][1]["X-Content-Type"] == "image/foobarbaz"
    assert sent[0][1]["X-Content-Type-Timestamp"] == ts(1)
    assert sent[0][1]["X-Meta-Timestamp"] == ts(2)
    resp = req(app, "/sda/1/a/c/o", "HEAD")
    assert resp.headers["Content-Type"] == "image/foobarbaz"
    assert "Content-Type-Timestamp" not in resp.headers


def test_post_of_an_slo_keeps_its_listing_size_and_etags(app, sent):
    put(app, body=b"[]", Content_Type="application/octet-stream;swift_bytes=1048576",
        X_Object_Sysmeta_Container_Update_Override_Etag="abc; slo_etag=def", **TARGETS)
    sent.clear()
    req(app, "/sda/1/a/c/o", "POST", X_Timestamp=ts(1), Content_Type="image/jpeg", **TARGETS)
    headers = sent[0][1]
    assert headers["X-Content-Type"] == "image/jpeg;swift_bytes=1048576"
    assert headers["X-Etag"] == "abc; slo_etag=def"
