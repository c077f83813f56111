"""A storage node that answers with numbers that are not numbers (a corrupt
disk, a buggy or hostile node) fails like a node that cannot be reached: it is
error-limited and the next node is asked; no client gets a 500 from an int()."""
from __future__ import annotations

import io

import pytest

from auth.tempauth import TempAuth
from objstore.common.backend_http import BackendConnection, BackendError, BackendResponse
from objstore.common.fanout import malformed_answer
from tests.fake_swift import FakeSwift
from tests.unit.proxy_fakes import call, make_app

BAD = ["garbage", "9" * 5000, "-1x", "\xb2", "1e400", "nan", ""]


def key(node: dict) -> str:
    return f"{node['ip']}:{node['port']}/{node['device']}"


@pytest.fixture
def proxy():
    app, cluster = make_app()
    assert call(app, "/v1/AUTH_a/c", "PUT").status_int == 201
    assert call(app, "/v1/AUTH_a/c/o", "PUT", b"body").status_int == 201
    return app, cluster


@pytest.mark.parametrize("header", ["x-backend-timestamp", "x-timestamp", "x-put-timestamp",
                                    "x-container-object-count", "x-account-bytes-used",
                                    "x-backend-storage-policy-index", "content-length"])
@pytest.mark.parametrize("value", BAD)
def test_malformed_answer_names_the_header(header, value):
    assert header in malformed_answer({header: value})
    assert malformed_answer({"x-backend-timestamp": "1700000000.12345_000000000000000a",
                             "x-container-object-count": "3", "x-account-bytes-used": "-2",
                             "x-backend-storage-policy-index": "1"}) is None


@pytest.mark.parametrize("header", ["x-backend-timestamp", "x-timestamp", "content-length"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_an_object_read_moves_past_a_corrupt_node(proxy, header, method):
    app, cluster = proxy
    first = app.rings["object"].get_nodes("AUTH_a", "c", "o")[1][0]  # read in ring order
    cluster.faults[key(first)] = {header: "9" * 5000}
    resp = call(app, "/v1/AUTH_a/c/o", method)
    assert resp.status_int == 200 and resp.headers["content-length"] == "4"
    assert resp.body == (b"body" if method == "GET" else b"")
    assert app.fanout.error_limiter.is_failing(first)


def test_newest_read_ignores_a_corrupt_timestamp(proxy):
    app, cluster = proxy
    first = app.rings["object"].get_nodes("AUTH_a", "c", "o")[1][0]
    cluster.faults[key(first)] = {"x-backend-timestamp": "99999999999.99999x"}
    resp = call(app, "/v1/AUTH_a/c/o", **{"X-Newest": "true"})
    assert resp.status_int == 200 and resp.body == b"body"


@pytest.mark.parametrize("header,value", [("x-container-object-count", "9" * 5000),
                                          ("x-backend-storage-policy-index", "abc"),
                                          ("x-put-timestamp", "yesterday")])
def test_container_info_from_corrupt_nodes_is_a_503_not_a_500(proxy, header, value):
    app, cluster = proxy
    for node in app.rings["container"].devs:  # primaries and handoffs
        cluster.faults[key(node)] = {header: value}
    app.container_cache.pop("container/AUTH_a/c")
    resp = call(app, "/v1/AUTH_a/c")
    assert resp.status_int == 503 and b"no container server answered" in resp.body
    resp = call(app, "/v1/AUTH_a/c/o", "PUT", b"new")  # a write needs the container's info
    assert resp.status_int == 503 and b"no container server answered" in resp.body
    assert call(app, "/v1/AUTH_a/c/o").body == b"body"  # a read does not


def test_an_unknown_policy_index_says_so(proxy):
    """Not a "nodes down" 503: the body names the policy and the likely cause."""
    app, cluster = proxy
    for node in app.rings["container"].get_nodes("AUTH_a", "c")[1]:
        cluster.node(key(node)).records["/AUTH_a/c"].headers["x-backend-storage-policy-index"] = "7"
    app.container_cache.pop("container/AUTH_a/c")
    for method in ("GET", "PUT", "DELETE"):
        resp = call(app, "/v1/AUTH_a/c/o", method, b"x" if method == "PUT" else None)
        assert resp.status_int == 503 and b"Unknown storage policy 7" in resp.body
        assert b"restart" in resp.body and b"server answered" not in resp.body
    assert call(app, "/v1/AUTH_a/c").status_int == 200  # the container itself still lists


class _Conn:
    """What a BackendResponse reads from: a file of the node's bytes."""

    def __init__(self, data: bytes) -> None:
        self.fp = io.BufferedReader(io.BytesIO(data))
        self.reusable = False


def _head(data: bytes) -> tuple[int, str, dict[str, str]]:
    conn = object.__new__(BackendConnection)  # no socket: only the reading half
    conn.fp, conn._resend, conn.reusable = io.BufferedReader(io.BytesIO(data)), None, False
    return conn._read_head()


@pytest.mark.parametrize("line", [b"HTTP/1.1 \xb200 OK\r\n", b"HTTP/1.1 " + b"9" * 5000 + b" OK\r\n",
                                  b"HTTP/1.1 20 OK\r\n", b"HTTP/1.1 +20 OK\r\n", b"garbage\r\n"])
def test_a_bad_status_line_is_a_backend_error(line):
    with pytest.raises(BackendError):
        _head(line + b"\r\n")
    assert _head(b"HTTP/1.1 201 Created\r\nEtag: x\r\n\r\n")[:2] == (201, "Created")


@pytest.mark.parametrize("length", ["-5", "9" * 5000, " 5x", "\xb2", "+5"])
def test_a_bad_content_length_is_a_backend_error(length):
    with pytest.raises(BackendError):
        BackendResponse(_Conn(b"hello"), 200, "OK", {"content-length": length}, "GET")


@pytest.mark.parametrize("size", [b"-5", b"1" * 17, b"0x5", b"zz", b""])
def test_a_bad_chunk_size_is_a_backend_error(size):
    resp = BackendResponse(_Conn(size + b"\r\nhello\r\n0\r\n\r\n"), 200, "OK",
                           {"transfer-encoding": "chunked"}, "GET")
    with pytest.raises(BackendError):
        resp.read()
    good = BackendResponse(_Conn(b"5\r\nhello\r\n0\r\n\r\n"), 200, "OK",
                           {"transfer-encoding": "chunked"}, "GET")
    assert good.read_all() == b"hello"


def test_a_signed_token_with_a_bad_expiry_is_no_token():
    """The expiry is parsed as a stranger's input even under a valid signature."""
    auth = TempAuth(FakeSwift(), {"user_test_tester": "testing .admin"}, hash_salt="salt")
    for payload in (b"9" * 5000 + b":n:test:tester", b"soon:n:test:tester", b"no-colons"):
        token = auth.token_prefix + payload.hex() + auth._sign(payload)
        assert auth.validate_token(token) is None
        resp = call(auth, "/v1/AUTH_test", **{"X-Auth-Token": token})
        assert resp.status_int == 401 and resp.body
