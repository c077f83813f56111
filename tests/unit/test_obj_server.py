"""Object server WSGI app in-process: PUT/GET/HEAD/POST/DELETE semantics and errors."""
from __future__ import annotations

import email
import errno
import gc
import hashlib
import io
import os
import time

import pytest
from webob import Request

from objstore.obj import server as server_mod
from tests.unit.obj_helpers import TS, files_under, fill_device, make_app, put, req, ts


@pytest.fixture
def app(tmp_path):
    return make_app(str(tmp_path))


def visible_objects(root) -> list[str]:
    return [f for f in files_under(root) if f.startswith("sda/objects") and "/hashes" not in f
            and not f.endswith(".lock")]


def test_put_get_head_roundtrip(app, tmp_path):
    body = os.urandom(200_000)
    resp = put(app, body=body, X_Object_Meta_Color="blue", X_Object_Meta_Utf8="caf\xc3\xa9", X_Object_Sysmeta_Thing="s",
               Content_Encoding="gzip", X_Not_Stored="x", Content_Type="application/x-thing")
    assert resp.status_int == 201
    assert resp.headers["ETag"] == hashlib.md5(body).hexdigest()
    resp = req(app, "/sda/1/a/c/o")
    assert resp.status_int == 200 and resp.body == body
    assert resp.headers["Content-Type"] == "application/x-thing"
    assert resp.headers["X-Object-Meta-Color"] == "blue"
    assert resp.headers["X-Object-Meta-Utf8"] == "caf\xc3\xa9"  # raw UTF-8 bytes kept as is
    assert resp.headers["X-Object-Sysmeta-Thing"] == "s"
    assert resp.headers["Content-Encoding"] == "gzip"
    assert "X-Not-Stored" not in resp.headers
    assert resp.headers["X-Timestamp"] == TS
    assert resp.headers["X-Backend-Timestamp"] == TS
    assert resp.headers["Last-Modified"] == "Tue, 14 Nov 2023 22:13:20 GMT"
    head = req(app, "/sda/1/a/c/o", "HEAD")
    assert head.status_int == 200 and head.body == b""
    assert head.headers["Content-Length"] == str(len(body))
    [data_file] = [f for f in visible_objects(tmp_path) if f.endswith(".data")]
    assert data_file.endswith(f"/{TS}.data")
    parts = data_file.split("/")
    assert parts[1:3] == ["objects", "1"] and parts[4].endswith(parts[3])


def test_last_write_wins_and_old_files_cleaned(app, tmp_path):
    assert put(app, body=b"old", timestamp=ts(1)).status_int == 201
    assert put(app, body=b"new", timestamp=ts(2)).status_int == 201
    conflict = put(app, body=b"older", timestamp=ts(1.5))
    assert conflict.status_int == 409 and conflict.headers["X-Backend-Timestamp"] == ts(2)
    assert put(app, body=b"same", timestamp=ts(2)).status_int == 409
    assert req(app, "/sda/1/a/c/o").body == b"new"
    assert [f.rsplit("/", 1)[1] for f in visible_objects(tmp_path)] == [f"{ts(2)}.data"]


def test_put_if_none_match_star(app):
    assert put(app, If_None_Match="*").status_int == 201
    resp = put(app, timestamp=ts(1), If_None_Match="*")
    assert resp.status_int == 412
    assert req(app, "/sda/1/a/c/o", "DELETE", X_Timestamp=ts(2)).status_int == 204
    assert put(app, timestamp=ts(3), If_None_Match="*").status_int == 201


def test_etag_mismatch_422_leaves_no_trace(app, tmp_path):
    resp = put(app, body=b"hello", ETag="0" * 32)
    assert resp.status_int == 422 and b"ETag" in resp.body
    assert put(app, body=b"hello", ETag='"5d41402abc4b2a76b9719d911017c592"').status_int == 201
    assert req(app, "/sda/1/a/c/o2").status_int == 404
    assert os.listdir(tmp_path / "sda" / "tmp") == []


class _BrokenInput:
    """A client that sends part of the body then vanishes (or errors)."""

    def __init__(self, data: bytes, error: Exception | None = None):
        self.stream = io.BytesIO(data)
        self.error = error

    def read(self, size=-1):
        chunk = self.stream.read(size)
        if not chunk and self.error:
            raise self.error
        return chunk


