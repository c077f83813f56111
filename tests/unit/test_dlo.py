import hashlib

import pytest
from webob import Request

from auth.tempauth import TempAuth
from proxy.middleware.dlo import DynamicLargeObject, filter_factory, parse_manifest_header, ManifestError
from tests.fake_swift import FakeSwift, pattern

A = "AUTH_test"


@pytest.fixture
def swift():
    return FakeSwift.with_containers(A, "segs", "c")


def make_dlo(swift, sizes, prefix="big/", name="manifest"):
    etags, body = [], b""
    for i, size in enumerate(sizes):
        data = pattern(i, size)
        etags.append(swift.put_object(A, "segs", f"{prefix}{i:04d}", data))
        body += data
    swift.put_object(A, "c", name, b"", {"X-Object-Manifest": f"segs/{prefix}", "Content-Type": "text/x-big",
                                         "X-Object-Meta-Color": "blue"})
    return body, etags


def get(app, path, method="GET", **headers):
    return Request.blank(path, method=method, headers=headers).get_response(app)


def test_get_concatenates_segments_with_dlo_etag(swift):
    body, etags = make_dlo(swift, [100, 70000, 1, 5000])
    resp = get(DynamicLargeObject(swift), f"/v1/{A}/c/manifest")
    assert resp.status_int == 200
    assert resp.body == body
    assert resp.content_length == len(body)
    assert resp.headers["Etag"] == '"%s"' % hashlib.md5("".join(etags).encode()).hexdigest()
    assert resp.headers["Content-Type"] == "text/x-big"
    assert resp.headers["X-Object-Meta-Color"] == "blue"
    assert resp.headers["X-Object-Manifest"] == "segs/big/"
    sources = {c.environ.get("swift.source") for c in swift.calls[1:]}
    assert sources == {"DLO"}


def test_head_reports_total_length(swift):
    body, _ = make_dlo(swift, [10, 20])
    resp = get(DynamicLargeObject(swift), f"/v1/{A}/c/manifest", method="HEAD")
    assert resp.status_int == 200 and resp.headers["Content-Length"] == "30"
    assert not [c for c in swift.calls if c.method == "GET" and c.path.startswith(f"/v1/{A}/segs/")]


def test_listing_pages_are_followed(swift):
    swift.listing_limit = 3
    body, _ = make_dlo(swift, [5] * 10)
    resp = get(DynamicLargeObject(swift), f"/v1/{A}/c/manifest")
    assert resp.body == body
    listings = [c for c in swift.calls if c.path == f"/v1/{A}/segs"]
    assert len(listings) == 5  # 3+3+3+1 and the empty page


@pytest.mark.parametrize("spec", ["bytes=0-0", "bytes=95-105", "bytes=99-100", "bytes=-7",
                                  "bytes=100-", "bytes=0-99999999", "bytes=50-70149"])
def test_ranges_across_segment_boundaries(swift, spec):
    body, _ = make_dlo(swift, [100, 70000, 1, 50])
    resp = get(DynamicLargeObject(swift), f"/v1/{A}/c/manifest", Range=spec)
    assert resp.status_int == 206
    first, last = spec[6:].split("-")
    if not first:
        expected = body[-int(last):]
    else:
        expected = body[int(first):int(last) + 1] if last else body[int(first):]
    assert resp.body == expected
    assert resp.headers["Content-Range"].endswith(f"/{len(body)}")


def test_unsatisfiable_range_and_multirange(swift):
    body, _ = make_dlo(swift, [10, 10])
    app = DynamicLargeObject(swift)
    resp = get(app, f"/v1/{A}/c/manifest", Range="bytes=20-")
    assert resp.status_int == 416 and resp.headers["Content-Range"] == "bytes */20"
    # as Swift's DLOs: several ranges are ignored, the whole object is sent
    resp = get(app, f"/v1/{A}/c/manifest", Range="bytes=0-1,8-11")
    assert resp.status_int == 200 and resp.body == body


def test_manifest_get_returns_manifest(swift):
    make_dlo(swift, [10])
    resp = get(DynamicLargeObject(swift), f"/v1/{A}/c/manifest?multipart-manifest=get")
    assert resp.status_int == 200 and resp.body == b""
    assert resp.headers["X-Object-Manifest"] == "segs/big/"


def test_missing_segment_container_is_empty_object(swift):
    swift.put_object(A, "c", "m", b"", {"X-Object-Manifest": "nothere/x"})
    resp = get(DynamicLargeObject(swift), f"/v1/{A}/c/m")
    assert resp.status_int == 200 and resp.body == b""
    assert resp.headers["Etag"] == '"%s"' % hashlib.md5(b"").hexdigest()


def test_segment_changed_after_listing_is_caught(swift):
    body, _ = make_dlo(swift, [10, 10])
    app = DynamicLargeObject(swift)
    original = swift._listing

    def listing_then_change(cont, params):
        entries = original(cont, params)
        swift.put_object(A, "segs", "big/0000", b"x" * 10)  # replaced after being listed
        return entries
    swift._listing = listing_then_change
    resp = get(app, f"/v1/{A}/c/manifest")
    assert resp.status_int == 409


