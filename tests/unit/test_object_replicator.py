"""The object replicator's pass in-process: four object server apps (no
sockets) and a real ring; each node's replicator reaches its peers through
``WsgiPeer``."""
from __future__ import annotations

import collections
import logging
import os
import time

import pytest

from objstore.common.timestamp import Timestamp  # first: objstore silences eventlet's notice
import eventlet  # noqa: E402
from replicator.device_pool import run_per_device
from replicator.object_replicator import SWEEP_STAMP, ObjectReplicator
from replicator.ssync_sender import PeerError
from ring.builder import RingBuilder
from tests.support import pass_progress
from tests.unit.obj_helpers import files_under, make_app, make_conf, put, req
from tests.unit.ssync_helpers import WsgiPeer

NODES = 4
BASE_PORT = 6000
NOW = int(time.time()) - 600


def ts(offset: float = 0) -> str:
    return Timestamp(NOW + offset).internal


class Cluster:
    def __init__(self, root, replicas: int = 3, **options) -> None:
        self.root = root
        self.ring_dir = str(root / "rings")
        os.makedirs(self.ring_dir)
        builder = RingBuilder(2, replicas, 0)
        for node in range(NODES):
            builder.add_dev({"region": 1, "zone": node, "ip": "127.0.0.1",
                             "port": BASE_PORT + node, "device": "sda", "weight": 100})
        builder.rebalance(seed=3)
        for name in ("object", "object-1"):  # make_conf has policies 0 and 1
            builder.write_ring(os.path.join(self.ring_dir, f"{name}.ring.gz"))
        self.apps = [make_app(self.devices(node)) for node in range(NODES)]
        self.options = options
        self.peers = {BASE_PORT + node: WsgiPeer(app) for node, app in enumerate(self.apps)}
        self.refuse: set[int] = set()  # ports whose peer fails every request

    def devices(self, node: int) -> str:
        return str(self.root / f"node{node}")

    def peer(self, node):
        if node["port"] in self.refuse:
            raise PeerError("refused")
        return self.peers[node["port"]]

    def replicator(self, node: int, **options) -> ObjectReplicator:
        conf = make_conf(self.devices(node), bind_port=BASE_PORT + node)
        conf.set("objstore", "ring_dir", self.ring_dir)
        conf.add_section("object-replicator")
        for key, value in {**self.options, **options}.items():
            conf.set("object-replicator", key, str(value))
        return ObjectReplicator(conf, _logger(), peer_factory=self.peer)

    def run(self, node: int, **options) -> dict:
        return self.replicator(node, **options).run_once(pass_progress())

    def run_all(self) -> list[dict]:
        return [self.run(node) for node in range(NODES)]

    def primaries(self, name: str) -> tuple[int, list[int]]:
        ring = self.replicator(0)._ring(0)
        part, nodes = ring.get_nodes("a", "c", name)
        return part, [node["port"] - BASE_PORT for node in nodes]

    def objects(self, node: int) -> list[str]:
        return [f for f in files_under(self.devices(node)) if f.startswith("sda/objects/")
                and f.endswith((".data", ".ts", ".meta"))]


def _logger() -> logging.Logger:
    return logging.getLogger("objstore.test-object-replicator")


def put_to(cluster, nodes, name, body, timestamp):
    part, _ = cluster.primaries(name)
    for node in nodes:
        assert put(cluster.apps[node], f"/sda/{part}/a/c/{name}", body, timestamp).status_int == 201


@pytest.fixture
def cluster(tmp_path):
    return Cluster(tmp_path)


