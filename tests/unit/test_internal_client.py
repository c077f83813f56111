"""InternalClient against an in-process proxy over fake storage nodes (no sockets)."""
import hashlib
import io
import json

from urllib.parse import parse_qsl

import pytest

from objstore.common.logs import get_logger
from proxy.internal.client import InternalClient, UnexpectedResponse, _path
from proxy.internal.subrequest import SYSTEM_REQUEST
from proxy.middleware.copy import ServerSideCopy
from proxy.middleware.dlo import DynamicLargeObject
from proxy.middleware.slo import StaticLargeObject
from proxy.server import Application
from tests.fake_swift import FakeSwift
from tests.unit.proxy_fakes import make_app, make_conf

PIPELINE = "catch_errors gatekeeper healthcheck tempauth dlo slo copy proxy-server"
USERS = {"user_test_tester": "testing .admin"}
QUEUE = ".expiring_objects"


@pytest.fixture
def proxy():
    conf = make_conf(PIPELINE)
    conf["filter:tempauth"] = USERS
    app, cluster = make_app(conf)
    return conf, app, cluster


@pytest.fixture
def client(proxy):
    conf, app, _ = proxy
    return InternalClient.from_config(conf, get_logger("iclient-test", "ERROR"), app=app,
                                      source="test")


def chain(app):
    """The filter objects from ``app`` inwards."""
    while app is not None:
        yield app
        app = getattr(app, "app", None)


def test_from_config_keeps_large_object_and_copy_filters_only(client):
    kinds = [type(layer) for layer in chain(client.app)]
    assert kinds == [DynamicLargeObject, StaticLargeObject, ServerSideCopy, Application]


def test_object_round_trip_in_a_hidden_account(client):
    client.put(QUEUE, "1700000000")
    client.put(QUEUE, "1700000000", "o1", body=b"hello",
               headers={"Content-Type": "text/plain", "X-Object-Meta-Color": "blue"})
    head = client.head(QUEUE, "1700000000", "o1")
    assert head.header("content-length") == "5"
    assert head.header("x-object-meta-color") == "blue"
    client.post(QUEUE, "1700000000", "o1", headers={"X-Object-Meta-Color": "red"})
    with client.get(QUEUE, "1700000000", "o1") as resp:
        assert b"".join(resp) == b"hello"
        assert resp.header("x-object-meta-color") == "red"
    assert client.delete(QUEUE, "1700000000", "o1").status_int == 204
    assert client.delete(QUEUE, "1700000000", "o1").status_int == 404  # gone is fine
    assert client.head(QUEUE, "1700000000", "o1", acceptable={404}).status_int == 404


def test_container_and_account_metadata(client):
    client.put(QUEUE, "c", headers={"X-Container-Meta-Kind": "queue"})
    client.post(QUEUE, headers={"X-Account-Meta-Owner": "expirer"})
    assert client.head(QUEUE, "c").header("x-container-meta-kind") == "queue"
    assert client.head(QUEUE).header("x-account-meta-owner") == "expirer"
    client.delete(QUEUE, "c")
    assert client.head(QUEUE, "c", acceptable={404}).status_int == 404


def test_unexpected_status_raises_with_status_and_body(client):
    with pytest.raises(UnexpectedResponse) as err:
        client.get(QUEUE, "nope", "o")
    assert err.value.status_int == 404
    assert err.value.method == "GET" and err.value.path == f"/v1/{QUEUE}/nope/o"
    assert b"Not Found" in err.value.body
    assert "404" in str(err.value)


def test_bodies_stream_in_and_out(client):
    chunks = [bytes([i]) * 65536 for i in range(4)]
    consumed = []

    def body():
        for chunk in chunks:
            consumed.append(len(chunk))
            yield chunk

    client.put(QUEUE, "c")
    resp = client.put(QUEUE, "c", "big", body=body())  # chunked: no length given
    assert consumed == [65536] * 4
    assert resp.header("etag").strip('"') == hashlib.md5(b"".join(chunks)).hexdigest()
    with client.get(QUEUE, "c", "big") as got:
        pieces = list(got)
    assert len(pieces) > 1  # handed over chunk by chunk, not as one whole body
    assert b"".join(pieces) == b"".join(chunks)


def test_put_with_file_and_length(client):
    client.put(QUEUE, "c")
    client.put(QUEUE, "c", "f", body=io.BytesIO(b"x" * 1000), content_length=1000)
    assert client.head(QUEUE, "c", "f").header("content-length") == "1000"


