"""An erasure-coded 4+2 policy through real daemons: 6 nodes, fragment archives
on disk, reads that survive m lost nodes and corrupt fragments, and never a
partial or wrong object."""
from __future__ import annotations

import glob
import hashlib
import json
import os
import signal
import socket

import pytest

from objstore.common.hashing import hash_path
from tests.cluster import HASH_PATH_SUFFIX, Cluster
from tests.corruption import flip_bytes
from tests.support import wait_for

SEGMENT = 100_000  # small segments: several per object, boundaries off the 64 KiB chunks
EC = {"name": "ec42", "policy_type": "erasure_coding", "ec_type": "liberasurecode_rs_vand",
      "ec_num_data_fragments": "4", "ec_num_parity_fragments": "2",
      "ec_object_segment_size": str(SEGMENT)}
URL = "/v1/AUTH_test/ec"
PIPELINE = "catch_errors gatekeeper healthcheck copy dlo slo proxy-server"


@pytest.fixture(scope="module")
def cluster():
    with Cluster(nodes=6, pipeline=PIPELINE, policy_replicas={1: 6},
                 proxy_options={"error_suppression_interval": "0"},
                 extra_sections={"storage-policy:0": {"name": "gold", "default": "yes"},
                                 "storage-policy:1": EC}) as running:
        assert running.request("PUT", URL, headers={"X-Storage-Policy": "ec42"})[0] == 201
        yield running


def archives(cluster: Cluster, obj: str) -> list[str]:
    """Every fragment archive file of ``obj`` on every node."""
    digest = hash_path("AUTH_test", "ec", obj, suffix=HASH_PATH_SUFFIX.encode()).hex()
    return sorted(glob.glob(os.path.join(cluster.base, "node*", "sd*", "objects-1", "*",
                                         digest[-3:], digest, "*.data")))


def body_of(size: int) -> bytes:
    return os.urandom(size)


@pytest.mark.parametrize("size", [0, 1, 1000, SEGMENT - 1, SEGMENT, SEGMENT + 1,
                                  3 * SEGMENT + 5, 300_000])
def test_objects_round_trip_byte_identical(cluster, size):
    body = body_of(size)
    status, headers, _ = cluster.request("PUT", f"{URL}/o{size}", body)
    assert status == 201 and headers["etag"] == hashlib.md5(body).hexdigest()
    status, headers, got = cluster.request("GET", f"{URL}/o{size}")
    assert status == 200 and got == body
    assert headers["etag"] == hashlib.md5(body).hexdigest()
    assert headers["content-length"] == str(size)
    status, headers, _ = cluster.request("HEAD", f"{URL}/o{size}")
    assert status == 200 and headers["content-length"] == str(size)
    names = sorted(os.path.basename(path) for path in archives(cluster, f"o{size}"))
    assert [name.split("#", 1)[1] for name in names] == sorted(f"{i}#d.data" for i in range(6))


def test_listing_shows_the_whole_objects_size_and_etag(cluster):
    body = body_of(2 * SEGMENT + 7)
    cluster.request("PUT", f"{URL}/listed", body)
    listing = json.loads(cluster.request("GET", f"{URL}?format=json&prefix=listed")[2])
    assert [(item["bytes"], item["hash"]) for item in listing] == \
        [(len(body), hashlib.md5(body).hexdigest())]


