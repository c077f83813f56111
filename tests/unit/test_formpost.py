"""Form POST through the real proxy app and pipeline, with bodies encoded by urllib3's
multipart encoder (what Python HTTP clients send) and by hand where framing matters."""
import hashlib
import hmac
import io
import json
import time

import pytest
from urllib3.filepost import encode_multipart_formdata

from objstore.common.form_data import FormDataError, iter_form_parts, parse_header_params
from tests.unit.proxy_fakes import auth_token, call, make_pipeline

ACCOUNT = "/v1/AUTH_test"
KEY = "formkey"


@pytest.fixture
def app():
    pipeline = make_pipeline("catch_errors gatekeeper tempurl formpost tempauth dlo slo copy proxy-server")
    assert call(pipeline, ACCOUNT, "POST", **auth_token(pipeline),
                **{"X-Account-Meta-Temp-URL-Key": KEY}).status_int == 204
    assert call(pipeline, ACCOUNT + "/up", "PUT", **auth_token(pipeline)).status_int == 201
    return pipeline


def signed_fields(path, redirect="", max_file_size=1024, max_file_count=3, expires=None,
                  key=KEY, digest=hashlib.sha256):
    expires = expires or int(time.time()) + 600
    body = f"{path}\n{redirect}\n{max_file_size}\n{max_file_count}\n{expires}"
    fields = [("redirect", redirect)] if redirect else []
    fields += [("max_file_size", str(max_file_size)), ("max_file_count", str(max_file_count)),
               ("expires", str(expires)),
               ("signature", hmac.new(key.encode(), body.encode(), digest).hexdigest())]
    return fields


def post(app, path, fields, files=(), **headers):
    parts = list(fields) + [(name, (filename, data, "text/plain")) for name, filename, data in files]
    body, content_type = encode_multipart_formdata(parts)
    return call(app, path, "POST", body, **{"Content-Type": content_type}, **headers)


def test_upload_two_files_into_a_prefix(app):
    path = ACCOUNT + "/up/pre-"
    resp = post(app, path, signed_fields(path),
                [("file1", "a.txt", b"first"), ("file2", "b.txt", b"second")])
    assert (resp.status_int, resp.body) == (201, b"201 Created")
    assert call(app, ACCOUNT + "/up/pre-a.txt", **auth_token(app)).body == b"first"
    got = call(app, ACCOUNT + "/up/pre-b.txt", **auth_token(app))
    assert got.body == b"second" and got.headers["Content-Type"].startswith("text/plain")


def test_container_root_action_and_redirect(app):
    path = ACCOUNT + "/up"
    resp = post(app, path, signed_fields(path, redirect="https://site.example/done?x=1"),
                [("file", "root.txt", b"r")])
    assert resp.status_int == 303
    assert resp.headers["Location"] == "https://site.example/done?x=1&status=201&message="
    assert b"Click to continue..." in resp.body
    assert call(app, ACCOUNT + "/up/root.txt", **auth_token(app)).body == b"r"


def test_sha512_base64_and_sha1_refused_by_default(app):
    import base64
    path = ACCOUNT + "/up/"
    fields = signed_fields(path, digest=hashlib.sha512)
    raw = bytes.fromhex(fields[-1][1])
    fields[-1] = ("signature", "sha512:" + base64.b64encode(raw).decode())
    assert post(app, path, fields, [("f", "b64.txt", b"x")]).status_int == 201
    resp = post(app, path, signed_fields(path, digest=hashlib.sha1), [("f", "s1.txt", b"x")])
    assert (resp.status_int, resp.body) == (401, b"FormPost: Invalid Signature")


def test_bad_signature_expired_and_no_key(app):
    path = ACCOUNT + "/up/"
    for fields, body in ((signed_fields(path, key="wrong"), b"FormPost: Invalid Signature"),
                         (signed_fields(path, expires=int(time.time()) - 5), b"FormPost: Form Expired"),
                         (signed_fields(ACCOUNT + "/up/other"), b"FormPost: Invalid Signature")):
        resp = post(app, path, fields, [("f", "x.txt", b"x")])
        assert (resp.status_int, resp.body) == (401, body)
    resp = post(app, "/v1/AUTH_nokeys/up/", signed_fields("/v1/AUTH_nokeys/up/"), [("f", "x", b"x")])
    assert resp.status_int == 401
    assert call(app, ACCOUNT + "/up/x.txt", **auth_token(app)).status_int == 404


