"""The container and account replicators between real daemons (4 nodes, 3
replicas): a node whose container and account servers missed writes catches
up after one ``--once`` pass of each replicator on every node, container
copies written to a handoff meanwhile move to their primaries and leave the
handoff, a pass over replicas that agree sends nothing, and deleted
containers and records go after ``reclaim_age``."""
from __future__ import annotations

import configparser
import hashlib
import json
import logging
import os
import threading
import time

import pytest

from objstore.common.background import PassProgress
from objstore.db.maintenance import broker_for, databases, dirty_entries
from objstore.db.schema import CONTAINERS, OBJECTS
from objstore.db.store import ListingStore
from replicator.db_replicator import account_replicator, container_replicator
from ring.builder import RingBuilder
from tests.cluster import Cluster
from tests.support import wait_for

LOG = logging.getLogger("test-db-replicators")
NODES = 4
VICTIM = 1  # its container and account servers miss the writes
KINDS = {"container": ("containers", OBJECTS), "account": ("accounts", CONTAINERS)}


@pytest.fixture(scope="module")
def cluster():
    with Cluster(nodes=NODES, replicas=3) as running:
        yield running


def primaries(cluster: Cluster, kind: str, *names: str) -> tuple[int, list[int]]:
    part, nodes = cluster.ring(kind).get_nodes(*names)
    return part, [node["id"] for node in nodes]  # device id i is node i's


def snapshot(cluster: Cluster, kind: str, node: int) -> tuple[dict, int]:
    """{names: (records without seq, metadata, put/delete timestamps, stats)}
    of every DB on a node, read straight from its LMDB, and how many are dirty."""
    subdir, record_kind = KINDS[kind]
    path = os.path.join(cluster.devices(node), f"sd{node}", subdir, "lmdb")
    if not os.path.isdir(path):
        return {}, 0
    store = ListingStore(path, use_tpool=False)
    try:
        dbs = {}
        for db_hash, info in databases(store):
            broker = broker_for(store, record_kind, db_hash, info)
            records = sorted(tuple(sorted((k, v) for k, v in rec.items() if k != "seq"))
                             for rec in broker.get_items_since(-1, 10 ** 6))
            with store.read() as txn:
                metadata = broker.metadata_txn(txn)
            names = (info["account"],) + ((info["container"],) if info["container"] else ())
            dbs[names] = (records, metadata, info["put_timestamp"], info["delete_timestamp"],
                          info["stats"])
        return dbs, len(dirty_entries(store))
    finally:
        store.close()


def proxy(cluster: Cluster, method: str, path: str, body: bytes = b"", **headers: str):
    status, _, _ = cluster.request(method, path, body=body,
                                   headers={k.replace("_", "-"): v for k, v in headers.items()})
    assert status // 100 == 2, (method, path, status)


def direct(cluster: Cluster, kind: str, node: int, *names: str, query: str = ""):
    part, _ = primaries(cluster, kind, *names)
    return cluster.request("GET" if query else "HEAD",
                           f"/sd{node}/{part}/" + "/".join(names) + query,
                           port=cluster.ports[node][kind])


def node1_primary_names(cluster: Cluster, count: int) -> list[str]:
    names = (f"new-{i}" for i in range(1000))
    return [n for n in names if VICTIM in primaries(cluster, "container", "AUTH_test", n)[1]][:count]


def run_all(cluster: Cluster, daemon: str) -> list[dict]:
    """One ``bin/objstore-<daemon> --once`` pass on every node, one after the
    other (so one round converges any divergence); their counters."""
    passes = [cluster.run_once(node, daemon) for node in range(NODES)]
    assert all(p["outcome"] == "done" for p in passes), passes
    return [p["counters"] for p in passes]


def run_in_process(cluster: Cluster, kind: str, **options: str) -> list[dict]:
    """The same round with the replicator in this process (the servers stay
    real daemons): what the tests after the first need, without paying a
    daemon start per pass."""
    factory = {"container": container_replicator, "account": account_replicator}[kind]
    counters = []
    for node in range(NODES):
        conf = configparser.ConfigParser(interpolation=None)
        conf.read(cluster.node_config(node))
        conf[f"{kind}-replicator"] = {"db_use_tpool": "false", **options}
        daemon = factory(conf, LOG)
        try:
            counters.append(daemon.run_once(PassProgress(1, daemon.unit, LOG, threading.Event())))
        finally:
            daemon.close()
    return counters


def total(counters: list[dict], name: str) -> int:
    return sum(c[name] for c in counters)


def no_dirty_containers(cluster: Cluster) -> bool:
    """Every container server has reported every change to the accounts."""
    return all(snapshot(cluster, "container", node)[1] == 0 for node in range(NODES))