@pytest.mark.parametrize("error", [None, ConnectionResetError("reset"), ValueError("bad chunk")])
def test_client_disconnect_midway_499_no_trace(app, tmp_path, error):
    request = Request.blank("/sda/1/a/c/o", method="PUT", headers={
        "X-Timestamp": ts(), "Content-Type": "text/plain", "Content-Length": "100000"})
    request.environ["wsgi.input"] = _BrokenInput(b"x" * 70_000, error)
    resp = request.get_response(app)
    assert resp.status_int == 499
    assert visible_objects(tmp_path) == [] and os.listdir(tmp_path / "sda" / "tmp") == []
    assert req(app, "/sda/1/a/c/o").status_int == 404


def test_read_timeout_is_408(app, tmp_path):
    request = Request.blank("/sda/1/a/c/o", method="PUT", headers={
        "X-Timestamp": ts(), "Content-Type": "text/plain", "Content-Length": "10"})
    request.environ["wsgi.input"] = _BrokenInput(b"", TimeoutError("timed out"))
    assert request.get_response(app).status_int == 408


def test_crash_during_commit_leaves_nothing_visible(app, tmp_path, monkeypatch):
    def boom(fd):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(os, "fsync", boom)
    resp = put(app, body=b"x" * 1000)
    assert resp.status_int == 500
    assert b"Traceback" not in resp.body and b"error occurred" in resp.body
    monkeypatch.undo()
    assert visible_objects(tmp_path) == [] and os.listdir(tmp_path / "sda" / "tmp") == []
    assert req(app, "/sda/1/a/c/o").status_int == 404


@pytest.mark.parametrize("size", [10, 200_000])
def test_full_device_is_507(app, tmp_path, monkeypatch, size):
    fill_device(monkeypatch)
    resp = put(app, body=b"x" * size)
    monkeypatch.undo()
    assert resp.status_int == 507 and b"space" in resp.body.lower()
    assert visible_objects(tmp_path) == [] and os.listdir(tmp_path / "sda" / "tmp") == []


def test_leftover_temp_files_and_junk_are_invisible(app, tmp_path):
    (tmp_path / "sda" / "tmp").mkdir(parents=True)
    (tmp_path / "sda" / "tmp" / "deadbeef").write_bytes(b"half a write")
    stale = tmp_path / "sda" / "tmp" / "stale"
    stale.write_bytes(b"crashed long ago")
    os.utime(stale, (time.time() - 8 * 86400,) * 2)
    assert put(app, body=b"v1").status_int == 201
    assert os.listdir(tmp_path / "sda" / "tmp") == ["deadbeef"]  # only the stale one went
    [data_file] = [f for f in visible_objects(tmp_path) if f.endswith(".data")]
    hash_dir = tmp_path / os.path.dirname(data_file)
    (hash_dir / "garbage.tmp").write_bytes(b"junk")
    resp = req(app, "/sda/1/a/c/o")
    assert resp.status_int == 200 and resp.body == b"v1"


def test_chunked_put(app):
    request = Request.blank("/sda/1/a/c/o", method="PUT", headers={
        "X-Timestamp": ts(), "Content-Type": "text/plain", "Transfer-Encoding": "chunked"})
    request.environ["wsgi.input"] = io.BytesIO(b"a" * 150_000)
    request.environ.pop("CONTENT_LENGTH", None)
    assert request.get_response(app).status_int == 201
    assert req(app, "/sda/1/a/c/o").body == b"a" * 150_000


def test_length_required_and_too_large(app, tmp_path):
    request = Request.blank("/sda/1/a/c/o", method="PUT", headers={
        "X-Timestamp": ts(), "Content-Type": "text/plain"})
    request.environ.pop("CONTENT_LENGTH", None)
    assert request.get_response(app).status_int == 411
    resp = req(app, "/sda/1/a/c/o", "PUT", X_Timestamp=ts(), Content_Type="a/b",
               Content_Length=str(5 * 1024 ** 3 + 1))
    assert resp.status_int == 413 and b"too large" in resp.body
    resp = req(app, "/sda/1/a/c/o", "PUT", X_Timestamp=ts(), Content_Type="a/b",
               Content_Length="12x")
    assert resp.status_int == 400


