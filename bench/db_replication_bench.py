#!/usr/bin/env python3
"""Cost of a container replication pass on a real 3-node cluster (tests/cluster.py).

N containers with M object records each are written straight into every
node's LMDB (same records everywhere), the container servers started, and
then each node's ``DBReplicator.run_once`` is timed, in this process, over
HTTP to the real servers:

1. first pass: replicas that agree but have never synced (every record is
   offered once, nothing changes);
2. a pass when nothing differs: one ``sync`` per DB and peer, no writes;
3. a pass after one node's container DBs were wiped: the other nodes send
   it whole copies, then that node's own pass and a steady pass.

    python bench/db_replication_bench.py [--containers 1000] [--objects 10]
"""
from __future__ import annotations

import argparse
import configparser
import logging
import os
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from objstore.common.background import PassProgress  # noqa: E402
from objstore.common.hashing import hash_path  # noqa: E402
from objstore.db.broker import Broker  # noqa: E402
from objstore.db.schema import OBJECTS  # noqa: E402
from objstore.db.store import ListingStore  # noqa: E402
from replicator.db_replicator import container_replicator  # noqa: E402
from ring.ring import Ring  # noqa: E402
from tests.cluster import Cluster  # noqa: E402

LOG = logging.getLogger("db-replication-bench")
NODES = 3


def store_path(cluster: Cluster, node: int) -> str:
    return os.path.join(cluster.devices(node), f"sd{node}", "containers", "lmdb")


def populate(cluster: Cluster, node: int, containers: int, objects: int) -> None:
    """The same container DBs and records on one node, in one transaction."""
    ring = Ring(cluster.ring_dir, "container", hash_suffix=b"integration")
    store = ListingStore(store_path(cluster, node), use_tpool=False)

    def op(txn, _store):
        for i in range(containers):
            name = f"c{i:05d}"
            broker = Broker(store, OBJECTS, hash_path("AUTH_bench", name, suffix=b"integration"),
                            "AUTH_bench", name)
            info = broker.create_txn(txn, "1700000000.00000", 0, ring.get_part("AUTH_bench", name))
            broker.merge_items_txn(txn, info, [
                {"name": f"o{j:04d}", "created_at": f"1700000001.{j:05d}", "size": 4096,
                 "content_type": "application/octet-stream", "etag": "0" * 32}
                for j in range(objects)])
    try:
        store.write(op)
    finally:
        store.close()


def timed_pass(cluster: Cluster, node: int) -> tuple[float, dict]:
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(cluster.node_config(node))
    daemon = container_replicator(conf, LOG)
    try:
        started = time.perf_counter()
        counters = daemon.run_once(PassProgress(1, daemon.unit, LOG, threading.Event()))
        return time.perf_counter() - started, counters
    finally:
        daemon.close()


def row(label: str, node: int, seconds: float, counters: dict) -> str:
    return (f"| {label} | {node} | {seconds:.2f} s | {counters['checked'] / seconds:,.0f} | "
            f"{counters['in_sync']} | {counters['synced']} | {counters['whole_copies']} | "
            f"{counters['records_sent']:,} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=1000)
    parser.add_argument("--objects", type=int, default=10, help="object records per container")
    args = parser.parse_args()
    print(f"{args.containers:,} containers x {args.objects} records, {NODES} nodes, 3 replicas\n")
    print("| pass | node | time | DBs/s | peers in sync | peers synced | whole copies | records sent |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    with Cluster(nodes=NODES, replicas=3) as cluster:
        # the account, so that the container servers' stat reports succeed
        assert cluster.request("PUT", "/v1/AUTH_bench/seed")[0] == 201
        for node in range(NODES):
            cluster.stop_server("container", node)
            populate(cluster, node, args.containers, args.objects)
            cluster.start_server("container", node)
        for label in ("first sync, replicas agree", "nothing differs"):
            for node in range(NODES):
                print(row(label, node, *timed_pass(cluster, node)), flush=True)
        wiped = NODES - 1
        cluster.stop_server("container", wiped)
        shutil.rmtree(os.path.dirname(store_path(cluster, wiped)))
        cluster.start_server("container", wiped)
        for label, node in (("node 2 wiped", 0), ("node 2 wiped", 1), ("node 2 wiped", 2),
                            ("nothing differs again", 0)):
            print(row(label, node, *timed_pass(cluster, node)), flush=True)


if __name__ == "__main__":
    main()
