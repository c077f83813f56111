"""The container and account replicators in-process: four storage nodes,
each a real server app on its own devices directory, a real 3-replica ring,
and REPLICATE carried to the peer's app instead of over HTTP."""
from __future__ import annotations

import configparser
import logging
import os
import subprocess
import sys
import threading
import time

import msgpack
import pytest
from webob import Request

from objstore.account.server import AccountServer
from objstore.common.background import PassProgress
from objstore.common.timestamp import Timestamp
from objstore.container.server import ContainerServer
from objstore.db.maintenance import clear_dirty, databases, dirty_entries
from objstore.db.server import DBServer
from replicator.db_peer import PeerError, decode_answer, replicate_path
from replicator.db_push import LocalDB, peer_is_current
from replicator.db_replicator import DBReplicator, _drop_if_unchanged
from replicator.devices import ring_devices
from ring.builder import RingBuilder
from ring.ring import Ring
from tests.unit.test_container_server import call

LOG = logging.getLogger("test-db-replicator")
NODES = 4
BASE_PORT = 7000


def progress(stopping: bool = False) -> PassProgress:
    stop = threading.Event()
    if stopping:
        stop.set()
    return PassProgress(1, "dbs", LOG, stop)


class Cluster:
    """NODES in-process nodes of one server type; node i has device sd<i>."""

    def __init__(self, tmp_path, server: type[DBServer], **replicator_options: str) -> None:
        self.tmp = tmp_path
        self.server = server
        self.kind = server.server_type
        rings = tmp_path / "rings"
        rings.mkdir(exist_ok=True)
        builder = RingBuilder(4, 3, 0)
        for node in range(NODES):
            builder.add_dev({"region": 1, "zone": node + 1, "ip": "127.0.0.1",
                             "port": BASE_PORT + node, "device": f"sd{node}", "weight": 100})
        builder.rebalance(seed=1)
        builder.write_ring(str(rings / f"{self.kind}.ring.gz"))
        self.ring = Ring(str(rings), self.kind, hash_suffix=b"test")
        self.down: set[int] = set()
        self.requests: list[str] = []  # REPLICATE operations sent, in order
        self.confs = [self._conf(node, replicator_options) for node in range(NODES)]
        extra = {"account_ring": object(), "sender": lambda *a: 201} \
            if server is ContainerServer else {}
        self.apps = [server(conf, LOG, **extra) for conf in self.confs]

    def _conf(self, node: int, replicator_options: dict) -> configparser.ConfigParser:
        devices = self.tmp / f"node{node}"
        (devices / f"sd{node}").mkdir(parents=True, exist_ok=True)
        conf = configparser.ConfigParser()
        conf.read_dict({"objstore": {"hash_path_suffix": "test"},
                        "storage-policy:0": {"name": "gold", "default": "yes"},
                        f"{self.kind}-server": {
                            "devices": str(devices), "mount_check": "false",
                            "bind_port": str(BASE_PORT + node), "account_update_interval": "0",
                            "reclaim_interval": "0", "db_use_tpool": "false"},
                        f"{self.kind}-replicator": replicator_options})
        return conf

    def replicate(self, node, partition, db_hash, op, args):
        index = node["port"] - BASE_PORT
        if index in self.down:
            raise PeerError(f"node {index} is down")
        self.requests.append(op)
        body = msgpack.packb([op, args], use_bin_type=True)
        resp = Request.blank(replicate_path(node, partition, db_hash), method="REPLICATE",
                             body=body).get_response(self.apps[index])
        return decode_answer(resp.status_int, resp.content_type or "", resp.body)

    def replicator(self, node: int) -> DBReplicator:
        # one process may open an LMDB environment once: share the node's
        return DBReplicator(self.confs[node], LOG, self.server, 0, ring=self.ring,
                            replicate=self.replicate, stores=self.apps[node].stores)

    def run(self, node: int, pass_progress: PassProgress | None = None) -> dict:
        return self.replicator(node).run_once(pass_progress or progress())

    def run_all(self) -> list[dict]:
        return [self.run(node) for node in range(NODES)]

    def primaries(self, *names: str) -> tuple[int, list[int]]:
        part, nodes = self.ring.get_nodes(*names)
        return part, [n["port"] - BASE_PORT for n in nodes]

    def handoff(self, *names: str) -> int:
        _, primaries = self.primaries(*names)
        return next(n for n in range(NODES) if n not in primaries)

    def path(self, node: int, *names: str) -> str:
        part, _ = self.primaries(*names)
        return f"/sd{node}/{part}/" + "/".join(names)

    def info(self, node: int, *names: str) -> dict | None:
        app = self.apps[node]
        return app.broker(app.parse_path(Request.blank(self.path(node, *names)))).get_info()

    def dump(self, node: int, *names: str):
        """Every record (tombstones too, without seq), the metadata and the
        timestamps of one DB on one node; None if it has no such DB."""
        app = self.apps[node]
        broker = app.broker(app.parse_path(Request.blank(self.path(node, *names))))
        info = broker.get_info()
        if info is None:
            return None
        records = sorted((tuple(sorted((k, v) for k, v in rec.items() if k != "seq"))
                          for rec in broker.get_items_since(-1, 10 ** 6)))
        with broker.store.read() as txn:
            metadata = broker.metadata_txn(txn)
        return records, metadata, info["put_timestamp"], info["delete_timestamp"], info["stats"]

    def close(self) -> None:
        for app in self.apps:
            app.close()


