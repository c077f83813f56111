"""The object replicator between real daemons: 3 nodes, 2 replicas (so every
partition has a handoff node), over HTTP.

Each test runs ``objstore-object-replicator --once`` on the nodes and then
looks at every device of every node: the primaries hold exactly the newest
state, and nothing is left anywhere else.
"""
from __future__ import annotations

import concurrent.futures
import glob
import hashlib
import itertools
import os
import signal

import pytest

from objstore.common.hashing import hash_path
from tests.cluster import HASH_PATH_SUFFIX, Cluster
from tests.support import wait_for

ACCOUNT, CONTAINER = "AUTH_test", "repl"
DAEMON = "object-replicator"


@pytest.fixture(scope="module")
def cluster():
    with Cluster(nodes=3, replicas=2, part_power=4) as running:
        assert running.request("PUT", f"/v1/{ACCOUNT}/{CONTAINER}")[0] == 201
        yield running


def node_of(cluster: Cluster, device: dict) -> int:
    return next(n for n, ports in enumerate(cluster.ports) if ports["object"] == device["port"])


def run_passes(cluster: Cluster, nodes, **options: str) -> list[dict]:
    """One --once pass on each node (all at once, as on a real cluster);
    their counters."""
    with concurrent.futures.ThreadPoolExecutor(len(nodes)) as pool:
        passes = list(pool.map(lambda node: cluster.run_once(node, DAEMON, options), nodes))
    return [done["counters"] for done in passes]


def holders(cluster: Cluster, name: str) -> dict[tuple[int, str], list[str]]:
    """(node, device) -> the files of the object's hash directory, wherever it is."""
    obj_hash = hash_path(ACCOUNT, CONTAINER, name, suffix=HASH_PATH_SUFFIX.encode()).hex()
    found = {}
    for node in range(cluster.node_count):
        pattern = os.path.join(cluster.devices(node), "*", "objects", "*", obj_hash[-3:],
                               obj_hash)
        for hash_dir in glob.glob(pattern):
            device = os.path.relpath(hash_dir, cluster.devices(node)).split(os.sep)[0]
            found[(node, device)] = sorted(os.listdir(hash_dir))
    return found


def backend_get(cluster: Cluster, device: dict, part: int, name: str):
    return cluster.request("GET", f"/{device['device']}/{part}/{ACCOUNT}/{CONTAINER}/{name}",
                           port=device["port"])


def backend_put(cluster: Cluster, device: dict, part: int, name: str, body: bytes,
                timestamp: str) -> None:
    """Write one replica straight to one object server (nowhere else)."""
    status, _, answer = cluster.request(
        "PUT", f"/{device['device']}/{part}/{ACCOUNT}/{CONTAINER}/{name}", body,
        {"X-Timestamp": timestamp, "Content-Type": "application/x-test"}, port=device["port"])
    assert status == 201, answer


def assert_newest_on_primaries_only(cluster: Cluster, expected: dict[str, tuple]) -> None:
    """``expected``: name -> (body MD5, metadata) for live objects, (None, timestamp)
    for deleted ones."""
    ring = cluster.ring("object")
    for name, (etag, detail) in expected.items():
        part, primaries = ring.get_nodes(ACCOUNT, CONTAINER, name)
        where = {(node_of(cluster, dev), dev["device"]) for dev in primaries}
        found = holders(cluster, name)
        assert set(found) == where, (name, found, where)
        assert len({tuple(files) for files in found.values()}) == 1, (name, found)
        for device in primaries:
            status, headers, body = backend_get(cluster, device, part, name)
            if etag is None:
                assert status == 404 and headers["x-backend-timestamp"] == detail, name
            else:
                assert status == 200 and hashlib.md5(body).hexdigest() == etag, name
                for key, value in detail.items():
                    assert headers[key] == value, (name, key)


def put(cluster: Cluster, name: str, body: bytes, **headers) -> str:
    status, _, answer = cluster.request("PUT", f"/v1/{ACCOUNT}/{CONTAINER}/{name}", body,
                                        headers)
    assert status == 201, answer
    return hashlib.md5(body).hexdigest()


