#!/usr/bin/env python3
"""Small-object throughput through the proxy on a fresh 3-node local cluster.

    python bench/proxy_bench.py [--objects 2000] [--concurrency 32] [--size 4096] [--workers 2]

Starts the cluster of ``tests/cluster.py`` (3 storage nodes, 3 replicas, the
proxy with ``--workers``), then PUTs, GETs, HEADs and DELETEs ``--objects``
objects with ``--concurrency`` client threads on keep-alive connections and
prints ops/s and latency percentiles.
"""
from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.cluster import Cluster  # noqa: E402

SWIFT = {"PUT": "60/s", "GET": "190/s"}  # OpenStack Swift AIO, 4 KiB, concurrency 32


def run_phase(port: int, method: str, names: list[str], concurrency: int,
              body: bytes, headers: dict[str, str] | None = None) -> tuple[float, list[float], int]:
    """(elapsed s, latencies, failures) for one method over every name."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    queue = list(reversed(names))

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                name = queue.pop()
            started = time.perf_counter()
            try:
                conn.request(method, name, body=body if method == "PUT" else None,
                             headers=headers or {})
                resp = conn.getresponse()
                resp.read()
                ok = resp.status < 300
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                ok = False
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                failures[0] += not ok
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, failures[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    body = os.urandom(args.size)
    with Cluster(nodes=3, proxy_options={"workers": str(args.workers)}) as cluster:
        status = cluster.request("PUT", "/v1/AUTH_bench/c")[0]
        assert status in (201, 202), status
        names = [f"/v1/AUTH_bench/c/o{i:07d}" for i in range(args.objects)]
        print(f"{args.objects} objects of {args.size} B, concurrency {args.concurrency}, "
              f"proxy workers {args.workers}")
        print(f"{'op':<8}{'ops/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}{'Swift':>10}")
        for method in ("PUT", "GET", "HEAD", "DELETE"):
            elapsed, lat, failures = run_phase(cluster.proxy_port, method, names,
                                               args.concurrency, body)
            lat.sort()
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            print(f"{method:<8}{len(names) / elapsed:>10.0f}{statistics.median(lat) * 1000:>10.1f}"
                  f"{p99 * 1000:>10.1f}{failures:>8}{SWIFT.get(method, '-'):>10}")


if __name__ == "__main__":
    main()