@pytest.mark.parametrize("path,status,why", [
    ("/sda/x1/a/c/o", 400, b"partition"),
    ("/sda/-1/a/c/o", 400, b"partition"),
    ("/sdz/1/a/c/o", 507, b"not mounted"),
    ("/../1/a/c/o", 400, b"device"),
    ("/./1/a/c/o", 400, b"device"),
    ("/sda/1/a/c", 400, b"Path"),
    ("/sda/1/a//o", 400, b"Path"),
    ("/sda/1/a/c/" + "o" * 1025, 400, b"Object name length"),
    ("/sda/1/" + "a" * 257 + "/c/o", 400, b"Account name length"),
    ("/sda/1/a/c/%ff%fe", 400, b"UTF-8"),
])
def test_bad_paths(app, path, status, why):
    for method in ("GET", "PUT", "DELETE", "POST"):
        resp = req(app, path, method, b"x" if method == "PUT" else None,
                   X_Timestamp=ts(), Content_Type="a/b")
        assert resp.status_int == status, (method, path, resp.body)
        assert why in resp.body


def test_timestamp_and_content_type_required(app):
    assert b"Missing X-Timestamp" in req(app, "/sda/1/a/c/o", "PUT", b"x",
                                         Content_Type="a/b").body
    resp = req(app, "/sda/1/a/c/o", "PUT", b"x", X_Timestamp="yesterday", Content_Type="a/b")
    assert resp.status_int == 400 and b"Invalid X-Timestamp" in resp.body
    resp = req(app, "/sda/1/a/c/o", "PUT", b"x", X_Timestamp=ts())
    assert resp.status_int == 400 and b"content type" in resp.body
    assert req(app, "/sda/1/a/c/o", "DELETE").status_int == 400
    assert req(app, "/sda/1/a/c/o", "POST").status_int == 400


def test_mount_check(tmp_path):
    app = make_app(str(tmp_path), mount_check="true")
    resp = put(app)
    assert resp.status_int == 507 and b"not mounted" in resp.body


def test_storage_policy_index(app, tmp_path):
    assert put(app, body=b"p1", X_Backend_Storage_Policy_Index="1").status_int == 201
    assert req(app, "/sda/1/a/c/o").status_int == 404
    assert req(app, "/sda/1/a/c/o", X_Backend_Storage_Policy_Index="1").body == b"p1"
    assert any(f.startswith("sda/objects-1/1/") for f in files_under(tmp_path))
    assert req(app, "/sda/1/a/c/o", X_Backend_Storage_Policy_Index="7").status_int == 503
    assert req(app, "/sda/1/a/c/o", X_Backend_Storage_Policy_Index="x").status_int == 400


def test_unknown_method_and_unexpected_errors(app, monkeypatch):
    resp = req(app, "/sda/1/a/c/o", "PATCH")
    assert resp.status_int == 405 and "Allow" in resp.headers

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")
    monkeypatch.setattr(server_mod.ObjectServer, "_serve", explode)
    put(app)
    resp = req(app, "/sda/1/a/c/o")
    assert resp.status_int == 500 and b"secret" not in resp.body


def open_files_under(root) -> list[str]:
    """Files under root this process holds open: other tests' sockets, LMDB envs or
    not-yet-collected garbage come and go meanwhile and must not be counted."""
    prefix = os.path.realpath(root) + os.sep
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:  # closed since the listing (e.g. listdir's own fd)
            continue
        if target.startswith(prefix):
            targets.append(target)
    return sorted(targets)


def test_dropped_response_bodies_leak_no_file_descriptors(app, tmp_path):
    """A client may vanish before the body is read: the open .data must still close."""
    put(app)
    gc.collect()
    before = open_files_under(tmp_path)
    unread = app(Request.blank("/sda/1/a/c/o").environ, lambda *args: None)
    assert any(t.endswith(".data") for t in open_files_under(tmp_path)), "count must see .data fds"
    del unread
    for method in ("GET", "GET", "HEAD"):
        for _ in range(20):
            body = app(Request.blank("/sda/1/a/c/o", method=method).environ, lambda *args: None)
            del body
    gc.collect()
    assert open_files_under(tmp_path) == before