@pytest.fixture
def containers(tmp_path):
    cluster = Cluster(tmp_path, ContainerServer)
    yield cluster
    cluster.close()


def ts(offset: float) -> str:
    return Timestamp(time.time() - 1000 + offset).internal


def put_object(cluster, node, name, when, size=1, etag="e", container=("a", "c")):
    return call(cluster.apps[node], cluster.path(node, *container) + "/" + name, "PUT",
                X_Timestamp=when, X_Size=str(size), X_Content_Type="text/plain", X_Etag=etag)


def test_diverged_primaries_converge_and_a_second_pass_writes_nothing(containers):
    part, (n0, n1, n2) = containers.primaries("a", "c")
    for node in (n0, n1, n2):
        assert call(containers.apps[node], containers.path(node, "a", "c"), "PUT",
                    X_Timestamp=ts(0)).status_int == 201
    put_object(containers, n0, "only-on-0", ts(1), size=10)
    put_object(containers, n1, "only-on-1", ts(2), size=20)
    put_object(containers, n0, "both", ts(3), size=3, etag="old")
    put_object(containers, n1, "both", ts(4), size=4, etag="new")
    put_object(containers, n2, "deleted", ts(5))
    call(containers.apps[n1], containers.path(n1, "a", "c") + "/deleted", "DELETE", X_Timestamp=ts(6))
    call(containers.apps[n2], containers.path(n2, "a", "c"), "POST", X_Timestamp=ts(7),
         X_Container_Meta_Color="blue")
    call(containers.apps[n0], containers.path(n0, "a", "c"), "POST", X_Timestamp=ts(8),
         X_Container_Meta_Size="big")

    stats = containers.run_all()
    dumps = [containers.dump(node, "a", "c") for node in (n0, n1, n2)]
    assert dumps[0] == dumps[1] == dumps[2]
    records, metadata, _, _, counters = dumps[0]
    live = {dict(rec)["name"]: dict(rec) for rec in records if not dict(rec)["deleted"]}
    assert sorted(live) == ["both", "only-on-0", "only-on-1"]
    assert live["both"]["etag"] == "new" and counters == [3, 34]
    assert {k: v[0] for k, v in metadata.items()} == {"X-Container-Meta-Color": "blue",
                                                      "X-Container-Meta-Size": "big"}
    listing = call(containers.apps[n2], containers.path(n2, "a", "c")).body
    assert listing == b"both\nonly-on-0\nonly-on-1\n"
    assert sum(s["synced"] for s in stats) == 6 and sum(s["failures"] for s in stats) == 0
    assert containers.dump(containers.handoff("a", "c"), "a", "c") is None

    # the next pass sends back what each replica received (each replica knows
    # only how far it has read a peer), which changes nothing; after it, the
    # replicas only compare sync points
    versions = [containers.info(n, "a", "c")["version"] for n in (n0, n1, n2)]
    echo = containers.run_all()
    assert versions == [containers.info(n, "a", "c")["version"] for n in (n0, n1, n2)]
    assert sum(s["failures"] for s in echo) == 0
    containers.requests.clear()
    again = containers.run_all()
    assert containers.requests == ["sync_many"] * 6   # one per node and peer device
    assert sum(s["synced"] for s in again) == 0 and sum(s["records_sent"] for s in again) == 0
    assert sum(s["in_sync"] for s in again) == 6 and sum(s["checked"] for s in again) == 3
    assert versions == [containers.info(n, "a", "c")["version"] for n in (n0, n1, n2)]