def test_ranges_across_segment_boundaries_are_exact(cluster):
    body = body_of(3 * SEGMENT + 5)
    cluster.request("PUT", f"{URL}/ranged", body)
    for spec, expected in [("0-0", body[:1]),
                           (f"{SEGMENT - 10}-{SEGMENT + 10}", body[SEGMENT - 10:SEGMENT + 11]),
                           (f"{SEGMENT}-{2 * SEGMENT - 1}", body[SEGMENT:2 * SEGMENT]),
                           (f"{SEGMENT - 1}-{3 * SEGMENT}", body[SEGMENT - 1:3 * SEGMENT + 1]),
                           ("-7", body[-7:]), (f"-{SEGMENT + 3}", body[-SEGMENT - 3:]),
                           (f"{2 * SEGMENT + 1}-", body[2 * SEGMENT + 1:]),
                           (f"100-{10 * SEGMENT}", body[100:])]:
        status, headers, got = cluster.request("GET", f"{URL}/ranged",
                                               headers={"Range": f"bytes={spec}"})
        assert (status, got) == (206, expected), spec
        assert headers["content-range"].endswith(f"/{len(body)}")
    status, headers, _ = cluster.request("GET", f"{URL}/ranged",
                                         headers={"Range": f"bytes={len(body)}-"})
    assert status == 416 and headers["content-range"] == f"bytes */{len(body)}"
    status, headers, got = cluster.request(
        "GET", f"{URL}/ranged", headers={"Range": f"bytes=2-3,{2 * SEGMENT}-{2 * SEGMENT + 1},0-1"})
    assert status == 206 and headers["content-type"].startswith("multipart/byteranges")
    assert body[2:4] in got and body[2 * SEGMENT:2 * SEGMENT + 2] in got and body[:2] in got


def test_raw_bytes_on_disk_are_about_one_and_a_half_times_the_object(cluster):
    body = body_of(3 * SEGMENT + 5)
    cluster.request("PUT", f"{URL}/space", body)
    raw = sum(os.path.getsize(path) for path in archives(cluster, "space"))
    assert 1.5 <= raw / len(body) < 1.51


def test_metadata_conditionals_copy_and_delete_as_for_replication(cluster):
    req = cluster.request
    body = body_of(SEGMENT + 3)
    etag = req("PUT", f"{URL}/meta", body, {"X-Object-Meta-Color": "blue",
                                            "Content-Type": "text/x-test"})[1]["etag"]
    status, headers, _ = req("HEAD", f"{URL}/meta")
    assert (headers["x-object-meta-color"], headers["content-type"]) == ("blue", "text/x-test")
    assert req("POST", f"{URL}/meta", headers={"X-Object-Meta-Color": "red"})[0] == 202
    assert req("HEAD", f"{URL}/meta")[1]["x-object-meta-color"] == "red"
    assert req("GET", f"{URL}/meta", headers={"If-None-Match": etag})[0] == 304
    assert req("GET", f"{URL}/meta", headers={"If-Match": "nope"})[0] == 412
    assert req("GET", f"{URL}/meta", headers={"If-Match": etag})[2] == body
    assert req("PUT", f"{URL}/meta", body, {"If-None-Match": "*"})[0] == 412
    assert req("PUT", f"{URL}/bad-etag", body, {"ETag": "0" * 32})[0] == 422
    assert req("GET", f"{URL}/bad-etag")[0] == 404
    assert req("COPY", f"{URL}/meta", headers={"Destination": "ec/copied"})[0] == 201
    assert req("GET", f"{URL}/copied")[2] == body
    assert req("DELETE", f"{URL}/meta")[0] == 204
    assert req("GET", f"{URL}/meta")[0] == 404
    assert req("HEAD", f"{URL}/meta")[0] == 404


def test_a_large_object_of_ec_segments(cluster):
    req = cluster.request
    parts = [body_of(SEGMENT + i) for i in range(3)]
    manifest = []
    for i, part in enumerate(parts):
        etag = req("PUT", f"{URL}/seg/{i}", part)[1]["etag"]
        manifest.append({"path": f"/ec/seg/{i}", "etag": etag, "size_bytes": len(part)})
    assert req("PUT", f"{URL}/slo?multipart-manifest=put", json.dumps(manifest).encode())[0] == 201
    assert req("GET", f"{URL}/slo")[2] == b"".join(parts)
    assert req("PUT", f"{URL}/dlo", b"", {"X-Object-Manifest": "ec/seg/"})[0] == 201
    assert req("GET", f"{URL}/dlo")[2] == b"".join(parts)


def _node_of(path: str) -> int:
    return int(path.split(os.sep + "node")[1].split(os.sep)[0])