def test_limits(app):
    path = ACCOUNT + "/up/"
    resp = post(app, path, signed_fields(path, max_file_count=1),
                [("f1", "one.txt", b"1"), ("f2", "two.txt", b"2")])
    assert (resp.status_int, resp.body) == (400, b"400 Bad Request\r\nFormPost: Max File Count Exceeded")
    assert call(app, ACCOUNT + "/up/one.txt", **auth_token(app)).body == b"1"
    assert call(app, ACCOUNT + "/up/two.txt", **auth_token(app)).status_int == 404
    resp = post(app, path, signed_fields(path, max_file_size=10), [("f", "big.txt", b"x" * 11)])
    assert (resp.status_int, resp.body) == (400, b"FormPost: max_file_size exceeded")
    assert call(app, ACCOUNT + "/up/big.txt", **auth_token(app)).status_int == 404  # nothing stored
    resp = post(app, path, signed_fields(path, max_file_size=10), [("f", "ten.txt", b"x" * 10)])
    assert resp.status_int == 201
    resp = post(app, path, signed_fields(path))
    assert (resp.status_int, resp.body) == (400, b"400 Bad Request\r\nFormPost: No Files To Process")
    fields = [(k, "ten" if k == "max_file_size" else v) for k, v in signed_fields(path)]
    resp = post(app, path, fields, [("f", "t.txt", b"x")])
    assert (resp.status_int, resp.body) == (400, b"FormPost: max_file_size not an integer")


def test_delete_after_and_content_fields(app):
    path = ACCOUNT + "/up/"
    fields = signed_fields(path) + [("x_delete_after", "3600"), ("content-type", "image/png"),
                                    ("content-encoding", "gzip")]
    assert post(app, path, fields, [("f", "pic.png", b"png")]).status_int == 201
    head = call(app, ACCOUNT + "/up/pic.png", "HEAD", **auth_token(app))
    assert head.headers["Content-Type"] == "image/png"
    assert head.headers["Content-Encoding"] == "gzip"
    assert int(head.headers["X-Delete-At"]) > time.time() + 3000
    resp = post(app, path, signed_fields(path) + [("x_delete_at", "soon")], [("f", "p", b"x")])
    assert (resp.status_int, resp.body) == \
        (400, b"FormPost: x_delete_at not an integer: Unix timestamp required.")


def test_malformed_bodies_are_400(app):
    resp = call(app, ACCOUNT + "/up/", "POST", b"not multipart at all",
                **{"Content-Type": "multipart/form-data; boundary=XyZ"})
    assert (resp.status_int, resp.body) == (400, b"FormPost: invalid starting boundary")
    truncated = b"--XyZ\r\nContent-Disposition: form-data; name=\"expires\"\r\n\r\n123"
    resp = call(app, ACCOUNT + "/up/", "POST", truncated,
                **{"Content-Type": "multipart/form-data; boundary=XyZ"})
    assert resp.status_int == 400 and resp.body.startswith(b"FormPost: ")


def test_other_posts_pass_through(app):
    assert call(app, ACCOUNT + "/up", "POST", **auth_token(app), **{"X-Container-Meta-A": "b"}).status_int == 204
    info = json.loads(call(app, "/info").body)
    assert info["formpost"] == {"allowed_digests": ["sha256", "sha512"]}


def test_form_data_parser_streams_parts_across_chunk_edges():
    boundary = "b0und"
    big = bytes(range(256)) * 1000  # spans several reads; holds CR LF and dashes
    body = (f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n"
            f"--{boundary}  \r\nContent-Disposition: form-data; name=\"f\"; filename=\"x;y.bin\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + big + \
        f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"empty\"\r\n\r\n\r\n--{boundary}--\r\n".encode()
    parts = []
    for part in iter_form_parts(io.BytesIO(body), boundary):
        data = b""
        while chunk := part.read(7777):
            data += chunk
        parts.append((part.name, part.filename, data))
    assert parts == [("a", None, b"value"), ("f", "x;y.bin", big), ("empty", None, b"")]
    with pytest.raises(FormDataError, match="no closing boundary"):
        list(part.read() for part in iter_form_parts(io.BytesIO(body[:-100]), boundary))


def test_header_params():
    assert parse_header_params('form-data; name="file1"; filename="a \\"b\\".txt"') == \
        ("form-data", {"name": "file1", "filename": 'a "b".txt'})
    assert parse_header_params("multipart/form-data; boundary=----x") == \
        ("multipart/form-data", {"boundary": "----x"})
