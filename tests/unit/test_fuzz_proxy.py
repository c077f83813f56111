"""Hostile values in every header and query parameter the proxy pipeline reads
(tempauth, DLO, SLO, copy and the controllers), each header on its own so
every one meets every method: a 4xx with a reason (or the normal answer when
the value happens to be valid, or is ignored as Swift ignores it), never a 5xx,
and a refused request (or any read) stores or changes nothing on any storage node."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from proxy.pipeline import load_pipeline
from tests.unit.hostile import FUZZ, NAMES, STRUCTURED, assert_refused_or_served, hostile_text, request
from tests.unit.proxy_fakes import make_app, make_conf

URL = "/v1/AUTH_test"
READ_HEADERS = ["Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
                "X-Newest", "Accept"]
WRITE_HEADERS = ["Content-Length", "Transfer-Encoding", "Content-Type", "ETag", "X-Delete-At",
                 "X-Delete-After", "X-If-Delete-At", "X-Object-Manifest", "X-Static-Large-Object",
                 "X-Object-Meta-Color", "X-Remove-Object-Meta-Color", "X-Detect-Content-Type",
                 "Content-Encoding", "Content-Disposition", "X-Timestamp",
                 "X-Backend-Storage-Policy-Index", "X-Object-Sysmeta-Thing", "X-Fresh-Metadata"]
COPY_HEADERS = ["Destination", "Destination-Account", "X-Copy-From", "X-Copy-From-Account"]
CLIENT_HEADERS = ["X-Auth-Token", "X-Storage-Token", "Origin", "Access-Control-Request-Method",
                  "Access-Control-Request-Headers", "X-Trans-Id-Extra", "Expect"]
OBJECT_HEADERS = READ_HEADERS + WRITE_HEADERS + COPY_HEADERS + CLIENT_HEADERS
CONTAINER_HEADERS = [
    "X-Container-Read", "X-Container-Write", "X-Container-Meta-Color", "X-Remove-Container-Meta-Color",
    "X-Storage-Policy", "X-Backend-Storage-Policy-Index", "X-Versions-Location",
    "X-Container-Sync-Key", "X-Container-Sync-To", "X-Container-Meta-Temp-Url-Key",
    "X-Container-Meta-Access-Control-Allow-Origin", "X-Newest", "Accept", "X-Auth-Token"]
ACCOUNT_HEADERS = ["X-Account-Access-Control", "X-Account-Meta-Color", "X-Remove-Account-Meta-Color",
                   "X-Account-Meta-Temp-Url-Key", "X-Newest", "Accept", "X-Auth-Token"]
QUERY = ["multipart-manifest", "format", "part-number", "limit", "marker", "end_marker", "prefix",
         "delimiter", "reverse", "path", "symlink", "heartbeat"]
# what headers that name an object or an account may be sent
REFERENCES = ["c/o", "/c/o", "c/", "/", "../o", "c/../x", "%2e%2e/o", "c%00/o", "c/%ff", "c/%00",
              "%ff/o", "c/\xff", "c/" + "o" * 2000]
header_value = st.one_of(hostile_text, st.sampled_from(REFERENCES))
METHODS = st.sampled_from(["PUT", "POST", "GET", "HEAD", "COPY", "DELETE", "OPTIONS"])
PER_HEADER = settings(FUZZ, max_examples=12)


@pytest.fixture(scope="module")
def proxy():
    conf = make_conf("catch_errors gatekeeper healthcheck tempauth dlo slo copy proxy-server",
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
    setup("PUT", "/c/seg1", b"a" * 10)
    setup("PUT", "/c/seg2", b"b" * 10)
    setup("POST", "", **{"X-Account-Access-Control": '{"read-only": ["test:someone"]}'})

    def restore(path):
        body, headers = ORIGINALS[path]
        setup("PUT", path, body, **headers)

    return pipeline, cluster, auth, restore


# the objects the fuzzing may overwrite or delete, (re)written before each request to them
ORIGINALS = {"/c/o": (b"object body", {"X-Object-Meta-Color": "blue"}),
             "/c/slo": (json.dumps([{"path": "/c/seg1"}, {"path": "/c/seg2"}]).encode(), {}),
             "/c/dlo": (b"", {"X-Object-Manifest": "c/seg"})}


def stored(cluster) -> dict:
    """Every record on every fake storage node."""
    return {(key, path): (rec.timestamp, rec.deleted, sorted(rec.headers.items()), rec.body)
            for key, node in cluster.nodes.items() for path, rec in node.records.items()}


def send(proxy, method: str, path: str, headers: dict[str, str], body: bytes | None = None,
         query: str = ""):
    app, cluster, auth, restore = proxy
    if path in ORIGINALS:
        restore(path)
    before = stored(cluster)
    resp = request(app, method, URL + path, {**auth, **headers}, body, query)
    if resp.status_int == 501 and "Transfer-Encoding" in headers:
        # the one 5xx for client input, as RFC 7230 3.3.1 and Swift have it
        assert b"is not supported" in resp.body
    else:
        assert_refused_or_served(resp, method)
    # a DELETE that finds nothing is 404 and may still record its tombstones
    refused = resp.status_int >= 400 and (method, resp.status_int) != ("DELETE", 404)
    if refused or method in ("GET", "HEAD", "OPTIONS"):
        assert stored(cluster) == before, (method, path, headers, resp.status)
    return resp


def query_string(params: dict[str, str]) -> str:
    """Raw, unquoted: the hostile bytes are what the proxy must cope with."""
    return "&".join(f"{key}={value}" for key, value in params.items())


OBJECTS = st.sampled_from(["/c/o", "/c/slo", "/c/dlo", "/c/new"])


@pytest.mark.parametrize("header", OBJECT_HEADERS)
@PER_HEADER
@given(method=METHODS, obj=OBJECTS, value=header_value)
def test_object_header(proxy, header, method, obj, value):
    headers = {header: value}
    if method == "OPTIONS":
        headers.setdefault("Origin", "http://example.com")
    if method == "COPY" and header != "Destination":
        headers["Destination"] = "c/copy"
    if header == "X-Copy-From-Account":
        headers["X-Copy-From"] = "c/o"
    send(proxy, method, obj, headers, b"new body" if method == "PUT" and "X-Copy-From" not in headers
         else None)


@pytest.mark.parametrize("header", CONTAINER_HEADERS)
@PER_HEADER
@given(method=st.sampled_from(["PUT", "POST", "GET", "HEAD", "DELETE"]), value=header_value)
def test_container_header(proxy, header, method, value):
    send(proxy, method, "/c", {header: value})


@pytest.mark.parametrize("header", ACCOUNT_HEADERS)
@PER_HEADER
@given(method=st.sampled_from(["POST", "GET", "HEAD"]), value=header_value)
def test_account_header(proxy, header, method, value):
    send(proxy, method, "", {header: value})


@pytest.mark.parametrize("param", QUERY)
@PER_HEADER
@given(method=st.sampled_from(["PUT", "GET", "HEAD", "DELETE", "POST"]),
       path=st.sampled_from(["", "/c", "/c/o", "/c/slo", "/c/dlo"]), value=hostile_text)
def test_query_parameter(proxy, param, method, path, value):
    body = b"[]" if method == "PUT" and path.count("/") == 2 else None
    send(proxy, method, path, {}, body, query_string({param: value}))


@FUZZ
@given(headers=st.dictionaries(st.sampled_from(["X-Auth-User", "X-Auth-Key", "X-Storage-User",
                                                "X-Storage-Pass"]), hostile_text, min_size=1),
       path=st.sampled_from(["/auth/v1.0", "/auth/v1/test/auth", "/v1.0", "/auth/" + "\xff"]))
def test_hostile_credentials(proxy, headers, path):
    resp = request(proxy[0], "GET", path, headers)
    assert_refused_or_served(resp, "GET")
    assert resp.status_int == 200 or 400 <= resp.status_int < 500


@FUZZ
@given(method=st.sampled_from(["PUT", "GET", "HEAD", "POST", "DELETE", "COPY"]),
       name=st.sampled_from(NAMES), where=st.sampled_from(["container", "object"]))
def test_hostile_names_in_the_path(proxy, method, name, where):
    path = f"/{name}/o" if where == "container" else f"/c/{name}"
    send(proxy, method, path, {"Destination": "c/copy"} if method == "COPY" else {},
         b"x" if method == "PUT" else None)


# container (or account) names no cluster may have, as the headers below carry them
INVALID = ["..", ".", "\x00", "caf\xc3", "\xff\xfe", "a" * 300, "a" * 5000, "%00", "%2e%2e"]


@FUZZ
@given(name=st.sampled_from(NAMES + INVALID), header=st.sampled_from(
    ["Destination", "Destination-Account", "X-Copy-From", "X-Copy-From-Account", "X-Object-Manifest"]))
def test_hostile_names_in_headers_are_400(proxy, name, header):
    """An invalid account or container name in any header naming one is refused
    with 400, saying which header, before any storage node is asked."""
    names_account = header.endswith("Account")
    headers = {header: name if names_account else f"{name}/o"}
    method = "COPY" if header.startswith("Destination") else "PUT"
    if header == "Destination-Account":
        headers["Destination"] = "c/copy"
    if header == "X-Copy-From-Account":
        headers["X-Copy-From"] = "c/o"
    resp = send(proxy, method, "/c/o", headers, b"" if method == "PUT" else None)
    if names_account or name in INVALID:
        assert resp.status_int == 400 and header.encode() in resp.body, resp.body
    elif name != "a/b":  # "/o", "//o": no container at all (412, as Swift, or 400)
        assert 400 <= resp.status_int < 500


def test_failed_conditions_say_why(proxy):
    """The 412 that a hostile If-Match once got with an empty body says why;
    a 304 has no body, by HTTP's rules."""
    resp = send(proxy, "GET", "/c/o", {"If-Match": "\xff\x00nope"})
    assert resp.status_int == 412 and resp.body.strip()
    resp = send(proxy, "GET", "/c/slo", {"If-Match": "nope"})
    assert resp.status_int == 412 and b"If-Match" in resp.body
    resp = send(proxy, "GET", "/c/slo", {"If-None-Match": "*"})
    assert resp.status_int == 304 and resp.body == b""


