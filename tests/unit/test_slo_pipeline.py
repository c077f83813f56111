"""tempauth, SLO and copy through the real proxy app and pipeline loader
(over the proxy's in-memory storage nodes: no sockets)."""
import json

import pytest

from proxy.pipeline import load_pipeline
from tests.unit.proxy_fakes import call, make_app, make_conf

URL = "/v1/AUTH_test"


@pytest.fixture
def app():
    conf = make_conf("catch_errors gatekeeper tempauth dlo slo copy proxy-server",
                     account_autocreate="true")
    conf["filter:tempauth"] = {"user_test_tester": "testing .admin", "user_test_tester3": "testing3"}
    proxy, _ = make_app(conf)
    return load_pipeline(conf, proxy)


def token(app, user="test:tester", key="testing"):
    resp = call(app, "/auth/v1.0", **{"X-Auth-User": user, "X-Auth-Key": key})
    assert resp.status_int == 200
    return {"X-Auth-Token": resp.headers["X-Auth-Token"]}


def test_auth_and_acls_through_proxy(app):
    admin, tester3 = token(app), token(app, "test:tester3", "testing3")
    assert call(app, URL + "/c", "PUT").status_int == 401
    assert call(app, URL + "/c", "PUT", **admin).status_int == 201
    assert call(app, URL + "/c/o", "PUT", b"data", **admin).status_int == 201
    assert call(app, URL + "/c/o", **tester3).status_int == 403
    assert call(app, URL + "/c", "POST", **admin, **{"X-Container-Read": "test:tester3"}).status_int == 204
    assert call(app, URL + "/c/o", **tester3).body == b"data"
    assert call(app, URL + "/c/o", "PUT", b"x", **tester3).status_int == 403
    assert call(app, URL + "/c", "POST", **admin, **{"X-Container-Read": ".r:*"}).status_int == 204
    assert call(app, URL + "/c/o").body == b"data"
    assert call(app, URL + "/c").status_int == 401  # no .rlistings
    info = json.loads(call(app, "/info").body)
    assert info["tempauth"] == {"account_acls": True}
    assert info["slo"]["max_manifest_segments"] == 1000


def test_slo_and_copy_through_proxy(app):
    admin = token(app)
    call(app, URL + "/c", "PUT", **admin)
    segs, content = [], b""
    for i in range(3):
        data = bytes([65 + i]) * 1000
        resp = call(app, URL + f"/c/seg{i}", "PUT", data, **admin)
        segs.append({"path": f"/c/seg{i}", "etag": resp.headers["Etag"], "size_bytes": 1000})
        content += data
    resp = call(app, URL + "/c/big?multipart-manifest=put", "PUT", json.dumps(segs).encode(), **admin)
    assert resp.status_int == 201
    etag = resp.headers["Etag"]
    got = call(app, URL + "/c/big", **admin)
    assert got.body == content and got.headers["Etag"] == etag
    assert not [k for k in got.headers if k.lower().startswith("x-object-sysmeta")]
    head = call(app, URL + "/c/big", "HEAD", **admin)
    assert head.headers["Content-Length"] == "3000" and head.headers["Etag"] == etag
    assert call(app, URL + "/c/big", Range="bytes=990-2010", **admin).body == content[990:2011]
    # clients cannot fake a large object or its sysmeta
    resp = call(app, URL + "/c/fake", "PUT", b"[]", **admin, **{"X-Static-Large-Object": "true"})
    assert resp.status_int == 400
    resp = call(app, URL + "/c/copy", "COPY", **admin, Destination="c/flat")
    assert resp.status_int == 404
    resp = call(app, URL + "/c/big", "COPY", **admin, Destination="c/flat")
    assert resp.status_int == 201 and resp.headers["X-Copied-From"] == "c/big"
    assert call(app, URL + "/c/flat", **admin).body == content
    resp = call(app, URL + "/c/big?multipart-manifest=delete", "DELETE", **admin)
    assert b"Number Deleted: 4" in resp.body
    listing = call(app, URL + "/c?format=json", **admin)
    assert [e["name"] for e in json.loads(listing.body)] == ["flat"]


def test_copy_of_corrupted_slo_aborts_the_put(app):
    admin = token(app)
    call(app, URL + "/c", "PUT", **admin)
    segs = []
    for i in range(2):
        resp = call(app, URL + f"/c/seg{i}", "PUT", bytes([65 + i]) * 70000, **admin)
        segs.append({"path": f"/c/seg{i}", "etag": resp.headers["Etag"], "size_bytes": 70000})
    call(app, URL + "/c/big?multipart-manifest=put", "PUT", json.dumps(segs).encode(), **admin)
    call(app, URL + "/c/seg1", "PUT", b"Z" * 70000, **admin)  # replaced after the manifest
    resp = call(app, URL + "/c/big", "COPY", **admin, Destination="c/flat")
    assert resp.status_int == 409 and b"seg1" in resp.body
    assert call(app, URL + "/c/flat", **admin).status_int == 404