def test_a_node_that_missed_writes_catches_up(cluster):
    model: dict[tuple[str, str], dict[str, tuple[int, str]]] = {}

    def put_object(account, container, name, body):
        proxy(cluster, "PUT", f"/v1/{account}/{container}/{name}", body)
        model.setdefault((account, container), {})[name] = (len(body), hashlib.md5(body).hexdigest())

    def delete_object(account, container, name):
        proxy(cluster, "DELETE", f"/v1/{account}/{container}/{name}")
        del model[(account, container)][name]

    proxy(cluster, "PUT", "/v1/AUTH_test/pre")
    proxy(cluster, "PUT", "/v1/AUTH_test/gone")
    for name in ("keep", "doomed", "rewritten"):
        put_object("AUTH_test", "pre", name, name.encode())

    cluster.stop_server("container", VICTIM)
    cluster.stop_server("account", VICTIM)
    new = node1_primary_names(cluster, 3)
    for container in new:
        proxy(cluster, "PUT", f"/v1/AUTH_test/{container}", X_Container_Meta_Made="down")
        model[("AUTH_test", container)] = {}
        for i in range(3):
            put_object("AUTH_test", container, f"o{i}", b"x" * (i + 1))
    put_object("AUTH_test", "pre", "rewritten", b"a longer body")
    put_object("AUTH_test", "pre", "added", b"added")
    delete_object("AUTH_test", "pre", "doomed")
    delete_object("AUTH_test", new[0], "o0")
    proxy(cluster, "POST", "/v1/AUTH_test/pre", X_Container_Meta_Color="red")
    proxy(cluster, "POST", "/v1/AUTH_test", X_Account_Meta_Owner="ops")
    proxy(cluster, "DELETE", "/v1/AUTH_test/gone")
    proxy(cluster, "PUT", "/v1/AUTH_other/c")
    model[("AUTH_other", "c")] = {}
    put_object("AUTH_other", "c", "o", b"other")

    handoff_copies = [names for node in range(NODES)
                      for names in snapshot(cluster, "container", node)[0]
                      if node not in primaries(cluster, "container", *names)[1]]
    assert handoff_copies, "the proxy should have written containers to a handoff"
    cluster.start_server("container", VICTIM)
    cluster.start_server("account", VICTIM)

    counters = run_all(cluster, "container-replicator")
    assert total(counters, "failures") == 0
    assert total(counters, "whole_copies") >= len(new)
    assert total(counters, "handoffs_removed") == len(set(handoff_copies))
    wait_for(lambda: no_dirty_containers(cluster), timeout=30, what="account stat reports")
    counters = run_all(cluster, "account-replicator")
    assert total(counters, "failures") == 0 and total(counters, "whole_copies") >= 1

    containers = [snapshot(cluster, "container", node)[0] for node in range(NODES)]
    for (account, container), objects in model.items():
        _, nodes = primaries(cluster, "container", account, container)
        copies = {node: containers[node].get((account, container)) for node in range(NODES)}
        assert all(copies[node] is None for node in range(NODES) if node not in nodes)
        assert copies[nodes[0]] == copies[nodes[1]] == copies[nodes[2]] is not None
        expected = sorted((name, size, etag) for name, (size, etag) in objects.items())
        for node in nodes:
            status, headers, body = direct(cluster, "container", node, account, container,
                                           query="?format=json")
            assert status in (200, 204)
            listed = sorted((o["name"], o["bytes"], o["hash"]) for o in json.loads(body or b"[]"))
            assert listed == expected, (account, container, node)
            assert int(headers["x-container-object-count"]) == len(expected)
            assert int(headers["x-container-bytes-used"]) == sum(size for _, size, _ in expected)
    assert {m[0] for m in containers[primaries(cluster, "container", "AUTH_test", "pre")[1][0]]
            [("AUTH_test", "pre")][1].values()} == {"red"}
    for node in primaries(cluster, "container", "AUTH_test", "gone")[1]:
        assert direct(cluster, "container", node, "AUTH_test", "gone")[0] == 404

    accounts = [snapshot(cluster, "account", node)[0] for node in range(NODES)]
    for account in ("AUTH_test", "AUTH_other"):
        _, nodes = primaries(cluster, "account", account)
        assert accounts[nodes[0]][(account,)] == accounts[nodes[1]][(account,)] \
            == accounts[nodes[2]][(account,)]
        live = {c: objects for (a, c), objects in model.items() if a == account}
        for node in nodes:
            status, headers, body = direct(cluster, "account", node, account, query="?format=json")
            assert status == 200
            assert sorted((c["name"], c["count"], c["bytes"]) for c in json.loads(body)) == sorted(
                (c, len(objects), sum(size for size, _ in objects.values()))
                for c, objects in live.items())
            assert (int(headers["x-account-container-count"]),
                    int(headers["x-account-object-count"]),
                    int(headers["x-account-bytes-used"])) == (
                len(live), sum(len(o) for o in live.values()),
                sum(size for o in live.values() for size, _ in o.values()))
            if account == "AUTH_test":
                assert headers["x-account-meta-owner"] == "ops"