def test_healthcheck(app):
    resp = req(app, "/healthcheck")
    assert resp.status_int == 200 and resp.body == b"OK"


# -- ranges ------------------------------------------------------------------
BODY = bytes(range(256)) * 4  # 1024 bytes


@pytest.fixture
def stored(app):
    assert put(app, body=BODY, Content_Type="application/octet-stream").status_int == 201
    return app


@pytest.mark.parametrize("header,start,stop", [
    ("bytes=0-9", 0, 10), ("bytes=1000-", 1000, 1024), ("bytes=-24", 1000, 1024),
    ("bytes=1000-5000", 1000, 1024), ("bytes=-5000", 0, 1024), ("bytes = 5-5", 5, 6),
])
def test_single_range(stored, header, start, stop):
    resp = req(stored, "/sda/1/a/c/o", Range=header)
    assert resp.status_int == 206 and resp.body == BODY[start:stop]
    assert resp.headers["Content-Range"] == f"bytes {start}-{stop - 1}/1024"
    assert resp.headers["Content-Length"] == str(stop - start)


def test_multiple_ranges(stored):
    resp = req(stored, "/sda/1/a/c/o", Range="bytes=0-1,10-19,-2")
    assert resp.status_int == 206
    assert resp.content_type == "multipart/byteranges"
    assert int(resp.headers["Content-Length"]) == len(resp.body)
    message = email.message_from_bytes(
        b"Content-Type: " + resp.headers["Content-Type"].encode() + b"\r\n\r\n" + resp.body)
    parts = [(p["Content-Range"], p.get_payload(decode=True)) for p in message.get_payload()]
    assert parts == [("bytes 0-1/1024", BODY[0:2]), ("bytes 10-19/1024", BODY[10:20]),
                     ("bytes 1022-1023/1024", BODY[1022:])]
    assert all(p["Content-Type"] == "application/octet-stream" for p in message.get_payload())


@pytest.mark.parametrize("header", ["bytes=1024-", "bytes=2000-3000", "bytes=-0",
                                    "bytes=5000-,6000-7000"])
def test_unsatisfiable_range_416(stored, header):
    resp = req(stored, "/sda/1/a/c/o", Range=header)
    assert resp.status_int == 416
    assert resp.headers["Content-Range"] == "bytes */1024"


@pytest.mark.parametrize("header", ["bytes=9-1", "bytes=a-b", "pages=1-2", "bytes=", "bytes=1"])
def test_invalid_range_is_ignored(stored, header):
    resp = req(stored, "/sda/1/a/c/o", Range=header)
    assert resp.status_int == 200 and resp.body == BODY


# -- conditional requests -------------------------------------------------------
ETAG = hashlib.md5(BODY).hexdigest()
BEFORE = "Tue, 14 Nov 2023 22:13:19 GMT"
AT = "Tue, 14 Nov 2023 22:13:20 GMT"


@pytest.mark.parametrize("headers,status", [
    ({"If-Match": ETAG}, 200), ({"If-Match": f'"{ETAG}"'}, 200), ({"If-Match": "*"}, 200),
    ({"If-Match": '"nope", "' + ETAG + '"'}, 200), ({"If-Match": "nope"}, 412),
    ({"If-None-Match": ETAG}, 304), ({"If-None-Match": "*"}, 304), ({"If-None-Match": "x"}, 200),
    ({"If-Modified-Since": AT}, 304), ({"If-Modified-Since": BEFORE}, 200),
    ({"If-Modified-Since": "garbage"}, 200),
    ({"If-Unmodified-Since": BEFORE}, 412), ({"If-Unmodified-Since": AT}, 200),
    ({"If-Match": ETAG, "If-Unmodified-Since": BEFORE}, 412),  # as Swift (swob)
    ({"If-None-Match": "x", "If-Modified-Since": AT}, 200),
    ({"If-Match": "nope", "Range": "bytes=0-1"}, 412),
    ({"If-None-Match": ETAG, "Range": "bytes=0-1"}, 304),
])
def test_conditional_get(stored, headers, status):
    for method in ("GET", "HEAD"):
        resp = Request.blank("/sda/1/a/c/o", method=method, headers=headers).get_response(stored)
        assert resp.status_int == status, (method, headers)
        if status == 304:
            assert resp.body == b"" and resp.headers["ETag"] == ETAG
        if status == 412 and method == "GET":  # a 412 says which condition failed
            assert resp.headers["ETag"] == ETAG and resp.content_type == "text/plain"
            assert resp.body.startswith(b"Precondition Failed: ") and (
                b"If-Match" in resp.body or b"If-Unmodified-Since" in resp.body)