def test_outage_and_handoff_writes_converge_in_one_pass(cluster):
    names = [f"obj{i}" for i in range(12)]
    down = 0
    expected = {}
    for index, name in enumerate(names):
        part, primaries = cluster.primaries(name)
        handoff = next(n for n in range(NODES) if n not in primaries)
        up = [n for n in primaries if n != down]
        if down in primaries:
            up.append(handoff)  # the proxy writes the missing replica to a handoff
        body = f"v1 {name}".encode()
        put_to(cluster, up, name, body, ts(1))
        if index % 3 == 1:  # overwritten while the node was down
            body = f"v2 {name}".encode()
            put_to(cluster, up, name, body, ts(2))
        elif index % 3 == 2:  # deleted while the node was down
            for node in up:
                assert req(cluster.apps[node], f"/sda/{part}/a/c/{name}", "DELETE",
                           X_Timestamp=ts(3)).status_int == 204
            body = None
        expected[name] = body
    stats = cluster.run_all()
    assert sum(s["failures"] for s in stats) == 0
    assert sum(s["handoffs_removed"] for s in stats) > 0
    assert sum(s["objects_pushed"] for s in stats) > 0
    for name, body in expected.items():
        part, primaries = cluster.primaries(name)
        for node in range(NODES):
            got = req(cluster.apps[node], f"/sda/{part}/a/c/{name}")
            if node not in primaries:
                assert got.status_int == 404 and "X-Backend-Timestamp" not in got.headers
            elif body is None:
                assert got.status_int == 404 and got.headers["X-Backend-Timestamp"] == ts(3)
            else:
                assert got.status_int == 200 and got.body == body
    # a second pass finds nothing to do and only compares hashes
    for peer in cluster.peers.values():
        peer.requests.clear()
    again = cluster.run_all()
    assert sum(s["objects_pushed"] + s["suffixes_synced"] + s["failures"] for s in again) == 0
    methods = {method for peer in cluster.peers.values() for method, _ in peer.requests}
    assert methods == {"REPLICATE"}


def test_handoff_kept_until_every_primary_confirmed(cluster):
    part, primaries = cluster.primaries("lonely")
    handoff = next(n for n in range(NODES) if n not in primaries)
    put_to(cluster, [handoff], "lonely", b"only here", ts(1))
    cluster.refuse.add(BASE_PORT + primaries[0])
    stats = cluster.run(handoff)
    assert stats["failures"] == 1 and stats["handoffs_removed"] == 0
    assert cluster.objects(handoff) != []
    cluster.refuse.clear()
    stats = cluster.run(handoff)
    assert stats["failures"] == 0 and stats["handoffs_removed"] == 1
    assert not os.path.exists(os.path.join(cluster.devices(handoff), "sda", "objects", str(part)))
    for node in primaries:
        assert req(cluster.apps[node], f"/sda/{part}/a/c/lonely").body == b"only here"


def test_a_write_arriving_during_the_push_stays_on_the_handoff(cluster, monkeypatch):
    part, primaries = cluster.primaries("busy")
    handoff = next(n for n in range(NODES) if n not in primaries)
    put_to(cluster, [handoff], "busy", b"first", ts(1))
    real_request = WsgiPeer.request

    def request_then_write(peer, method, path, headers, body):
        answer = real_request(peer, method, path, headers, body)
        if method == "SSYNC" and not cluster.objects(handoff)[1:]:
            put_to(cluster, [handoff], "other", b"late", ts(2))  # lands in some partition
            put_to(cluster, [handoff], "busy", b"second", ts(3))
        return answer

    monkeypatch.setattr(WsgiPeer, "request", request_then_write)
    cluster.run(handoff)
    got = req(cluster.apps[handoff], f"/sda/{part}/a/c/busy")
    assert got.status_int == 200 and got.body == b"second"


def holding(cluster, name: str) -> list[int]:
    """Nodes whose device holds a .data of ``name``."""
    part, _ = cluster.primaries(name)
    return [node for node in range(NODES)
            if req(cluster.apps[node], f"/sda/{part}/a/c/{name}").status_int == 200]


@pytest.fixture
def two_replicas(tmp_path):
    """4 nodes, 2 replicas: every partition has two handoffs."""
    return Cluster(tmp_path, replicas=2)


def test_an_unmounted_primary_has_its_copy_kept_on_one_handoff_pushed_once(two_replicas):
    cluster = two_replicas
    part, (live, unmounted) = cluster.primaries("kept")
    put_to(cluster, [live, unmounted], "kept", b"two copies", ts(1))
    sda = os.path.join(cluster.devices(unmounted), "sda")
    os.rename(sda, sda + ".failed")  # the object server answers 507 for it now
    first_handoff = next(cluster.replicator(live)._ring(0).get_more_nodes(part))["port"] - BASE_PORT
    stats = cluster.run(live)
    assert stats["failures"] == 1 and stats["objects_pushed"] == 1
    assert holding(cluster, "kept") == sorted([live, first_handoff])
    for _ in range(2):  # later passes: the same handoff, which has it already
        stats = [cluster.run(node) for node in range(NODES)]
        assert sum(s["objects_pushed"] for s in stats) == 0
        assert sum(s["handoffs_removed"] for s in stats) == 0  # the unmounted primary lacks it
        assert holding(cluster, "kept") == sorted([live, first_handoff])
    os.rename(sda + ".failed", sda)
    stats = [cluster.run(node) for node in (first_handoff, live, unmounted)]
    assert sum(s["failures"] for s in stats) == 0 and stats[0]["handoffs_removed"] == 1
    assert holding(cluster, "kept") == sorted([live, unmounted])


