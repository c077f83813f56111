import json

import pytest

from auth.tempauth import TempAuth
from objstore.common.constraints import Constraints
from proxy.middleware.copy import ServerSideCopy, filter_factory
from proxy.middleware.dlo import DynamicLargeObject
from proxy.middleware.slo import StaticLargeObject
from tests.fake_swift import FakeSwift, req

A = "AUTH_test"


@pytest.fixture
def swift():
    fake = FakeSwift()
    fake.put_container(A, "c")
    fake.put_container(A, "c2")
    fake.put_object(A, "c", "src", b"source bytes" * 10000,
                    {"Content-Type": "text/x-src", "X-Object-Meta-Color": "red",
                     "X-Object-Meta-Size": "big"})
    return fake


def pipelines(swift):
    """copy left of the large-object filters (Swift's order) and right of them."""
    return [ServerSideCopy(StaticLargeObject(DynamicLargeObject(swift), {})),
            StaticLargeObject(DynamicLargeObject(ServerSideCopy(swift)), {})]


@pytest.mark.parametrize("order", [0, 1])
def test_copy_method_copies_data_and_metadata(swift, order):
    app = pipelines(swift)[order]
    resp = req(app, f"/v1/{A}/c/src", "COPY", Destination="c2/dst", **{"X-Object-Meta-Size": "small"})
    assert resp.status_int == 201
    assert resp.headers["X-Copied-From"] == "c/src"
    assert resp.headers["X-Copied-From-Last-Modified"]
    dst = swift.get_object(A, "c2", "dst")
    assert dst.data == b"source bytes" * 10000
    assert dst.headers["content-type"] == "text/x-src"
    assert dst.headers["x-object-meta-color"] == "red"
    assert dst.headers["x-object-meta-size"] == "small"
    put = [c for c in swift.calls if c.method == "PUT"][-1]
    assert put.environ["swift.source"] == "COPY"
    assert put.headers["Etag"] == swift.get_object(A, "c", "src").etag  # verified by the backend


def test_put_with_copy_from_and_fresh_metadata(swift):
    app = filter_factory(None, {})(swift)
    resp = req(app, f"/v1/{A}/c2/dst", "PUT", **{"X-Copy-From": "/c/src", "X-Fresh-Metadata": "true",
                                                "X-Object-Meta-New": "1", "Content-Type": "text/plain"})
    assert resp.status_int == 201 and resp.headers["X-Copied-From"] == "c/src"
    dst = swift.get_object(A, "c2", "dst")
    assert dst.headers["content-type"] == "text/plain"
    assert dst.headers["x-object-meta-new"] == "1"
    assert "x-object-meta-color" not in dst.headers


def test_cross_account_and_quoted_names(swift):
    swift.put_container("AUTH_other", "oc")
    swift.put_object(A, "c", "na\u00efve name", b"x")
    app = filter_factory(None, {})(swift)
    resp = req(app, f"/v1/{A}/c/na%C3%AFve%20name", "COPY", Destination="oc/o%20copy",
               **{"Destination-Account": "AUTH_other"})
    assert resp.status_int == 201
    assert swift.get_object("AUTH_other", "oc", "o copy").data == b"x"
    assert resp.headers["X-Copied-From"] == "c/na%C3%AFve%20name"
    assert resp.headers["X-Copied-From-Account"] == A
    resp = req(app, f"/v1/{A}/c2/back", "PUT", **{"X-Copy-From": "oc/o%20copy",
                                                 "X-Copy-From-Account": "AUTH_other"})
    assert resp.status_int == 201 and swift.get_object(A, "c2", "back").data == b"x"


@pytest.mark.parametrize("method,headers,status", [
    ("COPY", {"Destination": "nocontainer"}, 412),
    ("COPY", {"Destination": "/c2/"}, 412),
    ("COPY", {}, 412),
    ("PUT", {"X-Copy-From": "bad"}, 412),
])
def test_bad_destination_412(swift, method, headers, status):
    resp = req(filter_factory(None, {})(swift), f"/v1/{A}/c2/x", method, **headers)
    assert resp.status_int == status
    assert b"<container name>/<object name>" in resp.body or b"Destination header required" in resp.body
    assert swift.paths() == []


