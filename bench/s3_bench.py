#!/usr/bin/env python3
"""The S3 API beside the Swift API on the same cluster, through the clients people use.

    python bench/s3_bench.py [--port 8080] [--quick]

Without ``--port`` it starts a temporary all-in-one (3 nodes, 3 replicas, proxy
with 2 workers, tempauth: access key ``test:tester``, secret ``testing``) and
stops it at the end.  Measures, through boto3 (default
configuration: SigV4, signed payloads, CRC32 checksums) and python-swiftclient:
4 KiB PUT and GET ops/s at concurrency 16, and a multipart upload (boto3
``upload_file``, 8 MiB parts, 10 threads) against the same parts PUT as Swift
SLO segments by 10 threads plus the manifest; then the download of each.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from swiftclient.client import Connection

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from aio.processes import program  # noqa: E402

MiB = 1024 * 1024
SMALL = os.urandom(4096)
PART = 8 * MiB
THREADS = 10


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


def timed(work, items, concurrency: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(work, items))
    return time.perf_counter() - start


def s3_client(port: int):
    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id="test:tester", aws_secret_access_key="testing",
                        config=Config(max_pool_connections=32))


def swift_connections(port: int, count: int) -> list[Connection]:
    return [Connection(authurl=f"http://127.0.0.1:{port}/auth/v1.0", user="test:tester",
                       key="testing", retries=0) for _ in range(count)]


def small_objects(port: int, count: int, concurrency: int) -> list[tuple[str, str, str]]:
    s3 = s3_client(port)
    bucket = f"s3bench-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    conns = swift_connections(port, concurrency)
    container = f"swbench-{uuid.uuid4().hex[:8]}"
    conns[0].put_container(container)
    keys = [f"obj-{i:06d}" for i in range(count)]
    rows = []
    put_s3 = timed(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=SMALL), keys, concurrency)
    put_swift = timed(lambda i: conns[i % concurrency].put_object(container, keys[i], SMALL),
                      range(count), concurrency)
    rows.append((f"PUT 4 KiB, concurrency {concurrency}", rate(count, put_s3),
                 rate(count, put_swift)))
    get_s3 = timed(lambda k: s3.get_object(Bucket=bucket, Key=k)["Body"].read(), keys,
                   concurrency)
    get_swift = timed(lambda i: conns[i % concurrency].get_object(container, keys[i]),
                      range(count), concurrency)
    rows.append((f"GET 4 KiB, concurrency {concurrency}", rate(count, get_s3),
                 rate(count, get_swift)))
    for start in range(0, count, 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k}
                                                             for k in keys[start:start + 1000]]})
    timed(lambda i: conns[i % concurrency].delete_object(container, keys[i]), range(count),
          concurrency)
    s3.delete_bucket(Bucket=bucket)
    conns[0].delete_container(container)
    return rows


def large_object(port: int, size: int, workdir: str) -> list[tuple[str, str, str]]:
    path = os.path.join(workdir, "large.bin")
    with open(path, "wb") as out:
        for _ in range(size // MiB):
            out.write(os.urandom(MiB))
    s3 = s3_client(port)
    bucket = f"s3bench-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    config = TransferConfig(multipart_chunksize=PART, max_concurrency=THREADS)
    start = time.perf_counter()
    s3.upload_file(path, bucket, "large", Config=config)
    up_s3 = time.perf_counter() - start
    start = time.perf_counter()
    s3.download_file(bucket, "large", path + ".s3", Config=config)
    down_s3 = time.perf_counter() - start

    conns = swift_connections(port, THREADS)
    container = f"swbench-{uuid.uuid4().hex[:8]}"
    conns[0].put_container(container)
    conns[0].put_container(container + "_segments")
    with open(path, "rb") as src:
        data = src.read()
    parts = [data[i:i + PART] for i in range(0, len(data), PART)]

    def put_segment(index: int) -> dict:
        name = f"large/{index:05d}"
        etag = conns[index % THREADS].put_object(container + "_segments", name, parts[index])
        return {"path": f"/{container}_segments/{name}", "etag": etag,
                "size_bytes": len(parts[index])}

    start = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        manifest = list(pool.map(put_segment, range(len(parts))))
    conns[0].put_object(container, "large", json.dumps(manifest),
                        query_string="multipart-manifest=put")
    up_swift = time.perf_counter() - start
    start = time.perf_counter()
    _, body = conns[0].get_object(container, "large", resp_chunk_size=MiB)
    digest = hashlib.md5()
    for chunk in body:
        digest.update(chunk)
    down_swift = time.perf_counter() - start
    assert digest.hexdigest() == hashlib.md5(data).hexdigest()
    with open(path + ".s3", "rb") as got:
        assert got.read() == data
    s3.delete_object(Bucket=bucket, Key="large")
    s3.delete_bucket(Bucket=bucket)
    conns[0].delete_object(container, "large", query_string="multipart-manifest=delete")
    mb = size / MiB
    return [(f"upload {mb:.0f} MiB in {PART // MiB} MiB parts, {THREADS} threads",
             f"{mb / up_s3:.0f} MiB/s", f"{mb / up_swift:.0f} MiB/s"),
            (f"download {mb:.0f} MiB", f"{mb / down_s3:.0f} MiB/s",
             f"{mb / down_swift:.0f} MiB/s")]


def start_cluster(workdir: str) -> int:
    with socket.socket() as probe:  # a free port for the proxy
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subprocess.run(program("objstore-aio") + ["start", "--dir", os.path.join(workdir, "aio"),
                                              "--port", str(port), "--nodes", "3",
                                              "--replicas", "3", "--part-power", "8",
                                              "--auth", "tempauth"],
                   check=True, capture_output=True, timeout=180)
    return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, help="a running all-in-one's proxy port")
    parser.add_argument("--quick", action="store_true", help="fewer and smaller objects")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="s3bench-")
    port = args.port or start_cluster(workdir)
    try:
        rows = small_objects(port, 200 if args.quick else 2000, 16)
        rows += large_object(port, 24 * MiB if args.quick else 256 * MiB, workdir)
    finally:
        if not args.port:
            subprocess.run(program("objstore-aio") + ["stop", "--dir", os.path.join(workdir, "aio")],
                           capture_output=True, timeout=120)
        shutil.rmtree(workdir, ignore_errors=True)
    width = max(len(r[0]) for r in rows)
    print(f"{'operation':<{width}}  {'S3 (boto3)':>12}  {'Swift (swiftclient)':>20}")
    for name, s3, swift in rows:
        print(f"{name:<{width}}  {s3:>12}  {swift:>20}")


if __name__ == "__main__":
    main()