def test_a_primary_that_is_down_gets_no_handoff_copy(two_replicas):
    cluster = two_replicas
    part, (live, down) = cluster.primaries("waiting")
    put_to(cluster, [live], "waiting", b"one copy", ts(1))
    cluster.refuse.add(BASE_PORT + down)
    for _ in range(2):
        stats = [cluster.run(node) for node in range(NODES) if node != down]
        assert sum(s["failures"] for s in stats) == 1
        assert sum(s["objects_pushed"] for s in stats) == 0
        assert holding(cluster, "waiting") == [live]
    cluster.refuse.clear()
    assert cluster.run(live)["objects_pushed"] == 1
    assert holding(cluster, "waiting") == sorted([live, down])


def test_unmounted_device_is_skipped(cluster):
    stats = cluster.run(0, mount_check="true")
    assert stats["devices_skipped"] == 1 and stats["partitions"] == 0


def test_old_tombstones_are_reclaimed_by_the_sweep(cluster):
    part, primaries = cluster.primaries("dead")
    old = Timestamp(time.time() - 1000).internal
    for node in primaries:
        assert req(cluster.apps[node], f"/sda/{part}/a/c/dead", "DELETE",
                   X_Timestamp=old).status_int == 404
    put_to(cluster, cluster.primaries("alive")[1], "alive", b"x", ts(1))
    stats = [cluster.run(node, reclaim_age=500) for node in range(NODES)]
    assert sum(s["objects_pushed"] + s["failures"] for s in stats) == 0
    for node in range(NODES):
        assert [f for f in cluster.objects(node) if f.endswith(".ts")] == []
    assert sum(len(cluster.objects(node)) for node in range(NODES)) == 3  # alive's .data


def test_sweep_runs_once_per_interval(cluster):
    part, primaries = cluster.primaries("dead")
    node = primaries[0]
    aging = Timestamp(time.time() - 400).internal
    assert req(cluster.apps[node], f"/sda/{part}/a/c/dead", "DELETE",
               X_Timestamp=aging).status_int == 404
    cluster.run(node, reclaim_age=500)  # young: kept, its suffix hashed with it
    stamp = os.path.join(cluster.devices(node), "sda", "objects", str(part), SWEEP_STAMP)
    assert os.path.exists(stamp)
    tombstones = [f for f in cluster.objects(node) if f.endswith(".ts")]
    assert tombstones != []
    cluster.run(node, reclaim_age=300, reclaim_sweep_interval=3600)  # old now, no sweep due
    assert [f for f in cluster.objects(node) if f.endswith(".ts")] == tombstones
    os.utime(stamp, (time.time() - 7200,) * 2)
    cluster.run(node, reclaim_age=300, reclaim_sweep_interval=3600)
    assert [f for f in cluster.objects(node) if f.endswith(".ts")] == []


def test_device_pool_limits():
    running = collections.Counter()
    peaks = collections.Counter()
    finished = []

    def work(job):
        device, _ = job
        running[device] += 1
        running["all"] += 1
        peaks[device] = max(peaks[device], running[device])
        peaks["all"] = max(peaks["all"], running["all"])
        eventlet.sleep(0.001)
        running[device] -= 1
        running["all"] -= 1

    jobs = [(device, (device, index)) for device in "abc" for index in range(10)]
    run_per_device(jobs, work, concurrency=4, per_device=2, stopping=lambda: False,
                   finished=lambda: finished.append(1))
    assert len(finished) == 30 and peaks["all"] == 4
    assert max(peaks[d] for d in "abc") == 2
    finished.clear()
    run_per_device(jobs, work, concurrency=4, per_device=2, stopping=lambda: len(finished) >= 5,
                   finished=lambda: finished.append(1))
    assert 5 <= len(finished) < 10
