#!/usr/bin/env python3
"""Container DB benchmark: record inserts/s and listing latency vs. container size.

For containers of 1k, 100k and 1M object records (``--quick`` stops at 100k)
it measures, on a real LMDB environment in a temporary directory:

- bulk inserts/s: records merged 5,000 per transaction (the replication path);
- PUT/s (1 conc.): object-record PUTs through the WSGI app, one at a time,
  each a durable commit (fsync);
- PUT/s (64 conc.): the same from 64 greenthreads, which group commit shares;
- listing latency through the WSGI app (JSON, 10,000-entry pages): the first
  page, a page from the middle (by marker) and a delimiter listing
  (names are ``dNNN/oNNNNNNN``, so it returns one ``subdir`` per directory).

Usage: python bench/listing_bench.py [--quick] [--dir DIR]
"""
from __future__ import annotations

import argparse
import configparser
import logging
import os
import shutil
import sys
import tempfile
import time

import eventlet
from webob import Request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from objstore.container.server import ContainerServer  # noqa: E402

SIZES = (1_000, 100_000, 1_000_000)
DIRS = 1000
BATCH = 5000


def make_server(base: str) -> ContainerServer:
    os.makedirs(os.path.join(base, "sda"), exist_ok=True)
    conf = configparser.ConfigParser()
    conf.read_dict({"objstore": {"hash_path_suffix": "bench"},
                    "container-server": {"devices": base, "mount_check": "false",
                                         "account_update_interval": "0"}})
    logger = logging.getLogger("listing-bench")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return ContainerServer(conf, logger, account_ring=object(), sender=lambda *a: 201)


def call(app, path: str, method: str = "GET", **headers: str):
    resp = Request.blank(path, method=method, headers=headers).get_response(app)
    assert resp.status_int < 300, (path, resp.status, resp.body[:200])
    return resp


def name(i: int) -> str:
    return f"d{i % DIRS:03d}/o{i:07d}"


def fill(app: ContainerServer, start: int, stop: int) -> float:
    """Bulk-merge records [start, stop); returns records/s."""
    broker = app.broker(app.parse_path(Request.blank("/sda/0/a/c")))
    began = time.perf_counter()
    for first in range(start, stop, BATCH):
        items = [{"name": name(i), "created_at": "1700000000.00000", "size": 1024,
                  "content_type": "application/octet-stream", "etag": "d41d8cd98f00b204e9800998ecf8427e"}
                 for i in range(first, min(first + BATCH, stop))]
        broker.merge_items(items)
    return (stop - start) / (time.perf_counter() - began)


def put_rate(app: ContainerServer, count: int, concurrency: int, tag: str) -> float:
    def put(i: int) -> None:
        call(app, f"/sda/0/a/c/extra-{tag}-{i:06d}", "PUT", X_Timestamp="1700000001.00000",
             X_Size="10", X_Content_Type="text/plain", X_Etag="e")
    began = time.perf_counter()
    if concurrency == 1:
        for i in range(count):
            put(i)
    else:
        list(eventlet.GreenPool(concurrency).imap(put, range(count)))
    return count / (time.perf_counter() - began)


def latency(app: ContainerServer, query: str, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        call(app, f"/sda/0/a/c?format=json&{query}")
        best = min(best, time.perf_counter() - began)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="stop at 100k records")
    parser.add_argument("--dir", help="where to put the LMDB files (default: a temp dir)")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="listing-bench-", dir=args.dir)
    app = make_server(base)
    sizes = [s for s in SIZES if not (args.quick and s > 100_000)]
    rows = []
    try:
        call(app, "/sda/0/a/c", "PUT", X_Timestamp="1700000000.00000")
        have = 0
        for size in sizes:
            bulk = fill(app, have, size)
            have = size
            single = put_rate(app, 200, 1, f"s{size}")
            grouped = put_rate(app, 2000, 64, f"g{size}")
            rows.append((size, bulk, single, grouped,
                         latency(app, ""),
                         latency(app, "marker=" + name(size // 2)),
                         latency(app, "delimiter=/")))
    finally:
        app.close()
        shutil.rmtree(base, ignore_errors=True)
    header = ("records", "bulk ins/s", "PUT/s 1", "PUT/s 64", "1st page ms", "mid page ms", "delim ms")
    print(" | ".join(f"{h:>12}" for h in header))
    for size, bulk, single, grouped, first, mid, delim in rows:
        print(" | ".join([f"{size:>12,}", f"{bulk:>12,.0f}", f"{single:>12,.0f}", f"{grouped:>12,.0f}",
                          f"{first:>12.1f}", f"{mid:>12.1f}", f"{delim:>12.1f}"]))


if __name__ == "__main__":
    main()
