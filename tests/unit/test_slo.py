import datetime
import hashlib
import json

import pytest
from webob import Request

from auth.tempauth import TempAuth
from proxy.middleware.slo import StaticLargeObject, filter_factory, slo_etag
from tests.fake_swift import FakeSwift, pattern, req

A = "AUTH_test"


@pytest.fixture
def swift():
    return FakeSwift.with_containers(A, "segs", "c")


@pytest.fixture
def slo(swift):
    return StaticLargeObject(swift, {"min_segment_size": "1"})


def upload_segments(swift, sizes, prefix="s"):
    segs, content = [], b""
    for i, size in enumerate(sizes):
        data = pattern(i, size)
        etag = swift.put_object(A, "segs", f"{prefix}{i}", data)
        segs.append({"path": f"/segs/{prefix}{i}", "etag": etag, "size_bytes": size})
        content += data
    return segs, content


def put_manifest(app, name, segs, **headers):
    return req(app, f"/v1/{A}/c/{name}?multipart-manifest=put", "PUT", json.dumps(segs).encode(), **headers)


def test_put_then_get_is_byte_exact(swift, slo):
    segs, content = upload_segments(swift, [70000, 1, 65536, 3])
    resp = put_manifest(slo, "big", segs, **{"Content-Type": "video/x-test", "X-Object-Meta-A": "b"})
    assert resp.status_int == 201, resp.body
    expected_etag = hashlib.md5("".join(s["etag"] for s in segs).encode()).hexdigest()
    assert resp.headers["Etag"] == f'"{expected_etag}"'
    stored = swift.get_object(A, "c", "big")
    assert stored.headers["x-static-large-object"] == "True"
    assert stored.headers["content-type"] == f"video/x-test;swift_bytes={len(content)}"
    assert stored.headers["x-object-sysmeta-container-update-override-etag"] == \
        f"{hashlib.md5(stored.data).hexdigest()}; slo_etag={expected_etag}"
    entries = json.loads(stored.data)
    assert [e["name"] for e in entries] == [s["path"] for s in segs]
    assert set(entries[0]) == {"name", "bytes", "hash", "content_type", "last_modified"}
    seg_time = swift.get_object(A, "segs", "s0").timestamp
    assert entries[0]["last_modified"] == datetime.datetime.fromtimestamp(
        float("%.5f" % seg_time), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    got = req(slo, f"/v1/{A}/c/big")
    assert got.status_int == 200 and got.body == content
    assert got.headers["Etag"] == f'"{expected_etag}"'
    assert got.headers["X-Static-Large-Object"] == "True"
    assert got.headers["X-Object-Meta-A"] == "b"
    assert got.headers["Content-Type"] == "video/x-test"
    assert req(slo, f"/v1/{A}/c/big", "HEAD").headers["Content-Type"] == "video/x-test"
    manifest = req(slo, f"/v1/{A}/c/big?multipart-manifest=get", "HEAD")
    assert manifest.headers["Content-Type"] == "application/json; charset=utf-8"  # as Swift
    raw = req(slo, f"/v1/{A}/c/big?multipart-manifest=get&format=raw")
    assert raw.headers["Content-Type"] == "video/x-test"  # the object's own, as Swift
    assert raw.headers["Etag"] == hashlib.md5(raw.body).hexdigest()
    assert not any(k.lower().startswith("x-object-sysmeta") for k in got.headers)


def test_head_uses_sysmeta_without_reading_manifest(swift, slo):
    segs, content = upload_segments(swift, [10, 20])
    put_manifest(slo, "big", segs)
    swift.calls.clear()
    resp = req(slo, f"/v1/{A}/c/big", "HEAD")
    assert resp.headers["Content-Length"] == "30"
    assert resp.headers["Etag"] == f'"{slo_etag([{"hash": s["etag"]} for s in segs])}"'
    assert [c.method for c in swift.calls] == ["HEAD"]
    # without sysmeta (e.g. an older manifest) the manifest is read
    del swift.get_object(A, "c", "big").headers["x-object-sysmeta-slo-size"]
    assert req(slo, f"/v1/{A}/c/big", "HEAD").headers["Content-Length"] == "30"


def test_null_etag_and_size_are_filled_in(swift, slo):
    segs, content = upload_segments(swift, [5, 6])
    for seg in segs:
        seg["etag"] = None
        seg["size_bytes"] = None
    assert put_manifest(slo, "m.txt", segs).status_int == 201
    assert swift.get_object(A, "c", "m.txt").headers["content-type"] == "text/plain;swift_bytes=11"
    assert req(slo, f"/v1/{A}/c/m.txt").body == content
    assert put_manifest(slo, "m", segs).status_int == 201
    assert req(slo, f"/v1/{A}/c/m").body == content


@pytest.mark.parametrize("spec", ["bytes=0-0", "bytes=69999-70001", "bytes=70000-70000",
                                  "bytes=-2", "bytes=70001-", "bytes=5-135539"])
def test_ranges_across_boundaries(swift, slo, spec):
    segs, content = upload_segments(swift, [70000, 1, 65536, 3])
    put_manifest(slo, "big", segs)
    resp = req(slo, f"/v1/{A}/c/big", Range=spec)
    assert resp.status_int == 206
    first, last = spec[6:].split("-")
    expected = content[-int(last):] if not first else content[int(first):int(last) + 1 if last else None]
    assert resp.body == expected
    start = len(content) - len(expected) if first == "" else int(first)
    assert resp.headers["Content-Range"] == f"bytes {start}-{start + len(expected) - 1}/{len(content)}"


def test_range_only_fetches_needed_segments(swift, slo):
    segs, content = upload_segments(swift, [10, 10, 10])
    put_manifest(slo, "m", segs)
    swift.calls.clear()
    assert req(slo, f"/v1/{A}/c/m", Range="bytes=12-13").body == content[12:14]
    fetched = [c for c in swift.calls if c.path.startswith(f"/v1/{A}/segs/")]
    assert [(c.path, c.headers.get("Range")) for c in fetched] == [(f"/v1/{A}/segs/s1", "bytes=2-3")]


def test_segment_ranges_in_manifest(swift, slo):
    segs, content = upload_segments(swift, [100, 50])
    segs[0]["range"] = "10-19"
    segs[1]["range"] = "-5"
    assert put_manifest(slo, "r", segs).status_int == 201
    entries = json.loads(swift.get_object(A, "c", "r").data)
    assert entries[0]["range"] == "10-19" and entries[1]["range"] == "45-49"
    expected = content[10:20] + content[145:150]
    resp = req(slo, f"/v1/{A}/c/r")
    assert resp.body == expected
    digest = hashlib.md5(f"{segs[0]['etag']}:10-19;{segs[1]['etag']}:45-49;".encode()).hexdigest()
    assert resp.headers["Etag"] == f'"{digest}"'
    assert req(slo, f"/v1/{A}/c/r", Range="bytes=8-11").body == expected[8:12]


def test_nested_slo(swift, slo):
    segs, content = upload_segments(swift, [10, 20])
    assert put_manifest(slo, "inner", segs).status_int == 201
    more, more_content = upload_segments(swift, [7], prefix="t")
    outer = [{"path": "/c/inner", "etag": None, "size_bytes": None}] + more + \
        [{"path": "/c/inner", "range": "5-14"}]
    assert put_manifest(slo, "outer", outer).status_int == 201, req(slo, "/").body
    entries = json.loads(swift.get_object(A, "c", "outer").data)
    assert entries[0]["sub_slo"] is True and entries[0]["bytes"] == 30
    expected = content + more_content + content[5:15]
    assert req(slo, f"/v1/{A}/c/outer").body == expected
    assert req(slo, f"/v1/{A}/c/outer", "HEAD").headers["Content-Length"] == str(len(expected))
    for first, last in [(0, 0), (9, 31), (29, 40), (36, 46)]:
        resp = req(slo, f"/v1/{A}/c/outer", Range=f"bytes={first}-{last}")
        assert resp.body == expected[first:last + 1], (first, last)


def test_nesting_depth_limit(swift):
    slo = StaticLargeObject(swift, {"max_nesting": "3"})
    segs, content = upload_segments(swift, [4])
    put_manifest(slo, "l0", segs)
    for level in range(1, 4):
        assert put_manifest(slo, f"l{level}", [{"path": f"/c/l{level - 1}"}]).status_int == 201
    assert req(slo, f"/v1/{A}/c/l1").body == content
    assert req(slo, f"/v1/{A}/c/l2").body == content
    resp = req(slo, f"/v1/{A}/c/l3")
    assert resp.status_int == 409 and b"recursion" in resp.body


@pytest.mark.parametrize("body,status,message", [
    (b"not json", 400, b"valid JSON"),
    (b'{"path": "/segs/s0"}', 400, b"must be a list"),
    (b"[]", 400, b"at least one"),
    (b'[{"path": "noslash"}]', 400, b"/container/object"),
    (b'[{"path": "/segs/"}]', 400, b"/container/object"),
    (b'[{"path": "/segs/s0", "foo": 1}]', 400, b"extraneous"),
    (b'[{"path": "/segs/s0", "size_bytes": "x"}]', 400, b"size_bytes"),
])
def test_put_rejects_bad_manifests(swift, slo, body, status, message):
    upload_segments(swift, [5])
    resp = req(slo, f"/v1/{A}/c/m?multipart-manifest=put", "PUT", body)
    assert resp.status_int == status and message in resp.body, resp.body
    assert swift.get_object(A, "c", "m") is None


def test_put_limits(swift):
    slo = StaticLargeObject(swift, {"max_manifest_segments": "2", "max_manifest_size": "300"})
    segs, _ = upload_segments(swift, [1, 1, 1])
    resp = put_manifest(slo, "m", segs)
    assert resp.status_int == 413
    assert put_manifest(slo, "m", segs[:2]).status_int == 201
    resp = put_manifest(slo, "m", [{"path": "/segs/" + "x" * 300}])
    assert resp.status_int == 413


def test_put_reports_problem_segments(swift, slo):
    segs, _ = upload_segments(swift, [5, 0, 5, 5])
    segs[2]["etag"] = "0" * 32
    segs[3]["size_bytes"] = 99
    segs.append({"path": "/segs/missing"})
    segs.append({"path": "/c/m"})
    swift.put_object(A, "c", "m", b"old")
    resp = put_manifest(slo, "m", segs)
    assert resp.status_int == 400
    assert resp.body.decode().splitlines() == [
        "Errors:", "/segs/s1, Too small; each segment must be at least 1 byte.",
        "/segs/s2, Etag Mismatch", "/segs/s3, Size Mismatch", "/segs/missing, 404 Not Found",
        "/c/m, Segment cannot be the manifest itself"]
    resp = put_manifest(slo, "m", segs, Accept="application/json")
    assert json.loads(resp.body)["Errors"][0] == ["/segs/s1", "Too small; each segment must be at least 1 byte."]
    assert swift.get_object(A, "c", "m").data == b"old"


def test_min_segment_size_except_last(swift):
    slo = StaticLargeObject(swift, {"min_segment_size": "10"})
    segs, _ = upload_segments(swift, [10, 3, 3])
    resp = put_manifest(slo, "m", segs)
    assert resp.status_int == 400 and resp.body.count(b"Too small") == 1
    assert put_manifest(slo, "m", [segs[0], segs[2]]).status_int == 201


def test_reserved_header_and_client_etag(swift, slo):
    resp = req(slo, f"/v1/{A}/c/x", "PUT", b"data", **{"X-Static-Large-Object": "True"})
    assert resp.status_int == 400 and b"reserved" in resp.body
    segs, _ = upload_segments(swift, [5])
    assert put_manifest(slo, "m", segs, ETag="f" * 32).status_int == 422
    good = slo_etag([{"hash": segs[0]["etag"]}])
    assert put_manifest(slo, "m", segs, ETag=f'"{good}"').status_int == 201


def test_manifest_get_and_raw(swift, slo):
    segs, _ = upload_segments(swift, [5, 6])
    segs[1]["range"] = "1-2"
    put_manifest(slo, "m", segs)
    resp = req(slo, f"/v1/{A}/c/m?multipart-manifest=get")
    assert resp.content_type == "application/json"
    assert resp.headers["X-Static-Large-Object"] == "True"
    stored = json.loads(resp.body)
    assert stored[0]["name"] == "/segs/s0" and stored[0]["bytes"] == 5
    raw = json.loads(req(slo, f"/v1/{A}/c/m?multipart-manifest=get&format=raw").body)
    assert raw == [{"path": "/segs/s0", "etag": segs[0]["etag"], "size_bytes": 5},
                   {"path": "/segs/s1", "etag": segs[1]["etag"], "size_bytes": 6, "range": "1-2"}]
    # the raw form can be PUT back as is
    assert put_manifest(slo, "m2", raw).status_int == 201


def test_corrupted_segment_detected(swift, slo):
    segs, content = upload_segments(swift, [10, 10])
    put_manifest(slo, "m", segs)
    swift.put_object(A, "segs", "s0", b"y" * 10)
    resp = req(slo, f"/v1/{A}/c/m")
    assert resp.status_int == 409 and b"ETag" in resp.body
    upload_segments(swift, [10])  # restore s0
    swift.put_object(A, "segs", "s1", b"z" * 10)
    status, headers, app_iter = Request.blank(f"/v1/{A}/c/m").call_application(slo)
    assert status.startswith("200")
    chunks = iter(app_iter)
    assert next(chunks) == content[:10]
    with pytest.raises(Exception, match="ETag"):
        next(chunks)
    app_iter.close()


def test_multipart_delete(swift, slo):
    segs, _ = upload_segments(swift, [5, 5])
    put_manifest(slo, "inner", segs)
    more, _ = upload_segments(swift, [3], prefix="t")
    put_manifest(slo, "outer", [{"path": "/c/inner"}] + more)
    del swift.accounts[A]["segs"].objects["t0"]  # already gone: counted as not found
    resp = req(slo, f"/v1/{A}/c/outer?multipart-manifest=delete", "DELETE")
    assert resp.status_int == 200
    lines = resp.body.decode().splitlines()
    assert lines[:2] == ["Number Deleted: 4", "Number Not Found: 1"]
    assert "Response Status: 200 OK" in lines
    assert not swift.accounts[A]["segs"].objects and not swift.accounts[A]["c"].objects


def test_multipart_delete_json_and_errors(swift):
    segs, _ = upload_segments(swift, [5])
    slo = StaticLargeObject(swift, {})
    put_manifest(slo, "m", segs)
    swift.put_container(A, "c", **{"X-Container-Write": "test:tester3", "X-Container-Read": "test:tester3"})
    auth = TempAuth(slo, {"user_test_tester3": "testing3"})
    token = req(auth, "/auth/v1.0", **{"X-Auth-User": "test:tester3", "X-Auth-Key": "testing3"}
                ).headers["X-Auth-Token"]
    resp = req(auth, f"/v1/{A}/c/m?multipart-manifest=delete", "DELETE",
               **{"X-Auth-Token": token, "Accept": "application/json"})
    result = json.loads(resp.body)
    assert result["Errors"] == [["/segs/s0", "403 Forbidden"]]
    assert result["Response Status"] == "400 Bad Request" and result["Number Deleted"] == 0
    assert swift.get_object(A, "c", "m") is not None  # manifest kept when segments fail


def test_multipart_delete_of_plain_object_and_missing(swift, slo):
    swift.put_object(A, "c", "plain", b"x")
    assert req(slo, f"/v1/{A}/c/plain?multipart-manifest=delete", "DELETE").status_int == 204
    resp = req(slo, f"/v1/{A}/c/gone?multipart-manifest=delete", "DELETE")
    assert b"Number Not Found: 1" in resp.body


def test_conditional_get_on_slo_etag(swift, slo):
    segs, content = upload_segments(swift, [5])
    etag = put_manifest(slo, "m", segs).headers["Etag"]
    assert req(slo, f"/v1/{A}/c/m", **{"If-None-Match": etag}).status_int == 304
    assert req(slo, f"/v1/{A}/c/m", **{"If-Match": etag}).body == content
    assert req(slo, f"/v1/{A}/c/m", **{"If-Match": '"nope"'}).status_int == 412


def test_multirange_get(swift, slo):
    segs, content = upload_segments(swift, [10, 10])
    put_manifest(slo, "m", segs)
    resp = req(slo, f"/v1/{A}/c/m", Range="bytes=0-1,8-11")
    assert resp.status_int == 206
    assert resp.content_type == "multipart/byteranges"
    boundary = resp.headers["Content-Type"].split("boundary=")[1]
    parts = resp.body.split(b"--" + boundary.encode())
    assert parts[1].endswith(b"\r\n\r\n" + content[0:2] + b"\r\n")
    assert b"Content-Range: bytes 8-11/20" in parts[2] and parts[2].endswith(content[8:12] + b"\r\n")
    assert parts[3] == b"--\r\n"
    assert len(resp.body) == resp.content_length


def test_plain_object_passthrough(swift):
    app = filter_factory(None, {})(swift)
    swift.put_object(A, "c", "o", b"hello")
    assert req(app, f"/v1/{A}/c/o").body == b"hello"
    assert req(app, f"/v1/{A}/c/o?multipart-manifest=get").body == b"hello"
    assert req(app, f"/v1/{A}/c", "GET").status_int == 200


def test_date_conditionals_use_manifest_last_modified(swift, slo):
    segs, content = upload_segments(swift, [5])
    put_manifest(slo, "m", segs)
    last_modified = req(slo, f"/v1/{A}/c/m", "HEAD").headers["Last-Modified"]
    assert req(slo, f"/v1/{A}/c/m", **{"If-Modified-Since": last_modified}).status_int == 304
    assert req(slo, f"/v1/{A}/c/m", **{"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).body == content
    assert req(slo, f"/v1/{A}/c/m", **{"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}
               ).status_int == 412


def test_multirange_with_bad_first_segment_is_409(swift, slo):
    segs, content = upload_segments(swift, [5, 5])
    put_manifest(slo, "m", segs)
    swift.put_object(A, "segs", "s0", b"zzzzz")
    assert req(slo, f"/v1/{A}/c/m", Range="bytes=0-1,7-8").status_int == 409


def test_inline_data_segments(swift, slo):
    import base64
    segs, content = upload_segments(swift, [10])
    manifest = [{"data": base64.b64encode(b"HEAD:").decode()}] + segs + \
        [{"data": base64.b64encode(b":TAIL").decode()}]
    resp = put_manifest(slo, "d", manifest)
    assert resp.status_int == 201, resp.body
    expected = b"HEAD:" + content + b":TAIL"
    digest = hashlib.md5((hashlib.md5(b"HEAD:").hexdigest() + segs[0]["etag"]
                          + hashlib.md5(b":TAIL").hexdigest()).encode()).hexdigest()
    assert resp.headers["Etag"] == f'"{digest}"'
    got = req(slo, f"/v1/{A}/c/d")
    assert got.body == expected and got.headers["Etag"] == f'"{digest}"'
    assert req(slo, f"/v1/{A}/c/d", Range="bytes=3-6").body == expected[3:7]
    assert req(slo, f"/v1/{A}/c/d", Range="bytes=-7").body == expected[-7:]
    raw = json.loads(req(slo, f"/v1/{A}/c/d?multipart-manifest=get&format=raw").body)
    assert raw[0] == manifest[0] and raw[2] == manifest[2]
    resp = req(slo, f"/v1/{A}/c/d?multipart-manifest=delete", "DELETE")
    assert b"Number Deleted: 2" in resp.body


@pytest.mark.parametrize("seg", [{"data": ""}, {"data": "!!notbase64"}, {"data": 5},
                                 {"data": "aGk=", "path": "/segs/s0"}])
def test_bad_data_segments(swift, slo, seg):
    resp = req(slo, f"/v1/{A}/c/m?multipart-manifest=put", "PUT", json.dumps([seg]).encode())
    assert resp.status_int == 400 and b"data" in resp.body


def test_head_of_nested_slo_without_sysmeta_and_bad_stored_manifest(swift, slo):
    segs, content = upload_segments(swift, [4, 4])
    put_manifest(slo, "inner", segs)
    put_manifest(slo, "outer", [{"path": "/c/inner"}, segs[0]])
    for name in ("inner", "outer"):
        headers = swift.get_object(A, "c", name).headers
        del headers["x-object-sysmeta-slo-size"], headers["x-object-sysmeta-slo-etag"]
    assert req(slo, f"/v1/{A}/c/outer", "HEAD").headers["Content-Length"] == "12"
    assert req(slo, f"/v1/{A}/c/outer").body == content + content[:4]
    swift.put_object(A, "c", "inner", b'[{"name": "/segs/s0"}]', swift.get_object(A, "c", "inner").headers)
    resp = req(slo, f"/v1/{A}/c/inner")
    assert resp.status_int == 409 and b"name/hash/bytes" in resp.body


def test_part_number_get_and_head(swift, slo):
    segs, content = upload_segments(swift, [10, 20, 5])
    etag = put_manifest(slo, "m", segs).headers["Etag"]
    manifest_etag = swift.get_object(A, "c", "m").etag
    for method in ("GET", "HEAD"):
        resp = req(slo, f"/v1/{A}/c/m?part-number=2", method)
        assert resp.status_int == 206
        assert (resp.headers["Content-Range"], resp.headers["Content-Length"]) == ("bytes 10-29/35", "20")
        assert (resp.headers["X-Parts-Count"], resp.headers["Etag"]) == ("3", etag)
        assert resp.headers["X-Manifest-Etag"] == manifest_etag
        if method == "GET":
            assert resp.body == content[10:30]
        resp = req(slo, f"/v1/{A}/c/m?part-number=4", method)
        assert resp.status_int == 416 and resp.headers["Content-Range"] == "bytes */35"
        assert resp.headers["X-Parts-Count"] == "3" and resp.headers["Etag"] == etag
        assert resp.body == (b"The requested part number is not satisfiable" if method == "GET" else b"")
        assert req(slo, f"/v1/{A}/c/m?part-number=0", method).status_int == 400
    swift.put_object(A, "c", "plain", b"abc")  # not an SLO: the parameter means nothing
    assert req(slo, f"/v1/{A}/c/plain?part-number=0").body == b"abc"


@pytest.mark.parametrize("version", ["v1", "v1.0"])
def test_manifest_put_and_get_on_both_api_prefixes(swift, slo, version):
    # the proxy serves /v1.0/ as /v1/: a manifest GET there must not return the raw JSON
    segs, content = upload_segments(swift, [70000, 3])
    resp = req(slo, f"/{version}/{A}/c/big?multipart-manifest=put", "PUT", json.dumps(segs).encode())
    assert resp.status_int == 201, resp.body
    got = req(slo, f"/{version}/{A}/c/big")
    assert got.status_int == 200 and got.body == content
    assert got.headers["X-Static-Large-Object"] == "True"


def test_weak_if_none_match_is_304_like_the_object_server(swift, slo):
    segs, _ = upload_segments(swift, [5])
    put_manifest(slo, "m", segs)
    etag = req(slo, f"/v1/{A}/c/m", "HEAD").headers["Etag"]
    assert req(slo, f"/v1/{A}/c/m", **{"If-None-Match": f"W/{etag}"}).status_int == 304
    assert req(slo, f"/v1/{A}/c/m", **{"If-Match": f"W/{etag}"}).status_int == 412
