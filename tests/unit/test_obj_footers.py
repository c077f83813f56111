"""Metadata footers (Swift's multipart-MIME object PUT) through the object server app,
and the streaming MIME reader on its own."""
from __future__ import annotations

import hashlib
import io
import json
import os

import pytest
from webob import Request

from objstore.obj import footers
from tests import footer_body
from tests.footer_body import footer_part
from tests.unit.obj_helpers import files_under, make_app, req, ts

BOUNDARY = "b" * 64
DATA = os.urandom(150_000)  # more than two 64 KiB reads: the delimiter search spans chunks
DATA_ETAG = hashlib.md5(DATA).hexdigest()


@pytest.fixture
def app(tmp_path):
    return make_app(str(tmp_path))


def mime_body(data: bytes, meta: dict, footer: bytes | None = None) -> bytes:
    return footer_body.mime_body(data, meta, BOUNDARY, footer)


class Trickle(io.RawIOBase):
    """A client that sends the body a few bytes at a time."""

    def __init__(self, data: bytes, size: int):
        self.stream = io.BytesIO(data)
        self.size = size

    def read(self, n=-1):
        return self.stream.read(min(self.size, n) if n and n > 0 else self.size)


def footer_put(app, body: bytes, path="/sda/1/a/c/o", chunked=True, trickle=None, **headers):
    headers = {"X-Timestamp": ts(), "Content-Type": "text/plain",
               "X-Backend-Obj-Metadata-Footer": "yes",
               "X-Backend-Obj-Multipart-Mime-Boundary": BOUNDARY,
               **{key.replace("_", "-"): value for key, value in headers.items()}}
    request = Request.blank(path, method="PUT", headers=headers)
    request.environ["wsgi.input"] = Trickle(body, trickle) if trickle else io.BytesIO(body)
    if chunked:
        request.environ.pop("CONTENT_LENGTH", None)
        request.headers["Transfer-Encoding"] = "chunked"
    else:
        request.environ["CONTENT_LENGTH"] = str(len(body))
    return request.get_response(app)


def no_trace(root) -> bool:
    tmp = os.path.join(root, "sda", "tmp")
    return (not any(f.endswith((".data", ".xattr")) for f in files_under(root)) and
            (not os.path.isdir(tmp) or os.listdir(tmp) == []))


@pytest.mark.parametrize("chunked,trickle", [(True, None), (False, None), (True, 7)])
def test_footer_metadata_is_stored_and_etag_checked(app, chunked, trickle):
    meta = {"Etag": DATA_ETAG, "X-Object-Sysmeta-Ec-Frag-Index": "3",
            "x-object-meta-color": "blue", "X-Object-Meta-Utf8": "caf\u00e9",
            "X-Unrelated-Header": "not stored"}
    resp = footer_put(app, mime_body(DATA, meta), chunked=chunked, trickle=trickle,
                      X_Backend_Obj_Content_Length=str(len(DATA)))
    assert resp.status_int == 201, resp.body
    assert resp.headers["ETag"] == DATA_ETAG
    got = req(app, "/sda/1/a/c/o")
    assert got.body == DATA and got.headers["Content-Type"] == "text/plain"
    assert got.headers["X-Object-Sysmeta-Ec-Frag-Index"] == "3"
    assert got.headers["X-Object-Meta-Color"] == "blue"
    assert got.headers["X-Object-Meta-Utf8"] == "caf\xc3\xa9"  # as if sent as a header
    assert "X-Unrelated-Header" not in got.headers


def test_swift_unit_test_framing_without_part_headers(app):
    """No part headers, no CRLF after the closing delimiter (Swift's own tests send this)."""
    meta = json.dumps({"Etag": hashlib.md5(b"obj data").hexdigest()})
    body = "\r\n".join(["--boundary", "", "obj data", "--boundary",
                        "Content-MD5: " + hashlib.md5(meta.encode()).hexdigest(), "", meta,
                        "--boundary--"]).encode()
    resp = footer_put(app, body, X_Backend_Obj_Multipart_Mime_Boundary="boundary",
                      Etag="other-etag")  # the footer's ETag wins over the header's
    assert resp.status_int == 201, resp.body
    assert req(app, "/sda/1/a/c/o").body == b"obj data"


def test_footer_overrides_header_metadata(app):
    meta = {"Content-Type": "image/late", "X-Object-Meta-Color": "red"}
    resp = footer_put(app, mime_body(DATA, meta), X_Object_Meta_Color="blue",
                      X_Object_Meta_Shape="round")
    assert resp.status_int == 201
    got = req(app, "/sda/1/a/c/o", "HEAD")
    assert got.headers["Content-Type"] == "image/late"
    assert got.headers["X-Object-Meta-Color"] == "red"
    assert got.headers["X-Object-Meta-Shape"] == "round"


def test_footer_etag_mismatch_is_422_and_leaves_no_trace(app, tmp_path):
    resp = footer_put(app, mime_body(DATA, {"Etag": "0" * 32}), Etag=DATA_ETAG)
    assert resp.status_int == 422 and b"ETag" in resp.body
    assert no_trace(tmp_path) and req(app, "/sda/1/a/c/o").status_int == 404