def test_node_outage_converges_in_one_pass(cluster):
    cluster.stop_server("object", 2)
    expected = {}
    try:
        for index in range(16):
            name = f"outage-{index}"
            body = os.urandom(1000 + index * 3000)
            etag = put(cluster, name, body, **{"X-Object-Meta-Round": "1"})
            expected[name] = (etag, {"x-object-meta-round": "1"})
            if index % 4 == 1:  # overwritten
                expected[name] = (put(cluster, name, body[::-1]), {})
            elif index % 4 == 2:  # deleted
                status, headers, _ = cluster.request(
                    "DELETE", f"/v1/{ACCOUNT}/{CONTAINER}/{name}")
                assert status == 204
                ring = cluster.ring("object")
                part, nodes = ring.get_nodes(ACCOUNT, CONTAINER, name)
                live = next(dev for dev in nodes if node_of(cluster, dev) != 2)
                expected[name] = (None, backend_get(cluster, live, part, name)[1]
                                  ["x-backend-timestamp"])
            elif index % 4 == 3:  # new metadata
                assert cluster.request("POST", f"/v1/{ACCOUNT}/{CONTAINER}/{name}",
                                       headers={"X-Object-Meta-Round": "2"})[0] == 202
                expected[name] = (etag, {"x-object-meta-round": "2"})
    finally:
        cluster.start_server("object", 2)
    counters = run_passes(cluster, range(3))
    assert sum(c["failures"] for c in counters) == 0
    assert sum(c["handoffs_removed"] for c in counters) > 0
    assert counters[2]["objects_pushed"] == 0  # it had nothing newer
    assert_newest_on_primaries_only(cluster, expected)


def test_handoff_partition_moves_to_its_primaries(cluster):
    ring = cluster.ring("object")
    name = "handed-off"
    part, primaries = ring.get_nodes(ACCOUNT, CONTAINER, name)
    handoff = next(ring.get_more_nodes(part))
    body = os.urandom(70_000)
    backend_put(cluster, handoff, part, name, body, "1900000000.00000")
    node = node_of(cluster, handoff)
    [counters] = run_passes(cluster, [node])
    assert counters["handoffs_removed"] >= 1 and counters["failures"] == 0
    assert not os.path.exists(os.path.join(cluster.devices(node), handoff["device"], "objects",
                                           str(part)))
    assert_newest_on_primaries_only(cluster, {name: (hashlib.md5(body).hexdigest(), {
        "content-type": "application/x-test", "x-timestamp": "1900000000.00000"})})


def test_receiver_killed_mid_push_leaves_no_partial_file(cluster):
    ring = cluster.ring("object")
    name = "big-one"
    part, primaries = ring.get_nodes(ACCOUNT, CONTAINER, name)
    source, receiver = primaries[0], primaries[1]
    body = os.urandom(12 << 20)
    backend_put(cluster, source, part, name, body, "1900000001.00000")
    receiver_node = node_of(cluster, receiver)
    tmp_dir = os.path.join(cluster.devices(receiver_node), receiver["device"], "tmp")
    before = set(os.listdir(tmp_dir)) if os.path.isdir(tmp_dir) else set()
    source_node = node_of(cluster, source)
    pusher = concurrent.futures.ThreadPoolExecutor(1)
    # 3 MB/s: the push of 12 MiB takes about 4 s
    push = pusher.submit(cluster.run_once, source_node, DAEMON,
                         {"max_bytes_per_second": "3000000"})
    try:
        def receiving() -> bool:
            return any(os.path.getsize(os.path.join(tmp_dir, f)) > (1 << 20)
                       for f in set(os.listdir(tmp_dir)) - before)
        wait_for(receiving, timeout=60, what="the push to reach the receiver's disk")
        cluster.stop_server("object", receiver_node, signal.SIGKILL)
        assert push.result(timeout=120)["counters"]["failures"] >= 1
    finally:
        pusher.shutdown()
        cluster.start_server("object", receiver_node)
    visible = holders(cluster, name)
    assert (receiver_node, receiver["device"]) not in visible  # only a temp file
    run_passes(cluster, [source_node])
    assert_newest_on_primaries_only(cluster, {name: (hashlib.md5(body).hexdigest(), {})})


