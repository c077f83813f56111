"""The proxy in front of real storage daemons: 3 nodes, 3 replicas, over HTTP."""
import hashlib
import http.client
import json
import os
import signal
import time

import pytest

from ring.ring import Ring
from tests.cluster import Cluster
from tests.support import wait_for


@pytest.fixture(scope="module")
def cluster():
    with Cluster(nodes=3, proxy_options={"recoverable_node_timeout": "1"}) as running:
        yield running


def test_full_object_cycle(cluster):
    req = cluster.request
    status, headers, _ = req("PUT", "/v1/AUTH_test/photos")
    assert status == 201
    assert headers["x-trans-id"].startswith("tx")

    data = bytes(range(256)) * 1024 + b"tail"
    status, headers, _ = req("PUT", "/v1/AUTH_test/photos/cat.jpg", data,
                             {"X-Object-Meta-Kind": "cat"})
    assert status == 201, _
    assert headers["etag"] == hashlib.md5(data).hexdigest()
    assert "last-modified" in headers

    status, headers, body = req("GET", "/v1/AUTH_test/photos/cat.jpg")
    assert status == 200
    assert body == data
    assert headers["content-type"] == "image/jpeg"
    assert headers["x-object-meta-kind"] == "cat"
    assert headers["accept-ranges"] == "bytes"
    assert "x-backend-timestamp" not in headers

    status, headers, body = req("GET", "/v1/AUTH_test/photos/cat.jpg",
                                headers={"Range": "bytes=10-19"})
    assert status == 206 and body == data[10:20]

    status, headers, body = req("HEAD", "/v1/AUTH_test/photos/cat.jpg")
    assert status == 200 and headers["content-length"] == str(len(data)) and body == b""

    status, _, body = req("GET", "/v1/AUTH_test/photos?format=json")
    assert status == 200
    listing = json.loads(body)
    assert [(o["name"], o["bytes"], o["hash"]) for o in listing] == [
        ("cat.jpg", len(data), hashlib.md5(data).hexdigest())]

    def account_lists_container():
        status, _, body = req("GET", "/v1/AUTH_test?format=json")
        return status == 200 and [c["name"] for c in json.loads(body)] == ["photos"]
    wait_for(account_lists_container, timeout=10, what="account listing")

    assert req("DELETE", "/v1/AUTH_test/photos")[0] == 409
    assert req("DELETE", "/v1/AUTH_test/photos/cat.jpg")[0] == 204
    assert req("GET", "/v1/AUTH_test/photos/cat.jpg")[0] == 404
    status, headers, body = req("GET", "/v1/AUTH_test/photos")
    assert status == 204 and body == b"" and headers["content-length"] == "0"
    status, headers, _ = req("HEAD", "/v1/AUTH_test/photos")
    assert status == 204 and headers["content-length"] == "0"
    assert headers["x-container-object-count"] == "0"
    assert req("DELETE", "/v1/AUTH_test/photos")[0] == 204
    assert req("HEAD", "/v1/AUTH_test/photos")[0] == 404


def test_chunked_upload_and_metadata_post(cluster):
    req = cluster.request
    assert req("PUT", "/v1/AUTH_test/chunky")[0] == 201
    chunks = [b"a" * 70000, b"b" * 10, b"c" * 100000]
    # http.client sends an iterable body with Transfer-Encoding: chunked
    status, headers, _ = req("PUT", "/v1/AUTH_test/chunky/o", iter(chunks))
    assert status == 201
    status, _, body = req("GET", "/v1/AUTH_test/chunky/o")
    assert body == b"".join(chunks)
    assert req("POST", "/v1/AUTH_test/chunky/o", headers={"X-Object-Meta-A": "b"})[0] == 202
    assert req("HEAD", "/v1/AUTH_test/chunky/o")[1]["x-object-meta-a"] == "b"


def test_info_and_healthcheck(cluster):
    status, _, body = cluster.request("GET", "/info")
    assert status == 200
    assert "swift" in json.loads(body)
    assert cluster.request("GET", "/healthcheck")[:3:2] == (200, b"OK")


def test_constraint_errors_are_clear(cluster):
    req = cluster.request
    req("PUT", "/v1/AUTH_test/limits")
    status, _, body = req("PUT", "/v1/AUTH_test/limits/" + "x" * 1025, b"")
    assert status == 400 and b"longer than 1024" in body
    status, _, body = req("PUT", "/v1/AUTH_test/limits/o", b"",
                          {"X-Object-Meta-" + "k" * 200: "v"})
    assert status == 400 and b"Metadata name too long" in body
    status, _, _ = req("GET", "/v1/AUTH_test/limits?limit=10001")
    assert status == 412
    status, _, _ = req("PUT", "/v1/AUTH_test/limits/o", b"x", {"X-Backend-Storage-Policy-Index": "7"})
    assert status == 201  # the client's backend header was dropped, not obeyed


def test_node_down_writes_go_to_handoff_and_reads_fail_over(cluster):
    req = cluster.request
    req("PUT", "/v1/AUTH_test/failover")
    cluster.stop_node(1)
    try:
        for i in range(5):
            status, _, _ = req("PUT", f"/v1/AUTH_test/failover/o{i}", b"data%d" % i)
            assert status == 201
        for i in range(5):
            status, _, body = req("GET", f"/v1/AUTH_test/failover/o{i}")
            assert status == 200 and body == b"data%d" % i
    finally:
        cluster.start_node(1)


def test_get_resumes_from_another_replica_when_a_node_stalls_mid_body(cluster):
    cluster.request("PUT", "/v1/AUTH_test/stall")
    data = os.urandom(1 << 20) * 24
    assert cluster.request("PUT", "/v1/AUTH_test/stall/big", data)[0] == 201
    ring = Ring(cluster.ring_dir, "object", hash_suffix=b"integration")
    first = ring.get_nodes("AUTH_test", "stall", "big")[1][0]
    node = next(i for i, ports in enumerate(cluster.ports) if ports["object"] == first["port"])
    server = cluster.processes[f"object-{node}"]
    conn = http.client.HTTPConnection("127.0.0.1", cluster.proxy_port, timeout=30)
    conn.request("GET", "/v1/AUTH_test/stall/big")
    resp = conn.getresponse()
    assert resp.status == 200
    head = resp.read(65536)
    server.send_signal(signal.SIGSTOP)  # the serving node hangs mid-body
    try:
        body = head + resp.read()
    finally:
        server.send_signal(signal.SIGCONT)
        conn.close()
    assert len(body) == len(data) and body == data


def test_small_put_answers_at_quorum_while_a_node_hangs(cluster):
    cluster.request("PUT", "/v1/AUTH_test/hang")
    ring = Ring(cluster.ring_dir, "object", hash_suffix=b"integration")
    first = ring.get_nodes("AUTH_test", "hang", "o")[1][0]
    node = next(i for i, ports in enumerate(cluster.ports) if ports["object"] == first["port"])
    server = cluster.processes[f"object-{node}"]
    server.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        assert cluster.request("PUT", "/v1/AUTH_test/hang/o", b"quick")[0] == 201
        assert time.monotonic() - started < 3  # node_timeout is 5 s: did not wait for it
    finally:
        server.send_signal(signal.SIGCONT)
    assert cluster.request("GET", "/v1/AUTH_test/hang/o")[2] == b"quick"