def test_conditional_on_missing_object(app):
    assert req(app, "/sda/1/a/c/o", If_Match="*").status_int == 412
    assert req(app, "/sda/1/a/c/o", If_Match="abc").status_int == 404
    assert req(app, "/sda/1/a/c/o", If_None_Match="*").status_int == 404


def test_etag_is_at(stored, app):
    assert req(app, "/sda/1/a/c/o", "POST", X_Timestamp=ts(1),
               X_Object_Meta_Alt="alt-etag").status_int == 202
    resp = req(app, "/sda/1/a/c/o", If_Match="alt-etag",
               X_Backend_Etag_Is_At="X-Object-Meta-Alt")
    assert resp.status_int == 200
    assert req(app, "/sda/1/a/c/o", If_Match=ETAG,
               X_Backend_Etag_Is_At="X-Object-Meta-Alt").status_int == 412


# -- POST / DELETE / expiry ---------------------------------------------------
def test_post_replaces_user_metadata(app, tmp_path):
    put(app, X_Object_Meta_A="1", X_Object_Meta_B="2", X_Object_Sysmeta_S="keep",
        Content_Type="text/x-orig", Content_Disposition="inline")
    resp = req(app, "/sda/1/a/c/o", "POST", X_Timestamp=ts(1), X_Object_Meta_C="3",
               X_Object_Meta_Removed="", X_Object_Sysmeta_S="changed")
    assert resp.status_int == 202
    got = req(app, "/sda/1/a/c/o")
    assert got.body == b"hello"
    assert got.headers["X-Object-Meta-C"] == "3"
    assert "X-Object-Meta-A" not in got.headers and "Content-Disposition" not in got.headers
    assert "X-Object-Meta-Removed" not in got.headers
    assert got.headers["X-Object-Sysmeta-S"] == "keep"
    assert got.headers["Content-Type"] == "text/x-orig"
    assert got.headers["X-Timestamp"] == ts(1)
    assert got.headers["X-Backend-Data-Timestamp"] == ts()
    assert req(app, "/sda/1/a/c/o", "POST", X_Timestamp=ts(2),
               Content_Type="text/x-new").status_int == 202
    got = req(app, "/sda/1/a/c/o", "HEAD")
    assert got.headers["Content-Type"] == "text/x-new" and "X-Object-Meta-C" not in got.headers
    names = sorted(f.rsplit("/", 1)[1] for f in visible_objects(tmp_path))
    assert names == [f"{ts()}.data", f"{ts(2)}.meta"]
    assert req(app, "/sda/1/a/c/o", "POST", X_Timestamp=ts(2)).status_int == 409
    assert req(app, "/sda/1/a/c/o2", "POST", X_Timestamp=ts(3)).status_int == 404
    put(app, timestamp=ts(3))
    assert "Content-Type" in (h := req(app, "/sda/1/a/c/o").headers) and \
        h["Content-Type"] == "text/plain"


def test_delete_writes_tombstone(app, tmp_path):
    put(app)
    resp = req(app, "/sda/1/a/c/o", "DELETE", X_Timestamp=ts(1))
    assert resp.status_int == 204
    resp = req(app, "/sda/1/a/c/o")
    assert resp.status_int == 404 and resp.headers["X-Backend-Timestamp"] == ts(1)
    assert [f.rsplit("/", 1)[1] for f in visible_objects(tmp_path)] == [f"{ts(1)}.ts"]
    assert req(app, "/sda/1/a/c/o", "DELETE", X_Timestamp=ts(1)).status_int == 409
    assert req(app, "/sda/1/a/c/o", "DELETE", X_Timestamp=ts(2)).status_int == 404
    assert put(app, timestamp=ts(1.5)).status_int == 409
    assert req(app, "/sda/1/a/c/o", "POST", X_Timestamp=ts(3)).status_int == 404
    assert put(app, timestamp=ts(4)).status_int == 201
    assert req(app, "/sda/1/a/c/o").status_int == 200