def test_a_peer_without_the_db_gets_a_whole_copy_in_batches(tmp_path):
    cluster = Cluster(tmp_path, ContainerServer, batch_size="2")
    try:
        _, (n0, n1, n2) = cluster.primaries("a", "c")
        call(cluster.apps[n0], cluster.path(n0, "a", "c"), "PUT", X_Timestamp=ts(0),
             X_Container_Meta_Owner="me")
        for i in range(5):
            put_object(cluster, n0, f"o{i}", ts(1 + i), size=i)
        stats = cluster.run(n0)
        assert stats["whole_copies"] == 2 and stats["records_sent"] == 10
        assert cluster.dump(n1, "a", "c") == cluster.dump(n0, "a", "c") == cluster.dump(n2, "a", "c")
        head = call(cluster.apps[n2], cluster.path(n2, "a", "c"), "HEAD")
        assert head.headers["X-Container-Object-Count"] == "5"
        assert head.headers["X-Container-Meta-Owner"] == "me"
        put_object(cluster, n0, "late", ts(10))
        stats = cluster.run(n0)  # only the change since the sync point goes out
        assert stats["records_sent"] == 2 and stats["whole_copies"] == 0
    finally:
        cluster.close()


def test_a_replicated_container_is_marked_for_its_account_update(containers):
    _, (n0, n1, _) = containers.primaries("a", "c")
    call(containers.apps[n0], containers.path(n0, "a", "c"), "PUT", X_Timestamp=ts(0))
    put_object(containers, n0, "o", ts(1), size=7)
    store = containers.apps[n1].store(f"sd{n1}")
    containers.run(n0)
    (db_hash, info), = databases(store)
    assert db_hash in dict(dirty_entries(store)) and info["stats"] == [1, 7]


def test_a_handoff_db_moves_to_its_primaries_and_is_removed(containers):
    handoff = containers.handoff("a", "c")
    call(containers.apps[handoff], containers.path(handoff, "a", "c"), "PUT", X_Timestamp=ts(0))
    put_object(containers, handoff, "o", ts(1), size=5)
    _, primaries = containers.primaries("a", "c")
    containers.down.add(primaries[0])
    stats = containers.run(handoff)
    assert stats["failures"] == 1 and stats["handoffs_removed"] == 0
    assert containers.dump(handoff, "a", "c") is not None   # kept: one primary did not answer
    containers.down.clear()
    stats = containers.run(handoff)
    assert stats["handoffs_removed"] == 1 and stats["failures"] == 0
    assert containers.dump(handoff, "a", "c") is None
    assert list(databases(containers.apps[handoff].store(f"sd{handoff}"))) == []
    for node in primaries:
        records, *_ = containers.dump(node, "a", "c")
        assert [dict(r)["name"] for r in records] == ["o"]


def test_a_copy_goes_to_a_handoff_while_a_primary_disk_is_missing(containers):
    _, (n0, n1, n2) = containers.primaries("a", "c")
    handoff = containers.handoff("a", "c")
    call(containers.apps[n0], containers.path(n0, "a", "c"), "PUT", X_Timestamp=ts(0))
    os.rename(containers.tmp / f"node{n1}" / f"sd{n1}", containers.tmp / f"node{n1}" / "gone")
    stats = containers.run(n0)
    assert stats["failures"] == 1 and stats["whole_copies"] == 2
    assert containers.dump(handoff, "a", "c") == containers.dump(n0, "a", "c")
    assert containers.dump(n2, "a", "c") is not None


