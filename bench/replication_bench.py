#!/usr/bin/env python3
"""Object replication benchmark: restore a wiped node, then a pass with nothing to do.

Starts a 3-node cluster (``tests/cluster.py``, 3 replicas), writes
``--objects`` objects of ``--min-size`` to ``--max-size`` bytes (sizes spread
evenly on a log scale) straight to the object servers of nodes 0 and 1 only
-- node 2 is the wiped one -- and runs ``objstore-object-replicator --once``
on every node at once, as a cluster would.  Then it checks that node 2 holds
every object and runs the passes twice more: the first of them rehashes the
suffixes node 2 received (and sweeps its new partitions), the second is a
pass when nothing differs::

    python bench/replication_bench.py                  # 2,000 objects, 4 KiB - 1 MiB
    python bench/replication_bench.py --objects 500 --concurrency 8
"""
from __future__ import annotations

import argparse
import concurrent.futures
import glob
import http.client
import math
import os
import random
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from ring.ring import Ring  # noqa: E402
from tests.cluster import Cluster  # noqa: E402

DAEMON = "object-replicator"
WRITERS = 16


def sizes(count: int, low: int, high: int, seed: int = 1) -> list[int]:
    rng = random.Random(seed)
    return [int(math.exp(rng.uniform(math.log(low), math.log(high)))) for _ in range(count)]


def write_objects(cluster: Cluster, ring: Ring, lengths: list[int], nodes: list[int]) -> None:
    """Each object PUT to its primaries on ``nodes`` (backend requests, no proxy)."""
    ports = {cluster.ports[node]["object"] for node in nodes}
    payload = os.urandom(max(lengths))

    def put(index: int) -> None:
        name = f"o{index:06d}"
        part, primaries = ring.get_nodes("AUTH_bench", "c", name)
        timestamp = f"{time.time():.5f}"  # one version, on every replica (as the proxy does)
        for device in primaries:
            if device["port"] not in ports:
                continue
            conn = http.client.HTTPConnection("127.0.0.1", device["port"], timeout=60)
            conn.request("PUT", f"/{device['device']}/{part}/AUTH_bench/c/{name}",
                         body=payload[:lengths[index]],
                         headers={"X-Timestamp": timestamp,
                                  "Content-Type": "application/octet-stream"})
            status = conn.getresponse().status
            conn.close()
            if status != 201:
                raise RuntimeError(f"PUT {name}: {status}")

    with concurrent.futures.ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(put, range(len(lengths))))


def run_passes(cluster: Cluster, options: dict[str, str]) -> tuple[float, list[dict]]:
    """One --once pass on every node at once: (wall time, each node's counters)."""
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(cluster.node_count) as pool:
        passes = list(pool.map(lambda node: cluster.run_once(node, DAEMON, options, timeout=900),
                               range(cluster.node_count)))
    return time.perf_counter() - started, [done["counters"] for done in passes]


def data_files(cluster: Cluster, node: int) -> list[str]:
    return glob.glob(os.path.join(cluster.devices(node), "*", "objects", "*", "*", "*", "*.data"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--min-size", type=int, default=4096)
    parser.add_argument("--max-size", type=int, default=1 << 20)
    parser.add_argument("--concurrency", type=int, default=4,
                        help="[object-replicator] concurrency of each node")
    parser.add_argument("--part-power", type=int, default=8)
    args = parser.parse_args(argv)
    options = {"concurrency": str(args.concurrency)}
    lengths = sizes(args.objects, args.min_size, args.max_size)
    with Cluster(nodes=3, replicas=3, part_power=args.part_power) as cluster:
        ring = Ring(cluster.ring_dir, "object", hash_suffix=b"integration")
        started = time.perf_counter()
        write_objects(cluster, ring, lengths, [0, 1])
        print(f"wrote {args.objects} objects ({sum(lengths) / 1e6:.1f} MB) to nodes 0 and 1 "
              f"in {time.perf_counter() - started:.1f} s")
        wall, counters = run_passes(cluster, options)
        restored = data_files(cluster, 2)
        if len(restored) != args.objects:
            raise RuntimeError(f"node 2 holds {len(restored)} of {args.objects} objects")
        restored_bytes = sum(os.path.getsize(path) for path in restored)
        idle = [run_passes(cluster, options) for _ in range(2)]
        if any(c["objects_pushed"] for _, counters_ in idle for c in counters_):
            raise RuntimeError(f"a pass after the restore pushed objects: {idle}")
    pushed = sum(c["bytes_pushed"] for c in counters)
    print(f"\n| pass ({args.objects} objects, {args.min_size}-{args.max_size} B, "
          f"concurrency {args.concurrency}) | wall time | slowest node's pass | MB/s restored |"
          f" objects pushed | MB pushed |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(f"| restore the wiped node 2 | {wall:.1f} s | "
          f"{max(c['duration'] for c in counters):.1f} s | {restored_bytes / 1e6 / wall:.1f} | "
          f"{sum(c['objects_pushed'] for c in counters)} | {pushed / 1e6:.1f} |")
    for what, (idle_wall, idle_counters) in zip(
            ("next pass (node 2 rehashes what it received)", "nothing differs"), idle):
        print(f"| {what} | {idle_wall:.2f} s | "
              f"{max(c['duration'] for c in idle_counters):.2f} s | - | 0 | 0 |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
