"""Temp URLs through the real proxy app and pipeline (tempurl left of tempauth, DLO/SLO
right of it), signed by python-swiftclient's ``generate_temp_url`` as a real client does."""
import base64
import hashlib
import hmac
import json
import time

import pytest
from swiftclient.utils import generate_temp_url

from objstore.common.config import ConfigError
from objstore.common.tempurl_signature import parse_expires, parse_signature, sign, temp_url_body
from proxy.middleware.tempurl import Settings
from tests.unit.proxy_fakes import auth_token, call, make_pipeline

ACCOUNT = "/v1/AUTH_test"
KEY = "mykey"


@pytest.fixture
def app():
    pipeline = make_pipeline("catch_errors gatekeeper tempurl tempauth dlo slo copy proxy-server",
                             tempurl={"allowed_digests": "sha1 sha256 sha512"})
    admin = auth_token(pipeline)
    assert call(pipeline, ACCOUNT, "POST", **admin, **{"X-Account-Meta-Temp-URL-Key": KEY}).status_int == 204
    assert call(pipeline, ACCOUNT + "/c", "PUT", **admin).status_int == 201
    assert call(pipeline, ACCOUNT + "/c/obj", "PUT", b"obj contents", **admin,
                **{"X-Object-Meta-Secret": "s", "X-Object-Meta-Public-Color": "red"}).status_int == 201
    return pipeline


def url(path, method="GET", key=KEY, seconds=600, **options):
    return generate_temp_url(path, seconds, key, method, **options)


def test_get_and_head_with_a_swiftclient_url(app):
    signed = url(ACCOUNT + "/c/obj")
    got = call(app, signed)
    assert got.status_int == 200 and got.body == b"obj contents"
    assert got.headers["Content-Disposition"] == 'attachment; filename="obj"; filename*=UTF-8\'\'obj'
    assert got.headers["Expires"].endswith("GMT")
    # object metadata is hidden, but for X-Object-Meta-Public-*
    assert "X-Object-Meta-Secret" not in got.headers
    assert got.headers["X-Object-Meta-Public-Color"] == "red"
    assert call(app, signed, "HEAD").status_int == 200  # a GET URL allows HEAD
    assert call(app, signed, "PUT", b"x").status_int == 401  # but not PUT
    assert call(app, signed, "DELETE").status_int == 401


@pytest.mark.parametrize("options", [{"digest": "sha1"}, {"digest": "sha512"},
                                     {"iso8601": True}, {"absolute": False}])
def test_digests_and_expiry_formats(app, options):
    assert call(app, url(ACCOUNT + "/c/obj", **options)).body == b"obj contents"


def test_base64_signatures_padded_unpadded_and_url_safe():
    raw = hmac.new(b"k", b"body", hashlib.sha512).digest()
    for encoded in (base64.b64encode(raw).decode(), base64.b64encode(raw).decode().rstrip("="),
                    base64.urlsafe_b64encode(raw).decode()):
        assert parse_signature("sha512:" + encoded) == ("sha512", raw.hex())
    for bad in ("sha512:!!!", "md5:AAAA", "sha256:" + base64.b64encode(raw).decode(), "abc"):
        with pytest.raises(ValueError):
            parse_signature(bad)


def test_expires_forms():
    assert parse_expires("1700000000") == 1700000000
    assert parse_expires("2023-11-14T22:13:20Z") == 1700000000
    for bad in ("", "-5", "1e9", "2023-11-14 22:13:20", "9" * 30):
        assert parse_expires(bad) is None


def test_invalid_urls_are_401_with_swift_body(app):
    good = url(ACCOUNT + "/c/obj")
    path, query = good.split("?")
    params = dict(part.split("=", 1) for part in query.split("&"))
    sig, expires = params["temp_url_sig"], params["temp_url_expires"]
    flipped = ("a" if sig[0] != "a" else "b") + sig[1:]
    cases = [
        f"{path}?temp_url_sig={flipped}&temp_url_expires={expires}",
        f"{path}?temp_url_sig={sig}&temp_url_expires={int(expires) + 1}",
        f"{path}?temp_url_sig={sig}",
        f"{path}?temp_url_expires={expires}",
        f"{ACCOUNT}/c/other?temp_url_sig={sig}&temp_url_expires={expires}",
        url(ACCOUNT + "/c/obj", seconds=int(time.time()) - 10, absolute=True),
        url(ACCOUNT + "/c/obj", key="wrong"),
        url(ACCOUNT + "/c/obj", digest="sha256").replace("temp_url_sig=", "temp_url_sig=md5:"),
    ]
    for case in cases:
        resp = call(app, case)
        assert resp.status_int == 401, case
        assert resp.body == b"401 Unauthorized: Temp URL invalid\n"
        assert resp.headers["Www-Authenticate"] == 'Swift realm="AUTH_test"'