def names_in_one_partition(cluster: Cluster, prefix: str, count: int) -> tuple[int, list[str]]:
    """``count`` object names that share one partition."""
    ring = cluster.ring("object")
    by_part: dict[int, list[str]] = {}
    for index in itertools.count():
        name = f"{prefix}-{index}"
        names = by_part.setdefault(ring.get_part(ACCOUNT, CONTAINER, name), [])
        names.append(name)
        if len(names) == count:
            return ring.get_part(ACCOUNT, CONTAINER, name), names


def temp_files(tmp_dir: str) -> set[str]:
    return set(os.listdir(tmp_dir)) if os.path.isdir(tmp_dir) else set()


def test_replicator_killed_mid_push_loses_nothing_and_the_next_pass_finishes(cluster):
    """A handoff partition of 8 objects (16 MiB) is pushed at 4 MB/s; the
    replicator is SIGKILLed once the first primary is receiving.  The handoff
    still holds every object (nothing is removed before every primary
    confirmed), the receiver shows no partial file and drops its temp file,
    and the next pass moves the whole partition."""
    part, names = names_in_one_partition(cluster, "killed", 8)
    ring = cluster.ring("object")
    handoff = next(ring.get_more_nodes(part))
    bodies = {name: os.urandom(2 << 20) for name in names}
    for index, (name, body) in enumerate(bodies.items()):
        backend_put(cluster, handoff, part, name, body, f"1900000100.{index:05d}")
    expected = {name: (hashlib.md5(body).hexdigest(), {}) for name, body in bodies.items()}
    receivers = [(node_of(cluster, dev), dev) for dev in ring.get_part_nodes(part)]
    tmp_dirs = [os.path.join(cluster.devices(node), dev["device"], "tmp") for node, dev in receivers]
    before = [temp_files(tmp_dir) for tmp_dir in tmp_dirs]
    sender = cluster.start_once(node_of(cluster, handoff), DAEMON,
                                {"max_bytes_per_second": "4000000"})
    try:
        def receiving() -> bool:
            assert sender.poll() is None, "the pass ended before the push was under way"
            return any(os.path.getsize(os.path.join(tmp_dir, name)) > (1 << 20)
                       for tmp_dir, old in zip(tmp_dirs, before)
                       for name in temp_files(tmp_dir) - old)
        wait_for(receiving, timeout=60, what="the push to reach a receiver's disk")
    finally:
        sender.kill()
        sender.communicate()
    wait_for(lambda: all(temp_files(tmp_dir) <= old for tmp_dir, old in zip(tmp_dirs, before)),
             timeout=30, what="the receivers to remove the temp file of the broken push")
    for name, body in bodies.items():
        found = holders(cluster, name)
        assert (node_of(cluster, handoff), handoff["device"]) in found, name  # nothing lost
        for node, dev in receivers:
            status, _, got = backend_get(cluster, dev, part, name)
            assert status == 404 or (status == 200 and got == body), (name, node, status)
            hash_dir = cluster.hash_dir(node, ACCOUNT, CONTAINER, name)
            for data in [f for f in found.get((node, dev["device"]), []) if f.endswith(".data")]:
                assert os.path.getsize(os.path.join(hash_dir, data)) == len(body), (name, node)
    [counters] = run_passes(cluster, [node_of(cluster, handoff)])
    assert counters["failures"] == 0 and counters["handoffs_removed"] == 1
    assert_newest_on_primaries_only(cluster, expected)


