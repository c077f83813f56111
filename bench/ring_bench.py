#!/usr/bin/env python3
"""Ring benchmark: rebalance speed and quality, lookups/s, ring load time and memory.

    python bench/ring_bench.py            # full: pp16/100 devs, pp20/1000 devs, +10%, lookups
    python bench/ring_bench.py --quick    # small sizes, a few seconds

With OpenStack Swift importable (or ``--swift-python /path/to/venv/bin/python``
naming an interpreter that has Swift, numpy and msgpack: the benchmark then
re-runs itself there with this repository on PYTHONPATH), runs the same on
Swift's ring, taking turns for the lookup measurements, and prints the
ratios.  Swift is never a dependency of objstore.
"""
from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
import tracemalloc

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

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
        from ring.builder import RingBuilder
        from ring.ring import Ring
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
        return [row.copy() for row in builder.ring_rows()]

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
        return [np.array(row) for row in builder._replica2part2dev]

    def write(self, builder, folder: str) -> None:
        builder.get_ring().save(os.path.join(folder, "object.ring.gz"))

    def load(self, folder: str):
        return self.Ring(folder, ring_name="object")


def moved_fraction(before: list, after: list) -> tuple[float, float]:
    """(partitions with a moved replica, replicas moved) as fractions; rows may be ragged."""
    parts = len(before[0])
    touched = np.zeros(parts, dtype=bool)
    moved = total = 0
    for old, new in zip(before, after):
        old, new = np.asarray(old), np.asarray(new)
        length = min(len(old), len(new))
        changed = old[:length] != new[:length]
        touched[:length] |= changed
        moved += int(changed.sum())
        total += len(old)
    return touched.sum() / parts, moved / total


def build(impl, scenario: dict) -> tuple[object, dict]:
    """Rebalance from scratch, then (optionally) after adding 10% more devices."""
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
    return builder, row


def measure_lookups(impls: list, builders: list, rows: list[dict], lookups: int) -> None:
    """Load time, memory, get_nodes/s and first handoff/s; implementations take turns."""
    names = [f"obj-{i}" for i in range(lookups)]
    handoff_parts = [i * 7919 % 1024 for i in range(max(lookups // 10, 1))]
    folders = [tempfile.mkdtemp() for _ in impls]
    rings = []
    for impl, builder, row, folder in zip(impls, builders, rows, folders):
        impl.write(builder, folder)
        gc.collect()
        tracemalloc.start()   # a load for memory only (tracing slows it down)
        ring = impl.load(folder)
        row["load_mib"] = tracemalloc.get_traced_memory()[0] / 2**20
        tracemalloc.stop()
        rings.append(ring)
    for row in rows:
        row.update(load_s=float("inf"), lookups_per_s=0.0, first_handoff_per_s=0.0)
    for _ in range(5):   # the machine is shared: keep each implementation's best round
        for impl, ring, row, folder in zip(impls, rings, rows, folders):
            start = time.perf_counter()
            impl.load(folder)
            row["load_s"] = min(row["load_s"], time.perf_counter() - start)
            start = time.perf_counter()
            for name in names:
                ring.get_nodes("AUTH_bench", "cont", name)
            row["lookups_per_s"] = max(row["lookups_per_s"],
                                       lookups / (time.perf_counter() - start))
            start = time.perf_counter()
            for part in handoff_parts:
                next(iter(ring.get_more_nodes(part)))
            row["first_handoff_per_s"] = max(row["first_handoff_per_s"],
                                             len(handoff_parts) / (time.perf_counter() - start))
    for folder in folders:
        shutil.rmtree(folder)


def run(impls: list, quick: bool, lookups: int) -> dict[str, dict]:
    """{implementation name: {scenario name: metrics}}"""
    results: dict[str, dict] = {impl.name: {} for impl in impls}
    for scenario in scenarios(quick):
        builders, rows = [], []
        for impl in impls:
            print(f"{impl.name}: {scenario['name']} ...", file=sys.stderr)
            builder, row = build(impl, scenario)
            builders.append(builder)
            rows.append(row)
            results[impl.name][scenario["name"]] = row
        if scenario.get("lookups"):
            measure_lookups(impls, builders, rows, lookups)
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


def swift_available() -> bool:
    try:
        import swift.common.ring  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small rings, runs in seconds")
    parser.add_argument("--lookups", type=int, default=100_000, help="get_nodes calls per round")
    parser.add_argument("--swift-python", help="re-run this benchmark under an interpreter that "
                                               "has OpenStack Swift (plus numpy and msgpack)")
    parser.add_argument("--no-swift", action="store_true", help="skip the Swift comparison")
    args = parser.parse_args()
    if args.swift_python and not args.no_swift and not swift_available():
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            filter(None, [REPO, os.environ.get("PYTHONPATH")])))
        argv = [arg for arg in sys.argv[1:] if arg != args.swift_python and arg != "--swift-python"
                and not arg.startswith("--swift-python=")]
        os.execve(args.swift_python, [args.swift_python, os.path.abspath(__file__), *argv], env)
    impls = [ObjstoreImpl()]
    if not args.no_swift and swift_available():
        impls.append(SwiftImpl())
    results = run(impls, args.quick, args.lookups)
    print_table(results["objstore"], results.get("swift"))


if __name__ == "__main__":
    main()