def test_disallowed_digest_is_refused():
    app = make_pipeline("catch_errors gatekeeper tempurl tempauth proxy-server")
    call(app, ACCOUNT, "POST", **auth_token(app), **{"X-Account-Meta-Temp-URL-Key": KEY})
    call(app, ACCOUNT + "/c", "PUT", **auth_token(app))
    call(app, ACCOUNT + "/c/obj", "PUT", b"x", **auth_token(app))
    assert call(app, url(ACCOUNT + "/c/obj", digest="sha256")).status_int == 200
    assert call(app, url(ACCOUNT + "/c/obj", digest="sha1")).status_int == 401  # Swift's default


def test_put_url_writes_and_refuses_pointer_headers(app):
    signed = url(ACCOUNT + "/c/new", "PUT")
    assert call(app, signed, "PUT", b"new contents").status_int == 201
    assert call(app, signed, "HEAD").status_int == 200  # a PUT URL allows HEAD
    assert call(app, ACCOUNT + "/c/new", **auth_token(app)).body == b"new contents"
    for header in ("X-Object-Manifest", "X-Symlink-Target", "X-Copy-From"):
        resp = call(app, signed, "PUT", b"", **{header: "c/obj"})
        assert resp.status_int == 400
        assert resp.body == f"The header '{header}' is not allowed in this tempurl".encode()


def test_incoming_x_timestamp_is_removed(app):
    signed = url(ACCOUNT + "/c/ts", "PUT")
    assert call(app, signed, "PUT", b"x", **{"X-Timestamp": "1000000000.00000"}).status_int == 201
    head = call(app, ACCOUNT + "/c/ts", "HEAD", **auth_token(app))
    assert float(head.headers["X-Timestamp"]) > time.time() - 600


def test_prefix_urls(app):
    call(app, ACCOUNT + "/c/pre-a", "PUT", b"a", **auth_token(app))
    signed = url(ACCOUNT + "/c/pre", prefix=True)
    query = signed.split("?", 1)[1]
    assert call(app, f"{ACCOUNT}/c/pre-a?{query}").body == b"a"
    assert call(app, f"{ACCOUNT}/c/obj?{query}").status_int == 401  # outside the prefix
    without_prefix = "&".join(p for p in query.split("&") if not p.startswith("temp_url_prefix"))
    assert call(app, f"{ACCOUNT}/c/pre-a?{without_prefix}").status_int == 401
    empty = url(ACCOUNT + "/c/", prefix=True).split("?", 1)[1]
    assert call(app, f"{ACCOUNT}/c/obj?{empty}").body == b"obj contents"
    # a container root is only for staticweb listings
    assert call(app, f"{ACCOUNT}/c/?{empty}").status_int == 401


def test_ip_range(app):
    inside = url(ACCOUNT + "/c/obj", ip_range="127.0.0.0/8")
    outside = url(ACCOUNT + "/c/obj", ip_range="10.1.2.3")
    from webob import Request
    ok = Request.blank(inside, environ={"REMOTE_ADDR": "127.0.0.5"}).get_response(app)
    assert ok.status_int == 200
    denied = Request.blank(outside, environ={"REMOTE_ADDR": "127.0.0.5"}).get_response(app)
    assert denied.status_int == 401
    malformed = url(ACCOUNT + "/c/obj", ip_range="127.0.0.1").replace("127.0.0.1", "127.0.0.1/99")
    assert Request.blank(malformed, environ={"REMOTE_ADDR": "127.0.0.1"}).get_response(app).status_int == 401


def test_filename_and_inline(app):
    signed = url(ACCOUNT + "/c/obj")
    named = call(app, signed + "&filename=My+Test+File.pdf")
    assert named.headers["Content-Disposition"] == \
        'attachment; filename="My Test File.pdf"; filename*=UTF-8\'\'My%20Test%20File.pdf'
    assert call(app, signed + "&inline").headers["Content-Disposition"] == "inline"
    assert call(app, signed + "&inline&filename=a.txt").headers["Content-Disposition"] == \
        'inline; filename="a.txt"; filename*=UTF-8\'\'a.txt'


