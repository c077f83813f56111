#!/usr/bin/env python3
"""Ring benchmark: rebalance speed and quality, lookups/s, ring load time and memory.

    python bench/ring_bench.py            # full: pp16/100 devs, pp20/1000 devs, +10%, lookups
    python bench/ring_bench.py --quick    # small sizes, a few seconds

With OpenStack Swift importable (or ``--swift-python /path/to/venv/bin/python``
naming an interpreter that has it), runs the same on Swift's ring and prints
the ratios.  Swift is never a dependency of objstore.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SEED = 42


def scenarios(quick: bool) -> list[dict]:
    if quick:
        return [dict(name="pp12/3r/100 devs/4 zones", part_power=12, devs=100, regions=1, zones=4),
                dict(name="pp14/3r/200 devs/2 regions/10 zones", part_power=14, devs=200,
                     regions=2, zones=10, grow=True, lookups=True)]
    return [dict(name="pp16/3r/100 devs/4 zones", part_power=16, devs=100, regions=1, zones=4),
            dict(name="pp20/3r/1000 devs/2 regions/10 zones", part_power=20, devs=1000,
                 regions=2, zones=10, grow=True, lookups=True)]


def device(i: int, regions: int, zones: int) -> dict:
    """Device i: spread round-robin over zones; 10 disks per server."""
    zone_index = i % zones
    region = 1 + zone_index * regions // zones
    server = i // zones // 10
    return {"region": region, "zone": zone_index + 1, "ip": f"10.{region}.{zone_index}.{server}",
            "port": 6200, "replication_ip": f"10.{region}.{zone_index}.{server}",
            "replication_port": 6200, "device": f"sd{i}", "weight": 100.0, "meta": ""}


class ObjstoreImpl:
    name = "objstore"

    def __init__(self) -> None:
        from ring import Ring, RingBuilder
        self.Ring, self.RingBuilder = Ring, RingBuilder

    def builder(self, part_power: int, replicas: float):
        return self.RingBuilder(part_power, replicas, 1)

    def add(self, builder, dev: dict) -> None:
        builder.add_dev(dev)

    def rebalance(self, builder, seed: int) -> None:
        builder.pretend_min_part_hours_passed()
        builder.rebalance(seed=seed)

    def stats(self, builder) -> tuple[float, float]:
        return builder.get_balance(), builder.dispersion_report()["dispersion"]

    def table(self, builder):
        import numpy as np
        return np.array(builder.table)

    def write(self, builder, folder: str) -> None:
        builder.write_ring(os.path.join(folder, "object.ring.gz"), keep_backup=False)

    def load(self, folder: str):
        return self.Ring(folder, "object", hash_suffix=b"bench")


class SwiftImpl:
    name = "swift"

    def __init__(self) -> None:
        from swift.common import utils
        from swift.common.ring import Ring, RingBuilder
        utils.HASH_PATH_SUFFIX = b"bench"
        utils.HASH_PATH_PREFIX = b""
        self.Ring, self.RingBuilder = Ring, RingBuilder

    def builder(self, part_power: int, replicas: float):
        return self.RingBuilder(part_power, replicas, 1)

    def add(self, builder, dev: dict) -> None:
        builder.add_dev(dict(dev))

    def rebalance(self, builder, seed: int) -> None:
        builder.pretend_min_part_hours_passed()
        builder.rebalance(seed=seed)

    def stats(self, builder) -> tuple[float, float]:
        return builder.get_balance(), builder.dispersion

    def table(self, builder):
        return [list(row) for row in builder._replica2part2dev]

    def write(self, builder, folder: str) -> None:
        builder.get_ring().save(os.path.join(folder, "object.ring.gz"))

    def load(self, folder: str):
        return self.Ring(folder, ring_name="object")


def moved_fraction(before, after) -> tuple[float, float]:
    """(partitions with a moved replica, replicas moved) as fractions."""
    parts = len(before[0])
    moved_parts = 0
    moved_slots = 0
    rows = list(zip(*before)), list(zip(*after))
    for old, new in zip(*rows):
        diff = sum(1 for a, b in zip(old, new) if a != b)
        moved_slots += diff
        moved_parts += diff > 0
    return moved_parts / parts, moved_slots / (parts * len(before))


def run_impl(impl, quick: bool, lookups: int) -> dict:
    results: dict = {}
    for scenario in scenarios(quick):
        row: dict = {}
        builder = impl.builder(scenario["part_power"], 3)
        for i in range(scenario["devs"]):
            impl.add(builder, device(i, scenario["regions"], scenario["zones"]))
        gc.collect()
        start = time.perf_counter()
        impl.rebalance(builder, SEED)
        row["rebalance_s"] = time.perf_counter() - start
        row["balance"], row["dispersion"] = impl.stats(builder)
        if scenario.get("grow"):
            before = impl.table(builder)
            extra = scenario["devs"] // 10
            for i in range(scenario["devs"], scenario["devs"] + extra):
                impl.add(builder, device(i, scenario["regions"], scenario["zones"]))
            start = time.perf_counter()
            impl.rebalance(builder, SEED + 1)
            row["grow_s"] = time.perf_counter() - start
            row["grow_parts_moved"], row["grow_replicas_moved"] = \
                moved_fraction(before, impl.table(builder))
            row["grow_balance"], row["grow_dispersion"] = impl.stats(builder)
        if scenario.get("lookups"):
            with tempfile.TemporaryDirectory() as folder:
                impl.write(builder, folder)
                del builder
                gc.collect()
                start = time.perf_counter()
                ring = impl.load(folder)
                row["load_s"] = time.perf_counter() - start
                del ring
                gc.collect()
                tracemalloc.start()   # a second load, for memory only (tracing slows it down)
                ring = impl.load(folder)
                row["load_mib"] = tracemalloc.get_traced_memory()[0] / 2**20
                tracemalloc.stop()
                names = [f"obj-{i}" for i in range(lookups)]
                ring.get_nodes("AUTH_bench", "cont", "warmup")
                start = time.perf_counter()
                for name in names:
                    ring.get_nodes("AUTH_bench", "cont", name)
                row["lookups_per_s"] = lookups / (time.perf_counter() - start)
                start = time.perf_counter()
                handoffs = max(lookups // 20, 1)
                for part in range(handoffs):
                    next(iter(ring.get_more_nodes(part % 1024)))
                row["first_handoff_per_s"] = handoffs / (time.perf_counter() - start)
        results[scenario["name"]] = row
    return results


METRICS = [("rebalance_s", "rebalance from scratch (s)", "{:.2f}", "lower"),
           ("balance", "balance (%)", "{:.2f}", None),
           ("dispersion", "dispersion (%)", "{:.2f}", None),
           ("grow_s", "rebalance after +10% devices (s)", "{:.2f}", "lower"),
           ("grow_parts_moved", "  partitions moved (%)", "{:.1%}", None),
           ("grow_replicas_moved", "  replicas moved (%)", "{:.2%}", None),
           ("grow_balance", "  balance after (%)", "{:.2f}", None),
           ("grow_dispersion", "  dispersion after (%)", "{:.2f}", None),
           ("lookups_per_s", "get_nodes per second", "{:,.0f}", "higher"),
           ("first_handoff_per_s", "first handoff per second", "{:,.0f}", "higher"),
           ("load_s", "ring load time (s)", "{:.3f}", "lower"),
           ("load_mib", "ring memory after load (MiB)", "{:.1f}", "lower")]


def print_table(ours: dict, theirs: dict | None) -> None:
    for scenario, row in ours.items():
        print(f"\n{scenario}")
        header = f"  {'metric':<36} {'objstore':>12}"
        if theirs:
            header += f" {'swift':>12} {'swift/objstore':>15}"
        print(header)
        for key, label, fmt, better in METRICS:
            if key not in row:
                continue
            line = f"  {label:<36} {fmt.format(row[key]):>12}"
            other = (theirs or {}).get(scenario, {}).get(key)
            if other is not None:
                line += f" {fmt.format(other):>12}"
                if better and row[key] and other:
                    ratio = other / row[key] if better == "lower" else row[key] / other
                    line += f" {ratio:>14.1f}x"
            print(line)


def swift_results(args) -> dict | None:
    if args.no_swift:
        return None
    python = args.swift_python
    if python is None:
        try:
            import swift.common.ring  # noqa: F401
        except ImportError:
            return None
        python = sys.executable
    command = [python, os.path.abspath(__file__), "--impl", "swift", "--json",
               "--lookups", str(args.lookups)] + (["--quick"] if args.quick else [])
    print(f"running the same on OpenStack Swift ({python}) ...", file=sys.stderr)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        print(f"swift run failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small rings, runs in seconds")
    parser.add_argument("--lookups", type=int, default=200_000, help="get_nodes calls to time")
    parser.add_argument("--swift-python", help="interpreter with OpenStack Swift installed")
    parser.add_argument("--no-swift", action="store_true", help="skip the Swift comparison")
    parser.add_argument("--impl", choices=["objstore", "swift"], default="objstore",
                        help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print raw results as JSON")
    args = parser.parse_args()
    impl = SwiftImpl() if args.impl == "swift" else ObjstoreImpl()
    ours = run_impl(impl, args.quick, args.lookups)
    if args.json:
        print(json.dumps(ours))
        return
    print_table(ours, swift_results(args))


if __name__ == "__main__":
    main()
