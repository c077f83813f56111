#!/usr/bin/env python3
"""Object auditor throughput: MB/s and objects/s for one pass over a device.

Writes objects to a temporary device the way the object server does
(``DiskFileWriter``: xattr metadata, fsync, rename), then times one
``ObjectAuditor`` pass (``run_once``, as ``objstore-object-auditor --once``
does) in each setting, wall-clock and CPU time (on a busy machine the CPU
time says what a pass costs):

- full mode, unlimited, page cache cold (``posix_fadvise(DONTNEED)`` on every
  .data first, so the disk is read) and warm (MD5-bound);
- fast mode, unlimited (metadata and sizes only);
- full and fast mode at the default limits (20 objects/s, 10 MiB/s) on a
  small set of 1 MiB objects, to show a pass keeps to them (full: the byte
  limit binds; fast: the object limit).

Usage: python bench/auditor_bench.py [--quick] [--dir DIR]
"""
from __future__ import annotations

import argparse
import configparser
import logging
import os
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from objstore.common.background import PassProgress  # noqa: E402
from objstore.common.timestamp import Timestamp  # noqa: E402
from objstore.obj.diskfile import DiskFileManager  # noqa: E402
from replicator.object_auditor import (DEFAULT_BYTES_PER_SECOND,  # noqa: E402
                                       DEFAULT_FILES_PER_SECOND, ObjectAuditor)

LOGGER = logging.getLogger("auditor-bench")
LOGGER.addHandler(logging.NullHandler())
LOGGER.propagate = False
MiB = 1024 * 1024


def conf_for(devices: str, **auditor) -> configparser.ConfigParser:
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_dict({"objstore": {"hash_path_suffix": "bench"},
                    "object-server": {"devices": devices, "mount_check": "false"},
                    "object-auditor": {key: str(value) for key, value in auditor.items()}})
    return conf


def write_objects(devices: str, count: int, size: int) -> list[str]:
    """``count`` objects of ``size`` bytes on device sda; their .data paths."""
    dev_path = os.path.join(devices, "sda")
    os.makedirs(dev_path, exist_ok=True)
    manager = DiskFileManager(devices, mount_check=False, hash_prefix=b"",
                              hash_suffix=b"bench", logger=LOGGER, io_threads=0)
    body = os.urandom(size)
    paths = []
    for index in range(count):
        diskfile = manager.diskfile(dev_path, "objects", str(index % 64), "a", "c", f"o{index}")
        writer = diskfile.writer()
        writer.write(body)
        timestamp = Timestamp.now()
        writer.commit({"name": diskfile.name, "Content-Length": str(size), "ETag": writer.etag,
                       "X-Timestamp": timestamp.internal, "Content-Type": "application/bin"},
                      timestamp, ".data")
        paths.append(os.path.join(diskfile.hash_dir, f"{timestamp.internal}.data"))
    return paths


def drop_cache(paths: list[str]) -> None:
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def one_pass(devices: str, **auditor) -> dict:
    daemon = ObjectAuditor(conf_for(devices, **auditor), LOGGER)
    progress = PassProgress(1, daemon.unit, LOGGER, threading.Event())
    started, cpu = time.monotonic(), time.process_time()
    stats = daemon.run_once(progress)
    assert stats["quarantined"] == 0 and stats["errors"] == 0, stats
    return {**stats, "duration": time.monotonic() - started, "cpu": time.process_time() - cpu}


def row(label: str, stats: dict) -> None:
    print(f"| {label} | {stats['checked']:,} | {stats['bytes'] / MiB:,.0f} MiB | "
          f"{stats['duration']:.2f} s | {stats['cpu']:.2f} s | "
          f"{stats['bytes_per_second'] / MiB:,.1f} MiB/s | {stats['files_per_second']:,.0f}/s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer and smaller objects")
    parser.add_argument("--dir", help="where to create the temporary device (default: $TMPDIR)")
    args = parser.parse_args()
    count, size = (500, 256 * 1024) if args.quick else (2000, 512 * 1024)
    limited_count, limited_size = (40, MiB) if args.quick else (100, MiB)
    base = tempfile.mkdtemp(prefix="auditor-bench-", dir=args.dir)
    try:
        big, small = os.path.join(base, "big"), os.path.join(base, "small")
        paths = write_objects(big, count, size)
        limited = write_objects(small, limited_count, limited_size)
        unlimited = {"files_per_second": 0, "bytes_per_second": 0}
        print(f"{count:,} objects of {size // 1024} KiB; limited run: {limited_count} objects "
              f"of {limited_size // 1024} KiB at {DEFAULT_FILES_PER_SECOND:.0f} objects/s and "
              f"{DEFAULT_BYTES_PER_SECOND / MiB:.0f} MiB/s")
        print("| pass | objects | read | time | CPU time | MiB/s | objects/s |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        drop_cache(paths)
        row("full, unlimited, cold cache", one_pass(big, mode="full", **unlimited))
        row("full, unlimited, warm cache", one_pass(big, mode="full", **unlimited))
        row("fast, unlimited", one_pass(big, mode="fast", **unlimited))
        limits = f"default limits ({DEFAULT_FILES_PER_SECOND:.0f}/s, " \
                 f"{DEFAULT_BYTES_PER_SECOND / MiB:.0f} MiB/s)"
        drop_cache(limited)
        row(f"full, {limits}", one_pass(small, mode="full"))
        row(f"fast, {limits}", one_pass(small, mode="fast"))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