def test_segment_vanishing_mid_stream_truncates(swift):
    body, _ = make_dlo(swift, [10, 10, 10])
    app = DynamicLargeObject(swift)
    req = Request.blank(f"/v1/{A}/c/manifest")
    status, headers, app_iter = req.call_application(app)
    assert status.startswith("200")
    chunks = iter(app_iter)
    assert next(chunks) == body[:10]
    # the next segment is already requested while one streams: remove the one after
    del swift.accounts[A]["segs"].objects["big/0002"]
    assert next(chunks) == body[10:20]
    with pytest.raises(Exception, match="404"):
        next(chunks)
    app_iter.close()


def test_prefetched_segment_closed_when_client_leaves(swift):
    make_dlo(swift, [10, 10, 10])
    closed = []
    original = swift.__call__

    class Tracking(list):
        def close(self):
            closed.append(True)

    def tracking_app(environ, start_response):
        return Tracking(original(environ, start_response))
    app = DynamicLargeObject(tracking_app)
    status, headers, app_iter = Request.blank(f"/v1/{A}/c/manifest").call_application(app)
    next(iter(app_iter))
    app_iter.close()  # client disconnects after the first chunk
    gets = [c for c in swift.calls if c.path.startswith(f"/v1/{A}/segs/")]
    assert len(gets) == 2  # the first segment and the prefetched second
    assert len(closed) == 1 + 2 + 2  # manifest GET, 2 listing pages, both segments


def test_put_validates_manifest_header(swift):
    app = DynamicLargeObject(swift)
    for bad in ("nocontainer", "/c/p", ""):
        resp = get(app, f"/v1/{A}/c/m", method="PUT", **{"X-Object-Manifest": bad})
        assert resp.status_int == 400, bad
        assert b"container/prefix" in resp.body
    resp = get(app, f"/v1/{A}/c/m", method="PUT", **{"X-Object-Manifest": "segs/"})
    assert resp.status_int == 201


def test_parse_manifest_header_unquotes():
    assert parse_manifest_header("s%20c/p%C3%A9") == ("s c", "p\u00e9")
    with pytest.raises(ManifestError):
        parse_manifest_header("noslash")


def test_plain_objects_and_other_paths_pass_through(swift):
    swift.put_object(A, "c", "plain", b"hello")
    app = filter_factory(None, {})(swift)
    assert get(app, f"/v1/{A}/c/plain").body == b"hello"
    assert get(app, f"/v1/{A}/c/plain", Range="bytes=1-2").body == b"el"
    assert get(app, f"/v1/{A}/c/plain", Range="bytes=10-").status_int == 416
    assert get(app, f"/v1/{A}/c").status_int == 200
    assert len(swift.calls) == 5  # one HEAD for the 416 check, nothing else


def test_segments_fetched_with_callers_identity(swift):
    body, _ = make_dlo(swift, [10])
    swift.put_container(A, "c", **{"X-Container-Read": "test:tester3"})
    auth = TempAuth(DynamicLargeObject(swift), {"user_test_tester": "testing .admin",
                                                "user_test_tester3": "testing3"})
    token = get(auth, "/auth/v1.0", **{"X-Auth-User": "test:tester3", "X-Auth-Key": "testing3"}
                ).headers["X-Auth-Token"]
    # tester3 may read the manifest's container but not the segment container
    resp = get(auth, f"/v1/{A}/c/manifest", **{"X-Auth-Token": token})
    assert resp.status_int == 403
    swift.put_container(A, "segs", **{"X-Container-Read": "test:tester3"})
    resp = get(auth, f"/v1/{A}/c/manifest", **{"X-Auth-Token": token})
    assert resp.status_int == 200 and resp.body == body


def terse_conditional_answers(app):
    """Like objstore's object server: a 412/304 carries only the ETag, so the
    middleware cannot see that the object is a manifest."""
    def wrapped(environ, start_response):
        def terse(status, headers, exc_info=None):
            if status[:3] in ("412", "304"):
                headers = [(k, v) for k, v in headers if k.lower() in ("etag", "content-length")]
            return start_response(status, headers, exc_info)
        return app(environ, terse)
    return wrapped


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_conditions_are_judged_against_the_dlo_etag(swift, method):
    body, etags = make_dlo(swift, [10, 20])
    app = DynamicLargeObject(terse_conditional_answers(swift))
    etag = '"%s"' % hashlib.md5("".join(etags).encode()).hexdigest()
    path = f"/v1/{A}/c/manifest"
    assert get(app, path, method, **{"If-Match": etag}).status_int == 200
    assert get(app, path, method, **{"If-Match": '"not-it"'}).status_int == 412
    assert get(app, path, method, **{"If-None-Match": etag}).status_int == 304
    assert get(app, path, method, **{"If-None-Match": '"not-it"'}).status_int == 200


def test_manifest_get_on_the_v1_0_prefix_is_assembled(swift):
    body, _ = make_dlo(swift, [100, 70000])
    resp = get(DynamicLargeObject(swift), f"/v1.0/{A}/c/manifest")
    assert resp.status_int == 200 and resp.body == body