def test_failing_body_iterator_raises_its_own_error(client):
    def body():
        yield b"some"
        raise RuntimeError("source went away")

    client.put(QUEUE, "c")
    with pytest.raises(RuntimeError, match="source went away"):
        client.put(QUEUE, "c", "o", body=body())
    assert client.head(QUEUE, "c", "o", acceptable={404}).status_int == 404


@pytest.fixture
def listed():
    """A client over FakeSwift, which pages container listings as Swift does."""
    swift = FakeSwift(listing_limit=2)  # the server's cap, below the page size asked for
    names = [f"obj{i:02d}" for i in range(7)] + ["x/1", "x/2", "y"]
    for name in names:
        swift.put_object(QUEUE, "c", name, name.encode())
    return InternalClient(swift), swift, names


def test_listing_pages_follow_the_marker(listed):
    client, swift, names = listed
    pages = list(client.iter_listing_pages(QUEUE, "c", page_size=3))
    assert [[item["name"] for item in page] for page in pages] == [
        names[i:i + 2] for i in range(0, len(names), 2)]  # short pages do not end it
    markers = [dict(parse_qsl(call.query)).get("marker") for call in swift.calls]
    assert markers == [None, "obj01", "obj03", "obj05", "x/1", "y"]
    assert [item["bytes"] for item in client.iter_listing(QUEUE, "c")] == [5] * 7 + [3, 3, 1]
    assert [i["name"] for i in client.iter_listing(QUEUE, "c", prefix="obj0", marker="obj03",
                                                   end_marker="obj06")] == names[4:6]


def test_listing_with_delimiter_pages_over_subdirs(listed):
    client, _, _ = listed
    items = list(client.iter_listing(QUEUE, "c", prefix="x", delimiter="/"))
    assert [i.get("subdir") or i["name"] for i in items] == ["x/"]


def test_listing_that_does_not_advance_is_an_error():
    def stuck(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'[{"name": "a"}]']

    with pytest.raises(UnexpectedResponse, match="did not advance"):
        list(InternalClient(stuck).iter_listing(QUEUE, "c"))


def test_listing_of_missing_container(client):
    with pytest.raises(UnexpectedResponse):
        list(client.iter_listing(QUEUE, "nope"))
    assert list(client.iter_listing(QUEUE, "nope", acceptable={200, 404})) == []


def test_large_objects_are_assembled(client):
    client.put(QUEUE, "segs")
    segments = []
    for i in range(3):
        data = bytes([65 + i]) * 10
        etag = client.put(QUEUE, "segs", f"s{i}", body=data).header("etag").strip('"')
        segments.append({"path": f"/segs/s{i}", "etag": etag, "size_bytes": 10})
    client.put(QUEUE, "segs", "manifest", body=json.dumps(segments).encode(),
               query={"multipart-manifest": "put"})
    with client.get(QUEUE, "segs", "manifest") as resp:
        assert b"".join(resp) == b"A" * 10 + b"B" * 10 + b"C" * 10
    client.put(QUEUE, "segs", "copy", headers={"X-Copy-From": "segs/manifest"})
    with client.get(QUEUE, "segs", "copy") as resp:
        assert b"".join(resp) == b"A" * 10 + b"B" * 10 + b"C" * 10


def test_every_request_is_a_system_request_with_its_own_txn_id(proxy):
    _, app, _ = proxy
    seen = []

    def recorder(environ, start_response):
        seen.append(dict(environ))
        return app(environ, start_response)

    client = InternalClient(recorder, source="expirer")
    client.put(QUEUE, "c")
    client.head(QUEUE, "c")
    assert all(env[SYSTEM_REQUEST] is True for env in seen)
    assert all("REMOTE_USER" not in env and "swift.authorize" not in env for env in seen)
    assert len({env["HTTP_X_TRANS_ID"] for env in seen}) == 2
    assert {env["swift.source"] for env in seen} == {"expirer"}


@pytest.mark.parametrize("names,error", [
    (("",), "account"), (("a/b",), "account"), (("a", ""), "container"),
    (("a", "c/d"), "container"), (("a", "c", ""), "object"), (("a", None, "o"), "container")])
def test_paths_that_would_address_something_else_are_refused(names, error):
    with pytest.raises(ValueError, match=error):
        _path(*names)
    assert _path("a", "c", "o/with/slashes") == "/v1/a/c/o/with/slashes"