def test_a_handoff_changed_after_it_was_read_is_kept(containers):
    handoff = containers.handoff("a", "c")
    app = containers.apps[handoff]
    call(app, containers.path(handoff, "a", "c"), "PUT", X_Timestamp=ts(0))
    broker = app.broker(app.parse_path(Request.blank(containers.path(handoff, "a", "c"))))
    store = broker.store
    db = LocalDB.read(broker, 0)
    call(app, containers.path(handoff, "a", "c"), "POST", X_Timestamp=ts(1), X_Container_Meta_X="1")
    assert store.write(lambda txn, s: _drop_if_unchanged(txn, db)) is False
    db = LocalDB.read(broker, 0)
    assert store.write(lambda txn, s: _drop_if_unchanged(txn, db)) is True
    assert broker.get_info() is None


def test_deleted_dbs_and_records_are_reclaimed_not_pushed(tmp_path):
    cluster = Cluster(tmp_path, ContainerServer, reclaim_age="100")
    try:
        _, old_primaries = cluster.primaries("a", "old")
        _, kept_primaries = cluster.primaries("a", "kept")
        n0, n1 = [n for n in old_primaries if n in kept_primaries][:2]
        app = cluster.apps[n0]
        call(app, cluster.path(n0, "a", "old"), "PUT", X_Timestamp=ts(0))
        call(app, cluster.path(n0, "a", "old"), "DELETE", X_Timestamp=ts(1))
        call(app, cluster.path(n0, "a", "kept"), "PUT", X_Timestamp=ts(0))
        put_object(cluster, n0, "gone", ts(1), container=("a", "kept"))
        call(app, cluster.path(n0, "a", "kept") + "/gone", "DELETE", X_Timestamp=ts(2))
        put_object(cluster, n0, "fresh-tombstone", ts(999), container=("a", "kept"))
        call(app, cluster.path(n0, "a", "kept") + "/fresh-tombstone", "DELETE",
             X_Timestamp=Timestamp.now().internal)
        # (reclaim keeps a deleted DB until the account has heard of its deletion)
        clear_dirty(app.store(f"sd{n0}"), dirty_entries(app.store(f"sd{n0}")))
        stats = cluster.run(n0)
        assert cluster.dump(n0, "a", "old") is None and cluster.dump(n1, "a", "old") is None
        assert stats["reclaimed_dbs"] == 1 and stats["reclaimed_records"] == 1
        records, *_ = cluster.dump(n0, "a", "kept")
        assert [dict(r)["name"] for r in records] == ["fresh-tombstone"]
    finally:
        cluster.close()


def test_an_unmounted_device_is_skipped(tmp_path):
    cluster = Cluster(tmp_path, ContainerServer, mount_check="true")
    try:
        _, (n0, *_) = cluster.primaries("a", "c")
        call(cluster.apps[n0], cluster.path(n0, "a", "c"), "PUT", X_Timestamp=ts(0))
        stats = cluster.run(n0)
        assert stats["devices_skipped"] == 1 and stats["checked"] == 0
    finally:
        cluster.close()


def test_a_stopping_pass_returns_before_any_db(containers):
    _, (n0, *_) = containers.primaries("a", "c")
    call(containers.apps[n0], containers.path(n0, "a", "c"), "PUT", X_Timestamp=ts(0))
    stopped = progress(stopping=True)
    stats = containers.run(n0, stopped)
    assert stats["checked"] == 0 and stopped.total == 1 and stopped.done == 0


