#!/usr/bin/env python3
"""Storage node benchmark: one object server, driven directly over HTTP.

Starts ``objstore-object-server`` in a subprocess on a free port (devices in a
temp dir on the same filesystem as ``--root``), then measures PUT and GET of
small and large objects at a given concurrency and prints a table::

    python bench/storage_bench.py                      # 4 KiB and 1 MiB, concurrency 16
    python bench/storage_bench.py --compare-io         # also with disk I/O on the hub

The object part lives in functions (``run_object_bench``) so a container
section can be added beside it.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import eventlet
from eventlet.green.http import client as http_client

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tests.support import free_port, port_open, wait_for  # noqa: E402


def start_object_server(root: str, workers: int = 0, **options: str) -> tuple[subprocess.Popen, int]:
    """An object server with one device ``sda`` under ``root``; returns (process, port)."""
    port = free_port()
    os.makedirs(os.path.join(root, "sda"), exist_ok=True)
    extra = "".join(f"{key} = {value}\n" for key, value in options.items())
    conf = os.path.join(root, "bench.conf")
    with open(conf, "w") as handle:
        handle.write(f"[objstore]\nhash_path_suffix = bench\n\n[object-server]\n"
                     f"bind_ip = 127.0.0.1\nbind_port = {port}\ndevices = {root}\n"
                     f"mount_check = false\nworkers = {workers}\nlog_level = WARNING\n{extra}")
    proc = subprocess.Popen([sys.executable, os.path.join(REPO, "bin", "objstore-object-server"),
                             "--config", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: port_open(port) or proc.poll() is not None, what="object server")
    if proc.poll() is not None:
        raise RuntimeError("object server did not start")
    return proc, port


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _worker(port: int, method: str, names: list[str], body: bytes, latencies: list[float],
            errors: list[str]) -> None:
    conn = http_client.HTTPConnection("127.0.0.1", port, timeout=60)
    for name in names:
        headers = {}
        if method == "PUT":
            headers = {"X-Timestamp": f"{time.time():.5f}", "Content-Type": "application/octet-stream",
                       "Content-Length": str(len(body))}
        started = time.perf_counter()
        try:
            conn.request(method, f"/sda/{hash(name) % 1024}/AUTH_bench/c/{name}",
                         body=body if method == "PUT" else None, headers=headers)
            response = conn.getresponse()
            while response.read(1 << 20):
                pass
            if response.status not in (200, 201):
                errors.append(f"{method} {name}: {response.status}")
        except (OSError, http_client.HTTPException) as err:
            errors.append(f"{method} {name}: {err}")
            conn.close()
            conn = http_client.HTTPConnection("127.0.0.1", port, timeout=60)
        latencies.append(time.perf_counter() - started)
    conn.close()


def run_phase(port: int, method: str, names: list[str], size: int,
              concurrency: int) -> dict[str, float]:
    """Run ``method`` on all ``names`` from ``concurrency`` green threads (one
    process, no GIL contention between client threads); return the stats."""
    body = os.urandom(size) if method == "PUT" else b""
    latencies: list[float] = []
    errors: list[str] = []
    pool = eventlet.GreenPool(concurrency)
    started = time.perf_counter()
    for i in range(concurrency):
        if names[i::concurrency]:
            pool.spawn_n(_worker, port, method, names[i::concurrency], body, latencies, errors)
    pool.waitall()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} errors, first: {errors[0]}")
    latencies.sort()
    return {"ops": len(names) / elapsed, "mbs": len(names) * size / elapsed / 2 ** 20,
            "p50": statistics.median(latencies) * 1000,
            "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000}


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc): a load-independent cost measure."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_object_bench(root: str, sizes: list[int], count: int, large_count: int,
                     concurrency: int, workers: int, label: str,
                     **options: str) -> list[tuple[str, str, int, dict[str, float]]]:
    """PUT then GET ``count`` objects of each size against a fresh object server."""
    rows = []
    proc, port = start_object_server(root, workers, **options)
    try:
        for size in sizes:
            n = count if size <= 65536 else large_count
            names = [f"{size}-{uuid.uuid4().hex}" for _ in range(n)]
            for method in ("PUT", "GET"):
                cpu_before = process_cpu_seconds(proc.pid)
                stats = run_phase(port, method, names, size, concurrency)
                stats["cpu"] = (process_cpu_seconds(proc.pid) - cpu_before) / n * 1000
                rows.append((label, method, size, stats))
    finally:
        stop_server(proc)
    return rows


def _size_label(size: int) -> str:
    return f"{size // 2 ** 20} MiB" if size >= 2 ** 20 else f"{size // 1024} KiB"


def print_table(rows: list[tuple[str, str, int, dict[str, float]]], concurrency: int) -> None:
    print(f"\nobject server, concurrency {concurrency}")
    print(f"{'config':<18} {'op':<4} {'size':>7} {'ops/s':>8} {'MiB/s':>7} {'p50 ms':>7} "
          f"{'p99 ms':>7} {'server CPU ms/op':>16}")
    for label, method, size, stats in rows:
        print(f"{label:<18} {method:<4} {_size_label(size):>7} {stats['ops']:>8.0f} "
              f"{stats['mbs']:>7.1f} {stats['p50']:>7.2f} {stats['p99']:>7.2f} "
              f"{stats['cpu']:>16.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=None, help="directory for devices (default: a temp dir)")
    parser.add_argument("--count", type=int, default=2000, help="small objects per phase")
    parser.add_argument("--large-count", type=int, default=100, help="large objects per phase")
    parser.add_argument("--sizes", default="4096,1048576", help="comma-separated object sizes")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=0, help="object server workers")
    parser.add_argument("--compare-io", action="store_true",
                        help="also run with disk_io_threads = 0 (fsync on the hub)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    configs = [("io in threadpool", {"disk_io_threads": "16"})]
    if args.compare_io:
        configs.append(("io on the hub", {"disk_io_threads": "0"}))
    for label, options in configs:
        root = tempfile.mkdtemp(prefix="objstore-bench-", dir=args.root)
        try:
            rows += run_object_bench(root, sizes, args.count, args.large_count, args.concurrency,
                                     args.workers, label, **options)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    print_table(rows, args.concurrency)


if __name__ == "__main__":
    main()