def test_a_failed_primary_disk_gets_one_handoff_copy_a_down_node_none(cluster):
    """As Swift's replicator: a primary whose disk answers 507 is replaced by
    the partition's first handoff, pushed to once (later passes find it in
    sync); a primary whose server is down gets no copy anywhere else."""
    ring = cluster.ring("object")
    name = "failing-disk"
    part, primaries = ring.get_nodes(ACCOUNT, CONTAINER, name)
    expected = {name: (put(cluster, name, os.urandom(50_000)), {})}
    live, failing = primaries

    def where() -> set[tuple[int, str]]:  # the failed disk's files are out of reach
        return {held for held in holders(cluster, name) if not held[1].endswith(".failed")}
    on_primaries = {(node_of(cluster, dev), dev["device"]) for dev in primaries}

    cluster.stop_server("object", node_of(cluster, failing))
    try:
        for _ in range(2):
            [counters] = run_passes(cluster, [node_of(cluster, live)])
            assert counters["failures"] >= 1 and counters["objects_pushed"] == 0
            assert where() == on_primaries
    finally:
        cluster.start_server("object", node_of(cluster, failing))

    device = os.path.join(cluster.devices(node_of(cluster, failing)), failing["device"])
    os.rename(device, device + ".failed")
    handoff = next(ring.get_more_nodes(part))
    with_handoff = {(node_of(cluster, live), live["device"]),
                    (node_of(cluster, handoff), handoff["device"])}
    try:
        counters = run_passes(cluster, range(3))  # every partition of the failed disk
        assert sum(c["objects_pushed"] for c in counters) >= 1
        assert where() == with_handoff
        counters = run_passes(cluster, range(3))  # the same handoff, in sync already
        assert sum(c["objects_pushed"] for c in counters) == 0
        assert sum(c["handoffs_removed"] for c in counters) == 0
        assert where() == with_handoff
    finally:
        os.rename(device + ".failed", device)
    counters = run_passes(cluster, range(3))
    assert sum(c["handoffs_removed"] for c in counters) >= 1
    assert_newest_on_primaries_only(cluster, expected)


def read_through_the_proxy(cluster: Cluster, expected: dict[str, tuple]) -> None:
    for name, (etag, _) in expected.items():
        status, _, body = cluster.request("GET", f"/v1/{ACCOUNT}/{CONTAINER}/{name}")
        assert status == 200 and hashlib.md5(body).hexdigest() == etag, (name, status)


def test_rebalance_twice_moves_every_object_to_its_new_primaries(cluster):
    """Last in this module: it changes the ring, twice (a device more each
    time), with 30 new objects before each change.  While they move, the
    proxy (restarted on the new ring) finds every one: the primaries that
    lack it say 404 and it reads the handoffs, where the old copies are.
    After each round of passes every object of both rounds is whole on its
    new primaries only."""
    expected: dict[str, tuple] = {}
    for round_, (node, device, zone) in enumerate([(0, "sd0b", 4), (1, "sd1b", 5)]):
        batch = {f"moving-{round_}-{index}": os.urandom(index * 5000) for index in range(30)}
        expected.update({name: (put(cluster, name, body), {}) for name, body in batch.items()})
        old_ring = cluster.ring("object")
        os.makedirs(os.path.join(cluster.devices(node), device))
        builder = cluster.builders["object"]
        builder.add_dev({"region": 1, "zone": zone, "ip": "127.0.0.1",
                         "port": cluster.ports[node]["object"], "device": device, "weight": 100})
        builder.rebalance(seed=round_ + 2)
        builder.write_ring(os.path.join(cluster.ring_dir, "object.ring.gz"))
        new_ring = cluster.ring("object")
        moved = [name for name in expected
                 if old_ring.get_nodes(ACCOUNT, CONTAINER, name) !=
                 new_ring.get_nodes(ACCOUNT, CONTAINER, name)]
        assert moved  # the new device took partitions holding some of them
        cluster.restart_proxy()
        read_through_the_proxy(cluster, expected)
        counters = run_passes(cluster, range(3))
        assert sum(c["failures"] for c in counters) == 0
        assert sum(c["handoffs_removed"] for c in counters) > 0
        assert_newest_on_primaries_only(cluster, expected)
        read_through_the_proxy(cluster, expected)