def test_a_pass_over_agreeing_replicas_sends_nothing(cluster):
    proxy(cluster, "PUT", "/v1/AUTH_test/quiet")
    proxy(cluster, "PUT", "/v1/AUTH_test/quiet/o", b"data")
    run_in_process(cluster, "container")   # the first exchange of this container's records
    run_in_process(cluster, "container")   # each replica sends back what it received
    counters = run_in_process(cluster, "container")
    assert total(counters, "synced") == 0 and total(counters, "records_sent") == 0
    assert total(counters, "in_sync") == 2 * total(counters, "checked") > 0


def test_deleted_containers_and_records_are_reclaimed(cluster):
    proxy(cluster, "PUT", "/v1/AUTH_test/short-lived")
    proxy(cluster, "PUT", "/v1/AUTH_test/short-lived/o", b"data")
    proxy(cluster, "DELETE", "/v1/AUTH_test/short-lived/o")
    proxy(cluster, "DELETE", "/v1/AUTH_test/short-lived")
    deleted_at = time.time()
    wait_for(lambda: no_dirty_containers(cluster), timeout=30, what="account stat reports")
    _, nodes = primaries(cluster, "container", "AUTH_test", "short-lived")
    assert all(("AUTH_test", "short-lived") in snapshot(cluster, "container", n)[0] for n in nodes)

    wait_for(lambda: time.time() > deleted_at + 1.0, timeout=5, what="reclaim_age to pass")
    counters = run_in_process(cluster, "container", reclaim_age="1")
    assert total(counters, "reclaimed_dbs") >= 3 and total(counters, "reclaimed_records") > 0
    for node in range(NODES):
        dbs, _ = snapshot(cluster, "container", node)
        assert ("AUTH_test", "short-lived") not in dbs
        assert all(not dict(rec)["deleted"] for records, *_ in dbs.values() for rec in records)
    counters = run_in_process(cluster, "account", reclaim_age="1")
    assert total(counters, "reclaimed_records") >= 3
    for node in primaries(cluster, "account", "AUTH_test")[1]:
        records = snapshot(cluster, "account", node)[0][("AUTH_test",)][0]
        assert "short-lived" not in {dict(rec)["name"] for rec in records}


def test_after_a_rebalance_every_db_moves_to_its_new_primaries(cluster):
    names = [f"moving-{i}" for i in range(12)]
    for name in names:
        proxy(cluster, "PUT", f"/v1/AUTH_test/{name}", X_Container_Meta_Name=name)
        proxy(cluster, "PUT", f"/v1/AUTH_test/{name}/o", name.encode())
    wait_for(lambda: no_dirty_containers(cluster), timeout=30, what="account stat reports")
    before = {name: primaries(cluster, "container", "AUTH_test", name)[1] for name in names}
    builder = RingBuilder(cluster.part_power, 3, 0)
    for node in range(NODES):  # node 0 now takes three times its share
        builder.add_dev({"region": 1, "zone": node + 1, "ip": "127.0.0.1",
                         "port": cluster.ports[node]["container"], "device": f"sd{node}",
                         "weight": 300 if node == 0 else 100})
    builder.rebalance(seed=7)
    builder.write_ring(os.path.join(cluster.ring_dir, "container.ring.gz"))
    after = {name: primaries(cluster, "container", "AUTH_test", name)[1] for name in names}
    moved = [name for name in names if set(before[name]) != set(after[name])]
    assert moved, "the new ring should move some of these containers"

    counters = run_in_process(cluster, "container")
    assert total(counters, "handoffs_removed") >= len(moved) and total(counters, "failures") == 0
    dbs = [snapshot(cluster, "container", node)[0] for node in range(NODES)]
    for name in names:
        copies = [dbs[node].get(("AUTH_test", name)) for node in range(NODES)]
        assert [node for node in range(NODES) if copies[node]] == sorted(after[name]), name
        first = copies[after[name][0]]
        assert all(copies[node] == first for node in after[name])
        assert [dict(rec)["name"] for rec in first[0]] == ["o"]
        assert first[1]["X-Container-Meta-Name"][0] == name