def test_missing_source_404_and_body_400(swift):
    app = filter_factory(None, {})(swift)
    assert req(app, f"/v1/{A}/c/nothere", "COPY", Destination="c2/x").status_int == 404
    assert req(app, f"/v1/{A}/c2/x", "PUT", b"body", **{"X-Copy-From": "c/src"}).status_int == 400
    assert swift.get_object(A, "c2", "x") is None


def test_copy_respects_source_conditionals(swift):
    app = filter_factory(None, {})(swift)
    resp = req(app, f"/v1/{A}/c/src", "COPY", Destination="c2/x", **{"If-Match": '"nope"'})
    assert resp.status_int == 412 and swift.get_object(A, "c2", "x") is None
    etag = swift.get_object(A, "c", "src").etag
    resp = req(app, f"/v1/{A}/c/src", "COPY", Destination="c2/x", **{"If-Match": etag})
    assert resp.status_int == 201


@pytest.mark.parametrize("method, headers", [
    ("COPY", {"Destination": "c2/part"}), ("PUT", {"X-Copy-From": "c/src"})])
def test_copy_with_range_copies_those_bytes(swift, method, headers):
    app = filter_factory(None, {})(swift)
    path = f"/v1/{A}/c/src" if method == "COPY" else f"/v1/{A}/c2/part"
    resp = req(app, path, method, **headers, Range="bytes=100-200")
    assert resp.status_int == 201
    assert swift.get_object(A, "c2", "part").data == (b"source bytes" * 10000)[100:201]


def make_slo(swift, app):
    segs = []
    for i in range(3):
        etag = swift.put_object(A, "c", f"seg{i}", bytes([65 + i]) * 1000)
        segs.append({"path": f"/c/seg{i}", "etag": etag, "size_bytes": 1000})
    resp = req(app, f"/v1/{A}/c/slo?multipart-manifest=put", "PUT", json.dumps(segs).encode(),
               **{"Content-Type": "video/x-slo", "X-Object-Meta-Kind": "slo"})
    assert resp.status_int == 201
    return b"A" * 1000 + b"B" * 1000 + b"C" * 1000


@pytest.mark.parametrize("order", [0, 1])
def test_copy_of_slo_copies_whole_object(swift, order):
    app = pipelines(swift)[order]
    content = make_slo(swift, app)
    resp = req(app, f"/v1/{A}/c/slo", "COPY", Destination="c2/flat")
    assert resp.status_int == 201
    flat = swift.get_object(A, "c2", "flat")
    assert flat.data == content
    assert "x-static-large-object" not in flat.headers
    assert flat.headers["content-type"] == "video/x-slo"
    assert flat.headers["x-object-meta-kind"] == "slo"


@pytest.mark.parametrize("order", [0, 1])
def test_copy_of_slo_manifest_with_multipart_get(swift, order):
    app = pipelines(swift)[order]
    content = make_slo(swift, app)
    resp = req(app, f"/v1/{A}/c/slo?multipart-manifest=get", "COPY", Destination="c2/manifest")
    assert resp.status_int == 201, resp.body
    copy = swift.get_object(A, "c2", "manifest")
    assert copy.headers["x-static-large-object"] == "True"
    assert copy.headers["content-type"] == "video/x-slo;swift_bytes=3000"
    assert len(copy.data) < 1000  # a manifest, not the data
    assert req(app, f"/v1/{A}/c2/manifest").body == content