def test_expiry(app, monkeypatch):
    now = time.time()
    delete_at = str(int(now) + 100)
    assert put(app, X_Delete_At=delete_at).status_int == 201
    assert req(app, "/sda/1/a/c/o").headers["X-Delete-At"] == delete_at
    monkeypatch.setattr(time, "time", lambda: now + 200)
    assert req(app, "/sda/1/a/c/o").status_int == 404
    assert req(app, "/sda/1/a/c/o", "POST", X_Timestamp=ts(1)).status_int == 404
    monkeypatch.undo()
    assert req(app, "/sda/1/a/c/o", "DELETE", X_Timestamp=ts(2),
               X_If_Delete_At="123").status_int == 412
    assert req(app, "/sda/1/a/c/o", "POST", X_Timestamp=ts(1.5),
               X_Delete_At="").status_int == 202  # an empty X-Delete-At removes the expiry
    assert "X-Delete-At" not in req(app, "/sda/1/a/c/o").headers
    assert req(app, "/sda/1/a/c/o", "POST", X_Timestamp=ts(1.6),
               X_Delete_At=delete_at).status_int == 202
    assert req(app, "/sda/1/a/c/o", "DELETE", X_Timestamp=ts(2),
               X_If_Delete_At=delete_at).status_int == 204


def test_delete_after_and_bad_delete_at(app):
    resp = put(app, timestamp=ts(), X_Delete_After="60")
    assert resp.status_int == 400 and b"past" in resp.body  # TS is in 2023: already past
    now = time.time()
    resp = put(app, timestamp=str(now), X_Delete_After="60")
    assert resp.status_int == 201
    assert req(app, "/sda/1/a/c/o").headers["X-Delete-At"] == str(int(now) + 60)
    assert put(app, timestamp=str(now + 1), X_Delete_At="soon").status_int == 400
    assert put(app, timestamp=str(now + 1), X_Delete_At="12").status_int == 400
    assert req(app, "/sda/1/a/c/o", "POST", X_Timestamp=str(now + 2),
               X_Delete_At="12").status_int == 400


def test_expiry_and_framing_refusals_say_what_the_proxy_says(app):
    """objstore.common.checks holds these rules once: the object server answers
    a direct request with the proxy's (Swift's) words."""
    now = time.time()
    resp = put(app, timestamp=str(now), X_Delete_After="-5")
    assert (resp.status_int, resp.body) == (400, b"X-Delete-After in past\n")
    resp = put(app, timestamp=str(now), X_Delete_At="1" * 100)   # clamped, as the proxy does
    assert resp.status_int == 201
    assert req(app, "/sda/1/a/c/o").headers["X-Delete-At"] == "9999999999"
    resp = req(app, "/sda/1/a/c/o", "DELETE", X_Timestamp=str(now + 1), X_If_Delete_At="soon")
    assert (resp.status_int, resp.body) == (400, b"Bad X-If-Delete-At header value\n")
    assert req(app, "/sda/1/a/c/o", "DELETE", X_Timestamp=str(now + 2),
               X_If_Delete_At="09999999999").status_int == 204
    request = Request.blank("/sda/1/a/c/o", method="PUT", headers={
        "X-Timestamp": ts(), "Content-Type": "text/plain", "Transfer-Encoding": "gzip"})
    request.environ.pop("CONTENT_LENGTH", None)
    resp = request.get_response(app)
    assert (resp.status_int, resp.body) == (400, b"Transfer-Encoding 'gzip' is not supported\n")
    request.headers.pop("Transfer-Encoding")
    resp = request.get_response(app)
    assert (resp.status_int, resp.body) == (411, b"Missing Content-Length and not chunked\n")


def test_user_metadata_limits(app):
    assert put(app, **{f"X_Object_Meta_K{i}": "v" for i in range(91)}).status_int == 400
    assert put(app, X_Object_Meta_Big="v" * 257).status_int == 400
    assert put(app, **{"X_Object_Meta_" + "n" * 129: "v"}).status_int == 400
    resp = req(app, "/sda/1/a/c/o", "POST", X_Timestamp=ts(1),
               **{f"X_Object_Meta_K{i}": "v" * 200 for i in range(30)})
    assert resp.status_int == 400 and b"Total metadata" in resp.body