def test_account_dbs_replicate_with_their_stats(tmp_path):
    cluster = Cluster(tmp_path, AccountServer)
    try:
        _, (n0, n1, n2) = cluster.primaries("AUTH_x")
        call(cluster.apps[n0], cluster.path(n0, "AUTH_x"), "PUT", X_Timestamp=ts(0),
             X_Account_Meta_Quota="5")
        call(cluster.apps[n1], cluster.path(n1, "AUTH_x"), "PUT", X_Timestamp=ts(0))
        call(cluster.apps[n0], cluster.path(n0, "AUTH_x") + "/c1", "PUT", X_Put_Timestamp=ts(1),
             X_Object_Count="3", X_Bytes_Used="30", X_Timestamp=ts(1))
        call(cluster.apps[n1], cluster.path(n1, "AUTH_x") + "/c1", "PUT", X_Put_Timestamp=ts(1),
             X_Object_Count="4", X_Bytes_Used="40", X_Timestamp=ts(2))
        call(cluster.apps[n1], cluster.path(n1, "AUTH_x") + "/c2", "PUT", X_Put_Timestamp=ts(3),
             X_Object_Count="1", X_Bytes_Used="1", X_Timestamp=ts(3))
        one_pass = progress()
        cluster.run(n0, one_pass)
        assert one_pass.total == one_pass.done == 1
        cluster.run_all()
        for node in (n0, n1, n2):
            head = call(cluster.apps[node], cluster.path(node, "AUTH_x"), "HEAD")
            assert (head.headers["X-Account-Container-Count"], head.headers["X-Account-Object-Count"],
                    head.headers["X-Account-Bytes-Used"]) == ("2", "5", "41")
            assert head.headers["X-Account-Meta-Quota"] == "5"
        assert cluster.dump(n0, "AUTH_x") == cluster.dump(n1, "AUTH_x") == cluster.dump(n2, "AUTH_x")
    finally:
        cluster.close()


def test_peer_is_current_compares_points_timestamps_and_metadata(containers):
    app = containers.apps[0]
    call(app, containers.path(0, "a", "c"), "PUT", X_Timestamp=ts(0), X_Container_Meta_A="1")
    broker = app.broker(app.parse_path(Request.blank(containers.path(0, "a", "c"))))
    db = LocalDB.read(broker, 0)
    info, meta = dict(db.info), {k: list(v) for k, v in db.metadata.items()}
    assert peer_is_current(db, info, meta, db.info["max_seq"])
    assert not peer_is_current(db, info, meta, db.info["max_seq"] - 1)
    assert not peer_is_current(db, info, {}, db.info["max_seq"])
    older = {k: [v, ts(-5)] for k, (v, _) in meta.items()}
    assert not peer_is_current(db, info, older, db.info["max_seq"])
    assert not peer_is_current(db, dict(info, put_timestamp=ts(-5)), meta, db.info["max_seq"])
    deleted = LocalDB(broker, dict(info, delete_timestamp=ts(1)), db.metadata, 0)
    assert not peer_is_current(deleted, info, meta, db.info["max_seq"])


def test_decode_answer():
    assert decode_answer(200, "application/x-msgpack", msgpack.packb({"point": 3})) == (200, {"point": 3})
    assert decode_answer(404, "text/plain", b"No such DB\n") == (404, {"error": "No such DB"})
    for content_type, body in (("text/html", b"<html>"), ("application/x-msgpack", b"\xc1"),
                               ("application/x-msgpack", msgpack.packb([1]))):
        with pytest.raises(PeerError):
            decode_answer(200, content_type, body)


def test_ring_devices_match_address_or_replication_address():
    devs = [{"ip": "10.0.0.1", "port": 6201, "device": "b"},
            None,
            {"ip": "10.0.0.1", "port": 6202, "device": "x"},
            {"ip": "10.0.0.2", "port": 6201, "replication_ip": "10.1.0.1",
             "replication_port": 6201, "device": "a"},
            {"ip": "10.0.0.3", "port": 6201, "device": "c"}]
    assert list(ring_devices(devs, "10.0.0.1", 6201)) == ["b"]
    assert list(ring_devices(devs, "10.1.0.1", 6201)) == ["a"]
    assert list(ring_devices(devs, "0.0.0.0", 6201)) == []
    assert list(ring_devices([dict(devs[0], ip="127.0.0.1")], "0.0.0.0", 6201)) == ["b"]


def test_the_replicator_scripts_start_without_import_noise():
    result = subprocess.run([sys.executable, "-c", "import replicator.db_replicator"],
                            capture_output=True, text=True, timeout=60, check=True)
    assert "Eventlet" not in result.stderr
