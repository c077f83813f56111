"""Hostile values in every header and query parameter the object server reads:
a 4xx with a reason (or the normal answer when the value happens to be valid),
never a 5xx, and a refused request leaves the stored object as it was."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from objstore.common.timestamp import Timestamp
from tests.unit.hostile import FUZZ, NAMES, assert_refused_or_served, hostile_text, request
from tests.unit.obj_helpers import files_under, make_app, put

HEADERS = ["X-Timestamp", "Content-Length", "Content-Type", "ETag", "Transfer-Encoding", "Range",
           "X-Delete-At", "X-Delete-After", "X-If-Delete-At", "If-Match", "If-None-Match",
           "If-Modified-Since", "If-Unmodified-Since", 
           "X-Backend-Obj-Content-Length", "X-Backend-Obj-Metadata-Footer",
           "X-Backend-Obj-Multipart-Mime-Boundary", "X-Backend-Obj-Multiphase-Commit",
           "X-Backend-Etag-Is-At", "X-Container-Host", "X-Container-Partition", "X-Container-Device",
           "X-Object-Meta-Color", "X-Object-Sysmeta-Thing", "X-Trans-Id"]
PATH = "/sda/1/a/c/o"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-object-server")
    app = make_app(str(root))
    assert put(app, PATH, b"original", timestamp=Timestamp.now().internal).status_int == 201
    return app, root


def stored(root) -> list[str]:
    """What a refused request must not change: the object's files (temp files aside)."""
    return [f for f in files_under(root) if f.endswith((".data", ".ts", ".meta", ".durable"))]


def send(server, method: str, path: str, headers: dict[str, str], body: bytes = b"body"):
    app, root = server
    before = stored(root)
    base = {"X-Timestamp": Timestamp.now().internal, "Content-Type": "text/plain"}
    resp = request(app, method, path, {**base, **headers}, body if method == "PUT" else None)
    assert_refused_or_served(resp, method)
    # a DELETE that finds nothing still records its tombstone (404), as in Swift
    if resp.status_int >= 400 and (method, resp.status_int) != ("DELETE", 404):
        assert stored(root) == before
    return resp


@FUZZ
@given(method=st.sampled_from(["PUT", "POST", "GET", "HEAD", "DELETE"]),
       headers=st.dictionaries(st.sampled_from(HEADERS), hostile_text, min_size=1, max_size=3))
def test_hostile_headers(server, method, headers):
    send(server, method, PATH, headers)


@FUZZ
@given(method=st.sampled_from(["PUT", "GET", "HEAD", "DELETE", "REPLICATE"]),
       part=hostile_text, name=st.sampled_from(NAMES), where=st.integers(2, 4))
def test_hostile_paths(server, method, part, name, where):
    """Names in the account, container and object places, and partitions (an
    unknown device is 507, which is right, so devices are not fuzzed here)."""
    segments = ["sda", "1", "a", "c", "o"]
    segments[where] = name
    send(server, method, "/" + "/".join(segments), {})
    send(server, method, f"/sda/{part}/a/c/o", {})


@FUZZ
@given(value=hostile_text)
def test_hostile_policy_index(server, value):
    """A policy index that is not a number is the sender's error (400); a number
    this node has no policy for is 503, as in Swift: the node lacks the config."""
    resp = request(server[0], "GET", PATH, {"X-Backend-Storage-Policy-Index": value})
    if resp.status_int == 503:
        assert value.strip().isdigit() and b"No policy with index" in resp.body
    else:
        assert_refused_or_served(resp, "GET")