@pytest.mark.parametrize("order", [0, 1])
def test_copy_of_dlo(swift, order):
    app = pipelines(swift)[order]
    swift.put_object(A, "c", "part/1", b"one")
    swift.put_object(A, "c", "part/2", b"two")
    swift.put_object(A, "c", "dlo", b"", {"X-Object-Manifest": "c/part/"})
    assert req(app, f"/v1/{A}/c/dlo", "COPY", Destination="c2/flat").status_int == 201
    assert swift.get_object(A, "c2", "flat").data == b"onetwo"
    assert "x-object-manifest" not in swift.get_object(A, "c2", "flat").headers
    assert req(app, f"/v1/{A}/c/dlo?multipart-manifest=get", "COPY", Destination="c2/m").status_int == 201
    assert swift.get_object(A, "c2", "m").headers["x-object-manifest"] == "c/part/"
    assert req(app, f"/v1/{A}/c2/m").body == b"onetwo"


def test_copy_corrupt_slo_source_does_not_write(swift):
    app = pipelines(swift)[0]
    make_slo(swift, app)
    swift.put_object(A, "c", "seg0", b"X" * 1000)
    resp = req(app, f"/v1/{A}/c/slo", "COPY", Destination="c2/flat")
    assert resp.status_int == 409
    assert swift.get_object(A, "c2", "flat") is None


def test_copy_needs_read_and_write_permission(swift):
    swift.put_container(A, "c", **{"X-Container-Read": "test:tester3"})
    auth = TempAuth(filter_factory(None, {})(swift), {"user_test_tester3": "testing3"})
    token = req(auth, "/auth/v1.0", **{"X-Auth-User": "test:tester3", "X-Auth-Key": "testing3"}
                ).headers["X-Auth-Token"]
    resp = req(auth, f"/v1/{A}/c/src", "COPY", Destination="c2/x", **{"X-Auth-Token": token})
    assert resp.status_int == 403 and swift.get_object(A, "c2", "x") is None
    swift.put_container(A, "c2", **{"X-Container-Write": "test:tester3"})
    resp = req(auth, f"/v1/{A}/c/src", "COPY", Destination="c2/x", **{"X-Auth-Token": token})
    assert resp.status_int == 201
    swift.put_container(A, "c", **{"X-Container-Read": ""})
    resp = req(auth, f"/v1/{A}/c/src", "COPY", Destination="c2/y", **{"X-Auth-Token": token})
    assert resp.status_int == 403


def test_source_too_large(swift):
    app = ServerSideCopy(swift, Constraints(max_file_size=10))
    resp = req(app, f"/v1/{A}/c/src", "COPY", Destination="c2/x")
    assert resp.status_int == 413 and swift.get_object(A, "c2", "x") is None


def test_other_requests_pass_through(swift):
    app = filter_factory(None, {})(swift)
    assert req(app, f"/v1/{A}/c2/plain", "PUT", b"data").status_int == 201
    assert req(app, f"/v1/{A}/c/src").status_int == 200


def test_copy_source_failing_mid_stream_writes_nothing(swift):
    app = pipelines(swift)[0]
    make_slo(swift, app)
    swift.put_object(A, "c", "seg2", b"X" * 1000)  # the last segment no longer matches
    resp = req(app, f"/v1/{A}/c/slo", "COPY", Destination="c2/flat")
    assert resp.status_int == 409 and b"copy source failed" in resp.body and b"seg2" in resp.body
    assert swift.get_object(A, "c2", "flat") is None


@pytest.mark.parametrize("method", ["COPY", "PUT"])
def test_copy_with_part_number_copies_that_segment(swift, method):
    app = pipelines(swift)[0]
    make_slo(swift, app)
    if method == "COPY":
        resp = req(app, f"/v1/{A}/c/slo?part-number=2", "COPY", Destination="c2/part")
    else:
        resp = req(app, f"/v1/{A}/c2/part?part-number=2", "PUT", **{"X-Copy-From": "c/slo"})
    assert resp.status_int == 201, resp.body
    assert swift.get_object(A, "c2", "part").data == b"B" * 1000


def test_copy_on_the_v1_0_prefix(swift):
    # the proxy serves /v1.0/ as /v1/: the copy middleware must see those requests too
    resp = req(pipelines(swift)[0], f"/v1.0/{A}/c/src", "COPY", Destination="c2/dst")
    assert resp.status_int == 201
    assert swift.get_object(A, "c2", "dst").data == b"source bytes" * 10000