def test_the_auditor_checks_a_fragment_archives_own_checksum(cluster):
    cluster.request("PUT", f"{URL}/audited", body_of(SEGMENT + 9))
    corrupt = archives(cluster, "audited")[2]
    flip_bytes(corrupt)
    audit = cluster.run_once(_node_of(corrupt), "object-auditor")
    assert audit["counters"]["quarantined"] == 1 and not os.path.exists(corrupt)


def test_a_lost_and_a_corrupt_archive_read_right_and_are_rebuilt_identical(cluster):
    body = body_of(3 * SEGMENT + 5)
    cluster.request("PUT", f"{URL}/damaged", body)
    paths = archives(cluster, "damaged")
    written = {path: open(path, "rb").read() for path in paths}
    lost, corrupt = paths[0], paths[1]
    os.unlink(lost)
    flip_bytes(corrupt)
    for headers in ({}, {"Range": f"bytes={SEGMENT}-{2 * SEGMENT}"}):
        for _ in range(3):  # whichever fragments the proxy picks
            status, _, got = cluster.request("GET", f"{URL}/damaged", headers=headers)
            assert status // 100 == 2
            assert got == (body if not headers else body[SEGMENT:2 * SEGMENT + 1])
    # a whole-archive read that met the bad bytes quarantined it already; else the auditor does
    cluster.run_once(_node_of(corrupt), "object-auditor")
    assert not os.path.exists(corrupt)
    assert glob.glob(os.path.join(cluster.base, f"node{_node_of(corrupt)}", "sd*", "quarantined",
                                  "objects-1", "*", "*.data"))
    rebuilt = 0
    for node in range(6):
        rebuilt += cluster.run_once(node, "object-reconstructor")["counters"]["objects_pushed"]
    assert rebuilt >= 2
    assert {path: open(path, "rb").read() for path in archives(cluster, "damaged")} == written
    assert cluster.request("GET", f"{URL}/damaged")[2] == body


def _nodes_of(cluster: Cluster, obj: str) -> list[int]:
    _, nodes = cluster.ring("object-1").get_nodes("AUTH_test", "ec", obj)
    return [int(node["device"][2:]) for node in nodes]


def test_m_nodes_down_still_read_and_m_plus_one_is_a_clear_503(cluster):
    body = body_of(2 * SEGMENT + 1)
    cluster.request("PUT", f"{URL}/outage", body)
    nodes = _nodes_of(cluster, "outage")
    stopped = []
    try:
        for node in nodes[:2]:  # m = 2 (data fragments, the ones reads prefer)
            cluster.stop_server("object", node)
            stopped.append(node)
        status, _, got = cluster.request("GET", f"{URL}/outage")
        assert (status, got) == (200, body)
        cluster.stop_server("object", nodes[2])
        stopped.append(nodes[2])
        status, _, got = cluster.request("GET", f"{URL}/outage")
        assert status == 503 and b"fragment" in got and body[:100] not in got
    finally:
        for node in stopped:
            cluster.start_server("object", node)


def _temp_files(cluster: Cluster) -> list[str]:
    return glob.glob(os.path.join(cluster.base, "node*", "sd*", "tmp", "*"))


def test_a_proxy_killed_mid_put_leaves_no_partial_object(cluster):
    first = body_of(SEGMENT)
    cluster.request("PUT", f"{URL}/killed", first)
    sock = socket.create_connection(("127.0.0.1", cluster.proxy_port))
    # enough for every node to write to its temp file (two 64 KiB reads of fragments)
    sock.sendall(f"PUT {URL}/killed HTTP/1.1\r\nHost: x\r\nContent-Length: {10 * SEGMENT}\r\n"
                 "\r\n".encode() + b"x" * (8 * SEGMENT))
    wait_for(lambda: len(_temp_files(cluster)) >= 4, timeout=20,
             what="the second PUT's fragments arriving on the nodes")
    cluster.stop_proxy(signal.SIGKILL)
    sock.close()
    cluster.start_proxy()
    for _ in range(3):
        status, _, got = cluster.request("GET", f"{URL}/killed")
        assert (status, got) == (200, first)
    wait_for(lambda: not _temp_files(cluster), timeout=20, what="the nodes dropping the upload")
    assert all("#d.data" in path for path in archives(cluster, "killed"))
