#!/usr/bin/env python3
"""Object benchmark for any Swift v1 endpoint (an objstore all-in-one by default).

    python bench/objbench.py [--auth URL --user U --key K] [--quick]

Measures 4 KiB PUT/GET/HEAD/DELETE ops/s with p50/p99 latency at several
concurrencies, single-stream large PUT/GET throughput, a large SLO upload
with parallel segments, and listing a container of many objects; prints a
table with OpenStack Swift's numbers on the same machine for comparison.
Everything it creates goes into ``objbench-*`` containers that it deletes.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from client.connection import ClientError, Connection  # noqa: E402

MiB = 1024 * 1024
BLOCK = os.urandom(MiB)
# OpenStack Swift 2.38.3 all-in-one on this machine (3 replicas, proxy with 2 workers)
SWIFT = {("PUT 4 KiB", 32): "60/s", ("GET 4 KiB", 32): "190/s",
         ("PUT single stream", 1): "49 MiB/s", ("list 10000 objects", 1): "0.45 s"}


class PatternBody:
    """``size`` bytes of a repeated random block, read like a file (nothing held in memory)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pos = 0

    def read(self, amount: int = -1) -> bytes:
        left = self.size - self.pos
        amount = left if amount < 0 else min(amount, left)
        start = self.pos % MiB
        data = BLOCK[start:start + min(amount, MiB - start)]
        self.pos += len(data)
        return data

    def tell(self) -> int:
        return self.pos

    def seek(self, pos: int) -> None:
        self.pos = pos


def pattern_md5(size: int) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    body = PatternBody(size)
    while chunk := body.read(MiB):
        md5.update(chunk)
    return md5.hexdigest()


class Row:
    def __init__(self, test: str, concurrency: int, ops: int, seconds: float,
                 latencies: list[float] | None = None, nbytes: int = 0) -> None:
        self.test, self.concurrency, self.ops, self.seconds = test, concurrency, ops, seconds
        self.latencies = sorted(latencies or [])
        self.nbytes = nbytes

    def cells(self) -> list[str]:
        lat = self.latencies
        p50 = f"{statistics.median(lat) * 1000:.1f}" if lat else ""
        p99 = f"{lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000:.1f}" if lat else ""
        rate = f"{self.ops / self.seconds:.0f}" if lat else ""
        mbs = f"{self.nbytes / self.seconds / MiB:.1f}" if self.nbytes else ""
        return [self.test, str(self.concurrency), str(self.ops), f"{self.seconds:.2f}", rate, p50,
                p99, mbs, SWIFT.get((self.test, self.concurrency), "")]


HEADER = ["test", "conc", "ops", "seconds", "ops/s", "p50 ms", "p99 ms", "MiB/s", "swift"]