def test_container_key_reaches_only_its_container(app):
    admin = auth_token(app)
    call(app, ACCOUNT + "/c", "POST", **admin, **{"X-Container-Meta-Temp-URL-Key": "ckey"})
    call(app, ACCOUNT + "/segs", "PUT", **admin)
    call(app, ACCOUNT + "/segs/s1", "PUT", b"one ", **admin)
    call(app, ACCOUNT + "/c/s1", "PUT", b"inside ", **admin)
    call(app, ACCOUNT + "/c/outside", "PUT", b"", **admin, **{"X-Object-Manifest": "segs/s"})
    call(app, ACCOUNT + "/c/inside", "PUT", b"", **admin, **{"X-Object-Manifest": "c/s"})
    assert call(app, url(ACCOUNT + "/c/inside", key="ckey")).body == b"inside "
    assert call(app, url(ACCOUNT + "/c/outside", key="ckey")).status_int == 401
    # the account key reaches the whole account
    assert call(app, url(ACCOUNT + "/c/outside")).body == b"one "
    # container keys are shown to the owner only (test2 may read c)
    call(app, ACCOUNT + "/c", "POST", **admin, **{"X-Container-Read": "test2"})
    assert call(app, ACCOUNT + "/c", "HEAD", **admin).headers["X-Container-Meta-Temp-Url-Key"] == "ckey"
    other = call(app, ACCOUNT + "/c", "HEAD", **auth_token(app, "test2:tester2", "testing2"))
    assert other.status_int == 204 and "X-Container-Meta-Temp-Url-Key" not in other.headers


def test_slo_through_a_temp_url(app):
    admin = auth_token(app)
    segs = []
    for i in range(2):
        data = bytes([65 + i]) * 1000
        resp = call(app, ACCOUNT + f"/c/seg{i}", "PUT", data, **admin)
        segs.append({"path": f"/c/seg{i}", "etag": resp.headers["Etag"], "size_bytes": 1000})
    call(app, ACCOUNT + "/c/big?multipart-manifest=put", "PUT", json.dumps(segs).encode(), **admin)
    got = call(app, url(ACCOUNT + "/c/big"))
    assert got.body == b"A" * 1000 + b"B" * 1000
    # other query parameters are dropped: no manifest through a temp URL
    assert call(app, url(ACCOUNT + "/c/big") + "&multipart-manifest=get").body == got.body


def test_no_keys_and_other_requests_pass_through(app):
    assert call(app, url("/v1/AUTH_test2/c/obj")).status_int == 401  # no key on that account
    assert call(app, ACCOUNT + "/c/obj").status_int == 401  # anonymous, no temp URL: auth decides
    assert call(app, ACCOUNT + "/c/obj", **auth_token(app)).status_int == 200


def test_info_section(app):
    info = json.loads(call(app, "/info").body)["tempurl"]
    assert info == {"methods": ["GET", "HEAD", "PUT", "POST", "DELETE"],
                    "incoming_remove_headers": ["x-timestamp", "x-open-expired"],
                    "incoming_allow_headers": [],
                    "outgoing_remove_headers": ["x-object-meta-*"],
                    "outgoing_allow_headers": ["x-object-meta-public-*"],
                    "allowed_digests": ["sha1", "sha256", "sha512"],
                    "deprecated_digests": ["sha1"]}


def test_bad_digest_config_is_a_config_error():
    with pytest.raises(ConfigError, match="md5"):
        Settings.from_options({"allowed_digests": "sha256 md5"})


def test_signature_helpers_match_swift_documentation():
    # Swift's tempurl documentation: this body and key give this signature
    body = temp_url_body("GET", 1512508563, "/v1/AUTH_account/container/object")
    assert body == "GET\n1512508563\n/v1/AUTH_account/container/object"
    assert temp_url_body("GET", 1, "/p", "1.2.3.4") == "ip=1.2.3.4\nGET\n1\n/p"
    assert sign(b"mykey", body, "sha256") == hmac.new(b"mykey", body.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("options", [[], ["--digest", "sha512"], ["--digest", "sha1", "--iso8601"]])
def test_objstore_cli_signs_urls_the_proxy_accepts(app, capsys, options):
    from client.cli import main
    assert main(["tempurl", *options, "GET", "10m", ACCOUNT + "/c/obj", KEY]) == 0
    signed = capsys.readouterr().out.strip()
    assert call(app, signed).body == b"obj contents"
    assert main(["tempurl", "--prefix-based", "PUT", "1h", ACCOUNT + "/c/up-", KEY]) == 0
    prefix_url = capsys.readouterr().out.strip()
    assert call(app, prefix_url.replace("/c/up-?", "/c/up-1?"), "PUT", b"up").status_int == 201


def test_objstore_cli_time_forms_and_errors(capsys):
    from client.cli import main
    from client.tempurl import expiry
    assert expiry("90", False, now=1000) == 1090
    assert expiry("2d", False, now=1000) == 1000 + 2 * 86400
    assert expiry("5000", True) == 5000
    assert expiry("2023-11-14T22:13:20Z", False) == 1700000000
    assert main(["tempurl", "GET", "soon", ACCOUNT + "/c/obj", KEY]) == 1
    assert "must be seconds" in capsys.readouterr().err
    assert main(["tempurl", "GET", "60", ACCOUNT + "/c", KEY]) == 1
    assert "must be /v1/<account>/<container>/<object>" in capsys.readouterr().err
    assert main(["tempurl", "FETCH", "60", ACCOUNT + "/c/o", KEY]) == 1
