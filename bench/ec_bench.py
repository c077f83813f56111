#!/usr/bin/env python3
"""Erasure coding beside replication: throughput, CPU per GiB, raw bytes on disk.

    python bench/ec_bench.py [--size-mib 64] [--streams 8] [--stream-mib 16] [--ec-type ...]

Starts the cluster of ``tests/cluster.py`` with 6 storage nodes, a 3-replica
default policy and a 4+2 erasure-coding policy (1 MiB segments), then for
each policy: one PUT and one GET of ``--size-mib`` MiB (single stream), and
``--streams`` PUTs then GETs of ``--stream-mib`` MiB at once; every GET is
checked byte for byte.  It also counts the bytes the objects take on the
nodes' disks, and measures pyeclib in this process: CPU seconds per GiB to
encode, to decode from the data fragments (what a healthy GET does) and from
parity (two data fragments missing).  Prints one table.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import http.client
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from objstore.common.erasure import SegmentLayout  # noqa: E402
from tests.cluster import Cluster  # noqa: E402

MIB = 1 << 20
CHUNK = 1 << 16


def ec_policy(ec_type: str) -> dict[str, str]:
    return {"name": "ec42", "policy_type": "erasure_coding", "ec_type": ec_type,
            "ec_num_data_fragments": "4", "ec_num_parity_fragments": "2"}


def transfer(port: int, method: str, path: str, body: bytes | None = None) -> bytes:
    """One request on its own connection; the body of a GET."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        data = bytearray()
        while chunk := resp.read(CHUNK):
            data += chunk
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: {resp.status} {bytes(data[:200])!r}")
        return bytes(data)
    finally:
        conn.close()


def timed_parallel(port: int, method: str, paths: list[str], bodies: list[bytes]) -> float:
    """Seconds for every request at once; GET bodies are checked."""
    errors: list[BaseException] = []

    def run(path: str, body: bytes) -> None:
        try:
            got = transfer(port, method, path, body if method == "PUT" else None)
            if method == "GET" and hashlib.md5(got).digest() != hashlib.md5(body).digest():
                raise RuntimeError(f"GET {path}: wrong bytes")
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=pair) for pair in zip(paths, bodies)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def disk_bytes(cluster: Cluster, data_dir: str) -> int:
    return sum(os.path.getsize(path) for path in glob.glob(
        os.path.join(cluster.base, "node*", "sd*", data_dir, "*", "*", "*", "*.data")))


def cpu_per_gib(layout: SegmentLayout, segments: int = 64) -> dict[str, float]:
    """CPU seconds per GiB of object data: encode, decode from data, decode from parity."""
    data = os.urandom(layout.segment_size)
    driver = layout.driver
    started = time.process_time()
    for _ in range(segments):
        fragments = driver.encode(data)
    encode = time.process_time() - started
    results = {}
    for label, chosen in (("decode (data fragments)", fragments[:4]),
                          ("decode (2 data lost)", fragments[2:])):
        started = time.process_time()
        for _ in range(segments):
            assert driver.decode(chosen) == data
        results[label] = time.process_time() - started
    gib = segments * layout.segment_size / (1 << 30)
    return {"encode": encode / gib, **{k: v / gib for k, v in results.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--stream-mib", type=int, default=16)
    parser.add_argument("--ec-type", default="liberasurecode_rs_vand")
    args = parser.parse_args()
    rows = []
    with Cluster(nodes=6, policy_replicas={1: 6}, proxy_options={"workers": "2"},
                 extra_sections={"storage-policy:0": {"name": "rep3", "default": "yes"},
                                 "storage-policy:1": ec_policy(args.ec_type)}) as cluster:
        port = cluster.proxy_port
        for policy, data_dir in (("rep3", "objects"), ("ec42", "objects-1")):
            conn_path = f"/v1/AUTH_b/{policy}"
            status = cluster.request("PUT", conn_path, headers={"X-Storage-Policy": policy})[0]
            assert status == 201, status
            big = os.urandom(args.size_mib * MIB)
            put = timed_parallel(port, "PUT", [f"{conn_path}/big"], [big])
            get = timed_parallel(port, "GET", [f"{conn_path}/big"], [big])
            raw = disk_bytes(cluster, data_dir) / len(big)
            bodies = [os.urandom(args.stream_mib * MIB) for _ in range(args.streams)]
            paths = [f"{conn_path}/s{i}" for i in range(args.streams)]
            total = args.streams * args.stream_mib
            put_n = timed_parallel(port, "PUT", paths, bodies)
            get_n = timed_parallel(port, "GET", paths, bodies)
            rows.append((policy, args.size_mib / put, args.size_mib / get, total / put_n,
                         total / get_n, raw))
    print(f"6 nodes, proxy with 2 workers; single stream: one {args.size_mib} MiB object; "
          f"{args.streams} streams: {args.stream_mib} MiB each")
    print(f"{'policy':8} {'PUT MiB/s':>10} {'GET MiB/s':>10} {'PUT x' + str(args.streams):>10} "
          f"{'GET x' + str(args.streams):>10} {'disk/byte':>10}")
    for policy, put, get, put_n, get_n, raw in rows:
        print(f"{policy:8} {put:10.1f} {get:10.1f} {put_n:10.1f} {get_n:10.1f} {raw:10.3f}")
    layout = SegmentLayout(args.ec_type, 4, 2, MIB)
    print(f"\npyeclib {args.ec_type} 4+2, 1 MiB segments, CPU seconds per GiB of object:")
    for label, seconds in cpu_per_gib(layout).items():
        print(f"  {label:24} {seconds:6.2f} s/GiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