def test_footer_checksum_mismatch_is_422(app, tmp_path):
    body = mime_body(DATA, {}, footer=footer_part({"Etag": DATA_ETAG}, checksum="f" * 32))
    resp = footer_put(app, body)
    assert resp.status_int == 422 and b"Content-MD5" in resp.body
    assert no_trace(tmp_path)


B = BOUNDARY.encode()
GOOD_FOOTER = footer_part({"Etag": hashlib.md5(b"data").hexdigest()})


@pytest.mark.parametrize("body,why", [
    (b"data without any framing", b"does not start with the boundary"),
    (b"--other\r\n\r\ndata\r\n--other--\r\n", b"does not start with the boundary"),
    (b"--" + B + b"\r\n\r\ndata\r\n--" + B + b"--\r\n", b"no footer part"),
    (b"--" + B + b"\r\n\r\ndata", b"ended inside the object part"),
    (b"--" + B + b"\r\nno colon here\r\n\r\ndata", b"Malformed MIME header"),
    (b"--" + B + b"\r\n\r\ndata\r\n--" + B + b"xx\r\n", b"Malformed MIME boundary line"),
    (b"--" + B + b"\r\n\r\ndata\r\n--" + B + b"\r\n" + GOOD_FOOTER, b"ended inside the footer"),
    (b"--" + B + b"\r\n\r\ndata\r\n--" + B + b"\r\n" + GOOD_FOOTER + b"\r\n--" + B +
     b"\r\nX-Document: put commit\r\n\r\nput_commit_confirmation\r\n--" + B + b"--",
     b"multiphase"),
    (b"--" + B + b"\r\n\r\ndata\r\n--" + B + b"\r\n\r\n{}\r\n--" + B + b"--", b"No Content-MD5"),
    (mime_body(b"data", {}, footer=footer_part([1, 2])), b"JSON object of strings"),
    (mime_body(b"data", {}, footer=footer_part({"Etag": 5})), b"JSON object of strings"),
    (mime_body(b"data", {}, footer=b"Content-MD5: " +
               hashlib.md5(b"{not json").hexdigest().encode() + b"\r\n\r\n{not json"),
     b"not valid JSON"),
])
def test_malformed_mime_is_400_with_the_reason_and_no_trace(app, tmp_path, body, why):
    resp = footer_put(app, body)
    assert resp.status_int == 400, resp.body
    assert why in resp.body
    assert no_trace(tmp_path)


def test_missing_boundary_and_multiphase_are_400(app, tmp_path):
    resp = footer_put(app, mime_body(DATA, {}), X_Backend_Obj_Multipart_Mime_Boundary="")
    assert resp.status_int == 400 and b"Boundary is missing" in resp.body
    resp = footer_put(app, mime_body(DATA, {}), X_Backend_Obj_Multiphase_Commit="yes")
    assert resp.status_int == 400 and b"Multiphase-Commit is not supported" in resp.body
    assert no_trace(tmp_path)


def test_object_length_is_the_object_parts(app, tmp_path):
    resp = footer_put(app, mime_body(DATA, {}), X_Backend_Obj_Content_Length=str(len(DATA) + 1))
    assert resp.status_int == 499 and no_trace(tmp_path)
    resp = footer_put(app, mime_body(DATA, {}), X_Backend_Obj_Content_Length=str(6 * 1024 ** 3))
    assert resp.status_int == 413
    resp = footer_put(app, mime_body(DATA, {}), X_Backend_Obj_Content_Length="12x")
    assert resp.status_int == 400 and b"X-Backend-Obj-Content-Length" in resp.body


def test_footer_listing_overrides_reach_the_container(app, monkeypatch):
    sent = []
    server = app.app.app  # behind /healthcheck and /recon
    monkeypatch.setattr(server.store, "update_container",
                        lambda op, target, diskfile, update, timestamp, listing:
                        sent.append(listing))
    meta = {"Etag": DATA_ETAG, "X-Backend-Container-Update-Override-Etag": "whole-etag",
            "X-Backend-Container-Update-Override-Size": "999"}
    resp = footer_put(app, mime_body(DATA, meta), X_Container_Host="10.0.0.1:6201",
                      X_Container_Device="sdb", X_Container_Partition="4",
                      X_Backend_Container_Update_Override_Etag="header-etag")
    assert resp.status_int == 201
    assert sent == [{"X-Size": "999", "X-Content-Type": "text/plain", "X-Etag": "whole-etag"}]


def test_plain_put_ignores_mime_looking_bodies(app):
    body = mime_body(b"data", {})
    assert req(app, "/sda/1/a/c/o", "PUT", body, X_Timestamp=ts(),
               Content_Type="text/plain").status_int == 201
    assert req(app, "/sda/1/a/c/o").body == body


def test_object_part_streams_before_the_footer_arrives():
    """The object's bytes are handed on as they come, not buffered to the end."""
    received = []

    def arriving():
        yield b"--" + B + b"\r\n\r\n" + b"x" * 100_000
        received.append("footer sent")
        yield b"\r\n--" + B + b"\r\n" + GOOD_FOOTER + b"\r\n--" + B + b"--\r\n"
    body = footers.FooterBody(arriving(), BOUNDARY)
    data = body.object_data()
    first = next(data)
    assert received == [] and 0 < len(first) <= 100_000
    assert len(first + b"".join(data)) == 100_000 and received == ["footer sent"]
    assert body.footers().etag == hashlib.md5(b"data").hexdigest()