def print_table(rows: list[Row]) -> None:
    table = [HEADER] + [row.cells() for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    for n, line in enumerate(table):
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(line, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    sys.stdout.flush()


def run_parallel(concurrency: int, items: list, op: Callable) -> tuple[float, list[float]]:
    """Run ``op(item)`` over the items with ``concurrency`` threads; wall time and latencies."""
    def timed(item) -> float:
        started = time.perf_counter()
        op(item)
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(timed, items))
    return time.perf_counter() - started, latencies


def small_objects(conn: Connection, container: str, concurrencies: list[int], count: int) -> list[Row]:
    body = os.urandom(4096)
    rows = []
    for concurrency in concurrencies:
        names = [f"small-{concurrency}-{i}" for i in range(count)]
        ops = {
            "PUT 4 KiB": lambda n: conn.request("PUT", container, n, body=body,
                                                headers={"Content-Length": "4096"}),
            "GET 4 KiB": lambda n: conn.request("GET", container, n),
            "HEAD 4 KiB": lambda n: conn.request("HEAD", container, n),
            "DELETE 4 KiB": lambda n: conn.request("DELETE", container, n),
        }
        for test, op in ops.items():
            seconds, latencies = run_parallel(concurrency, names, op)
            rows.append(Row(test, concurrency, count, seconds, latencies))
            print_progress(rows[-1])
    return rows


def single_stream(conn: Connection, container: str, size: int) -> list[Row]:
    expected = pattern_md5(size)
    started = time.perf_counter()
    resp = conn.request("PUT", container, "stream", body=PatternBody(size),
                        headers={"Content-Length": str(size)})
    put = Row("PUT single stream", 1, 1, time.perf_counter() - started, nbytes=size)
    if resp.headers.get("etag", "").strip('"') != expected:
        raise ClientError("single-stream PUT: ETag mismatch")
    print_progress(put)
    started = time.perf_counter()
    resp = conn.request("GET", container, "stream", stream=True)
    got = 0
    while chunk := resp.raw.read(MiB):
        got += len(chunk)
    get = Row("GET single stream", 1, 1, time.perf_counter() - started, nbytes=got)
    if got != size:
        raise ClientError(f"single-stream GET returned {got} of {size} bytes")
    print_progress(get)
    conn.request("DELETE", container, "stream")
    return [put, get]


def slo_upload(conn: Connection, container: str, size: int, segment: int, threads: int) -> Row:
    segments_container = container + "_segments"
    conn.request("PUT", segments_container)
    count = -(-size // segment)
    seg_md5 = pattern_md5(segment)

    def put_segment(index: int) -> dict:
        length = min(segment, size - index * segment)
        resp = conn.request("PUT", segments_container, f"slo/{index:08d}", body=PatternBody(length),
                            headers={"Content-Length": str(length)})
        return {"path": f"/{segments_container}/slo/{index:08d}",
                "etag": resp.headers.get("etag", "").strip('"'), "size_bytes": length}

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        manifest = list(pool.map(put_segment, range(count)))
    body = json.dumps(manifest).encode()
    conn.request("PUT", container, "slo", query={"multipart-manifest": "put"}, body=body,
                 headers={"Content-Length": str(len(body))})
    row = Row(f"SLO PUT {count}x{segment // MiB} MiB", threads, 1,
              time.perf_counter() - started, nbytes=size)
    if size % segment == 0 and any(part["etag"] != seg_md5 for part in manifest):
        raise ClientError("SLO upload: a segment's ETag is wrong")
    print_progress(row)
    conn.request("DELETE", container, "slo", query={"multipart-manifest": "delete"})
    return row


def listing(conn: Connection, container: str, count: int, concurrency: int) -> Row:
    names = [f"item-{i:06d}" for i in range(count)]
    run_parallel(concurrency, names, lambda n: conn.request(
        "PUT", container, n, body=b"", headers={"Content-Length": "0"}))
    started = time.perf_counter()
    resp = conn.request("GET", container, query={"format": "json", "limit": str(count)})
    seconds = time.perf_counter() - started
    found = len(json.loads(resp.body))
    if found != count:
        raise ClientError(f"listing returned {found} of {count} objects")
    row = Row(f"list {count} objects", 1, 1, seconds)
    print_progress(row)
    run_parallel(concurrency, names, lambda n: conn.request("DELETE", container, n, ok=(404,)))
    return row


def print_progress(row: Row) -> None:
    """One line per finished test on a terminal, so long runs show life."""
    if sys.stderr.isatty():
        print("  " + "  ".join(cell for cell in row.cells() if cell), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--auth", default=os.environ.get("ST_AUTH", "http://127.0.0.1:8080/auth/v1.0"))
    parser.add_argument("--user", default=os.environ.get("ST_USER", "test:tester"))
    parser.add_argument("--key", default=os.environ.get("ST_KEY", "testing"))
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--only", choices=["small", "stream", "slo", "listing"], action="append",
                        help="run only these parts (repeatable)")
    args = parser.parse_args(argv)
    quick = args.quick
    conn = Connection(args.auth, args.user, args.key)
    container = f"objbench-{uuid.uuid4().hex[:8]}"
    parts = set(args.only or ["small", "stream", "slo", "listing"])
    rows: list[Row] = []
    try:
        conn.request("PUT", container)
        if "small" in parts:
            rows += small_objects(conn, container, [1, 8, 32], 100 if quick else 1000)
        if "stream" in parts:
            rows += single_stream(conn, container, (16 if quick else 256) * MiB)
        if "slo" in parts:
            rows.append(slo_upload(conn, container, (64 if quick else 1024) * MiB,
                                   (16 if quick else 64) * MiB, 8))
        if "listing" in parts:
            rows.append(listing(conn, container, 1000 if quick else 10000, 32))
    except ClientError as err:
        print(f"objbench: {err}", file=sys.stderr)
        return 1
    finally:
        for name in (container + "_segments", container):
            try:
                conn.request("DELETE", name, ok=(404, 409))
            except ClientError:
                pass
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