def test_client_policy_index_is_ignored(proxy):
    """Only the container's stored policy counts: a client's
    X-Backend-Storage-Policy-Index is stripped by the gatekeeper."""
    resp = send(proxy, "GET", "/c/o", {"X-Backend-Storage-Policy-Index": "99"})
    assert resp.status_int == 200 and resp.body == b"object body"


SEGMENT_PATHS = [json.dumps([{"path": f"/{name}/seg1"}]) for name in NAMES] + [
    '[{"path": "/c/\\ud800"}]', '[{"path": "/\\udcff/o"}]', '[{"path": "/c/seg1\\u0000"}]']


@FUZZ
@given(manifest=st.one_of(
    st.sampled_from(STRUCTURED + SEGMENT_PATHS),
    st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-10 ** 30, 10 ** 30), st.floats(),
                           st.text(max_size=10)),
                 lambda children: st.lists(children, max_size=3) | st.dictionaries(
                     st.sampled_from(["path", "etag", "size_bytes", "range", "data", "x"]), children,
                     max_size=4), max_leaves=10).map(json.dumps)))
def test_hostile_slo_manifests(proxy, manifest):
    send(proxy, "PUT", "/c/new-slo", {}, manifest.encode("utf-8", "surrogatepass"),
         "multipart-manifest=put")
