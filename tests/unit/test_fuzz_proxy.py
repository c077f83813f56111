"""Hostile values in every header and query parameter the proxy pipeline reads
(tempauth, DLO, SLO, copy and the controllers): a 4xx with a reason (or the
normal answer when the value happens to be valid), never a 5xx, and a refused
request stores or changes nothing on any storage node."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from proxy.pipeline import load_pipeline
from tests.unit.hostile import FUZZ, NAMES, STRUCTURED, assert_refused_or_served, hostile_text, request
from tests.unit.proxy_fakes import make_app, make_conf

URL = "/v1/AUTH_test"
OBJECT_HEADERS = [
    "Content-Length", "Transfer-Encoding", "Content-Type", "ETag", "Range", "If-Match",
    "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "X-Delete-At", "X-Delete-After",
    "X-If-Delete-At", "Destination", "Destination-Account", "X-Copy-From", "X-Copy-From-Account",
    "X-Object-Manifest", "X-Static-Large-Object", "X-Fresh-Metadata", "X-Newest",
    "X-Object-Meta-Color", "X-Detect-Content-Type", "Origin", "Access-Control-Request-Method",
    "Access-Control-Request-Headers", "X-Timestamp", "X-Backend-Storage-Policy-Index"]
CONTAINER_HEADERS = [
    "X-Container-Read", "X-Container-Write", "X-Container-Meta-Color", "X-Remove-Container-Meta-Color",
    "X-Storage-Policy", "X-Versions-Location", "X-Container-Sync-Key", "X-Newest", "Accept",
    "X-Container-Meta-Temp-Url-Key"]
ACCOUNT_HEADERS = ["X-Account-Access-Control", "X-Account-Meta-Color", "X-Remove-Account-Meta-Color",
                   "X-Account-Meta-Temp-Url-Key", "Accept"]
QUERY = ["multipart-manifest", "part-number", "format", "limit", "marker", "end_marker", "prefix",
         "delimiter", "reverse", "path", "symlink"]


@pytest.fixture(scope="module")
def proxy():
    conf = make_conf("catch_errors gatekeeper tempauth dlo slo copy proxy-server",
                     account_autocreate="true")
    conf["filter:tempauth"] = {"user_test_tester": "testing .admin"}
    app, cluster = make_app(conf)
    pipeline = load_pipeline(conf, app)
    token = request(pipeline, "GET", "/auth/v1.0",
                    {"X-Auth-User": "test:tester", "X-Auth-Key": "testing"}).headers["X-Auth-Token"]
    auth = {"X-Auth-Token": token}

    def setup(method, path, body=None, **headers):
        resp = request(pipeline, method, URL + path, {**auth, **headers}, body,
                       query="multipart-manifest=put" if path == "/c/slo" else "")
        assert resp.status_int in (201, 202, 204), (path, resp.status, resp.body)

    setup("PUT", "/c")
    setup("PUT", "/c/o", b"object body")
    setup("PUT", "/c/seg1", b"a" * 10)
    setup("PUT", "/c/seg2", b"b" * 10)
    setup("PUT", "/c/slo", json.dumps([{"path": "/c/seg1"}, {"path": "/c/seg2"}]).encode())
    setup("PUT", "/c/dlo", b"", **{"X-Object-Manifest": "c/seg"})
    setup("POST", "", **{"X-Account-Access-Control": '{"read-only": ["test:someone"]}'})
    return pipeline, cluster, auth


def stored(cluster) -> dict:
    """Every record on every fake storage node."""
    return {(key, path): (rec.timestamp, rec.deleted, sorted(rec.headers.items()), rec.body)
            for key, node in cluster.nodes.items() for path, rec in node.records.items()}


def send(proxy, method: str, path: str, headers: dict[str, str], body: bytes | None = None,
         query: str = ""):
    app, cluster, auth = proxy
    before = stored(cluster)
    resp = request(app, method, URL + path, {**auth, **headers}, body, query)
    assert_refused_or_served(resp, method)
    # a DELETE that finds nothing is 404 and may still record its tombstones
    if resp.status_int >= 400 and (method, resp.status_int) != ("DELETE", 404):
        assert stored(cluster) == before
    return resp


def query_string(params: dict[str, str]) -> str:
    """Raw, unquoted: the hostile bytes are what the proxy must cope with."""
    return "&".join(f"{key}={value}" for key, value in params.items())


OBJECTS = st.sampled_from(["/c/o", "/c/slo", "/c/dlo", "/c/new"])


@FUZZ
@given(method=st.sampled_from(["PUT", "POST", "GET", "HEAD", "COPY", "DELETE", "OPTIONS"]),
       obj=OBJECTS,
       headers=st.dictionaries(st.sampled_from(OBJECT_HEADERS), hostile_text, min_size=1, max_size=3))
def test_object_hostile_headers(proxy, method, obj, headers):
    if method == "OPTIONS":
        headers.setdefault("Origin", "http://example.com")
    send(proxy, method, obj, headers, b"new body" if method == "PUT" else None)


@FUZZ
@given(method=st.sampled_from(["PUT", "POST", "GET", "HEAD"]),
       headers=st.dictionaries(st.sampled_from(CONTAINER_HEADERS), hostile_text, min_size=1, max_size=3))
def test_container_hostile_headers(proxy, method, headers):
    send(proxy, method, "/c", headers)


@FUZZ
@given(method=st.sampled_from(["POST", "GET", "HEAD"]),
       headers=st.dictionaries(st.sampled_from(ACCOUNT_HEADERS), hostile_text, min_size=1, max_size=3))
def test_account_hostile_headers(proxy, method, headers):
    send(proxy, method, "", headers)


@FUZZ
@given(method=st.sampled_from(["PUT", "GET", "HEAD", "DELETE"]),
       path=st.sampled_from(["", "/c", "/c/o", "/c/slo", "/c/dlo"]),
       params=st.dictionaries(st.sampled_from(QUERY), hostile_text, min_size=1, max_size=3))
def test_hostile_query_parameters(proxy, method, path, params):
    send(proxy, method, path, {}, b"[]" if method == "PUT" else None, query_string(params))


@FUZZ
@given(method=st.sampled_from(["PUT", "GET", "HEAD", "POST", "DELETE", "COPY"]),
       name=st.sampled_from(NAMES), where=st.sampled_from(["container", "object"]))
def test_hostile_names_in_the_path(proxy, method, name, where):
    path = f"/{name}/o" if where == "container" else f"/c/{name}"
    send(proxy, method, path, {"Destination": "c/copy"} if method == "COPY" else {},
         b"x" if method == "PUT" else None)


@FUZZ
@given(name=st.sampled_from(NAMES), header=st.sampled_from(
    ["Destination", "Destination-Account", "X-Copy-From", "X-Copy-From-Account", "X-Object-Manifest"]))
def test_hostile_names_in_headers_are_400(proxy, name, header):
    """An invalid account or container name in any header naming one is refused
    with 400 before any storage node is asked."""
    value = name if header.endswith("Account") else f"{name}/o"
    method = "COPY" if header.startswith("Destination") else "PUT"
    headers = {header: value}
    if header == "Destination-Account":
        headers["Destination"] = "c/copy"
    if name in ("..", ".", "\x00", "caf\xc3", "\xff\xfe", "a" * 300, "a" * 5000) and \
            not (header == "X-Object-Manifest" and name in ("a" * 300,)):
        assert send(proxy, method, "/c/o", headers, b"x" if method == "PUT" else None).status_int == 400
    else:
        send(proxy, method, "/c/o", headers, b"x" if method == "PUT" else None)


@FUZZ
@given(manifest=st.one_of(
    st.sampled_from(STRUCTURED),
    st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-10 ** 30, 10 ** 30), st.floats(),
                           st.text(max_size=10)),
                 lambda children: st.lists(children, max_size=3) | st.dictionaries(
                     st.sampled_from(["path", "etag", "size_bytes", "range", "data", "x"]), children,
                     max_size=4), max_leaves=10).map(json.dumps)))
def test_hostile_slo_manifests(proxy, manifest):
    send(proxy, "PUT", "/c/new-slo", {}, manifest.encode("utf-8", "surrogatepass"),
         "multipart-manifest=put")
