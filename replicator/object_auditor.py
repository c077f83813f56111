"""The object auditor: re-read every object on this node and quarantine bad ones.

Bit rot, a truncated write or lost xattrs are otherwise found only when a
client reads the object, and never when it is cold.  One pass walks every
``<dev>/objects[-N]/<part>/<suffix>/<hash>`` of every local device and
storage policy, at most ``files_per_second`` objects and (full mode)
``bytes_per_second`` bytes per second, so it never starves the servers:

- ``mode = fast``: the object opens (metadata readable from xattrs or
  sidecar, the required keys there, the name hashing to its directory, the
  .data as long as its Content-Length) -- the checks every GET makes;
- ``mode = full`` (default): the same, then the whole .data is read in
  chunks and its MD5 compared with the stored ETag.

A bad object is quarantined by ``DiskFile`` (its hash directory moves to
``<dev>/quarantined/objects[-N]/``) and its suffix hash invalidated, so the
object replicator sees the suffix differ from its peers' and brings a good
copy back.
"""
from __future__ import annotations

import configparser
import logging
import os
import time
from typing import Callable, Iterator, NamedTuple

from objstore.common.background import BackgroundDaemon, PassProgress, run_background_daemon
from objstore.common.config import ConfigError, get_float, section
from objstore.common.policies import StoragePolicy, load_policies
from objstore.obj.diskfile import DiskFile
from replicator.devices import local_devices, object_disk_manager
from replicator.rate_limit import RateLimiter

SECTION = "object-auditor"
MODES = ("fast", "full")
DEFAULT_FILES_PER_SECOND = 20.0
DEFAULT_BYTES_PER_SECOND = 10 * 1024 * 1024
_HEX = frozenset("0123456789abcdef")


class ObjectLocation(NamedTuple):
    dev_path: str
    policy: StoragePolicy
    partition: str
    obj_hash: str


def _subdirs(path: str) -> list[str]:
    """Names of the directories in ``path`` (none if it vanished meanwhile)."""
    try:
        with os.scandir(path) as entries:
            return sorted(entry.name for entry in entries if entry.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _is_hex(name: str, length: int | None = None) -> bool:
    return bool(name) and (length is None or len(name) == length) and set(name) <= _HEX


def object_locations(dev_path: str, policy: StoragePolicy) -> Iterator[ObjectLocation]:
    """Every object hash directory of one policy on one device, in disk order."""
    data_dir = os.path.join(dev_path, policy.data_dir)
    for partition in _subdirs(data_dir):
        if not partition.isdigit():
            continue
        part_dir = os.path.join(data_dir, partition)
        for suffix in _subdirs(part_dir):
            if not _is_hex(suffix, 3):
                continue
            for obj_hash in _subdirs(os.path.join(part_dir, suffix)):
                if _is_hex(obj_hash) and obj_hash.endswith(suffix):
                    yield ObjectLocation(dev_path, policy, partition, obj_hash)


class ObjectAuditor(BackgroundDaemon):
    """One pass over every object of this node (see the module docstring)."""

    unit = "objects"

    def __init__(self, conf: configparser.ConfigParser, logger: logging.Logger, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], object] = time.sleep) -> None:
        options = section(conf, SECTION)
        self.logger = logger
        self.mode = options.get("mode", "full").strip().lower()
        if self.mode not in MODES:
            raise ConfigError(f"[{SECTION}] mode must be one of {', '.join(MODES)}, "
                              f"got {self.mode!r}")
        self.manager = object_disk_manager(conf, SECTION, logger)
        self.policies = load_policies(conf)
        self._clock = clock
        self.files_limiter = RateLimiter(
            get_float(options, "files_per_second", DEFAULT_FILES_PER_SECOND),
            clock=clock, sleep=sleep)
        self.bytes_limiter = RateLimiter(
            get_float(options, "bytes_per_second", DEFAULT_BYTES_PER_SECOND),
            clock=clock, sleep=sleep)

    def locations(self) -> Iterator[ObjectLocation]:
        for _, dev_path in local_devices(self.manager.devices, self.manager.mount_check,
                                         self.logger):
            for policy in self.policies:
                yield from object_locations(dev_path, policy)

    def run_once(self, progress: PassProgress) -> dict[str, float]:
        """Audit every object once; the pass's counters and rates."""
        started = self._clock()
        stats = {"checked": 0, "bytes": 0, "quarantined": 0, "errors": 0}
        for location in self.locations():
            if progress.stopping:
                break
            self.audit(location, stats)
            progress.advance()
        duration = self._clock() - started
        stats["files_per_second"] = round(stats["checked"] / duration, 1) if duration > 0 else 0.0
        stats["bytes_per_second"] = round(stats["bytes"] / duration) if duration > 0 else 0
        return stats

    def audit(self, location: ObjectLocation, stats: dict[str, float]) -> None:
        """Check one object, counting what was checked, read and quarantined."""
        self.files_limiter.spend()
        diskfile = self.manager.diskfile_by_hash(location.dev_path, location.policy.data_dir,
                                                 location.partition, location.obj_hash)
        try:
            diskfile.open()  # quarantines what fails the fast checks
            if diskfile.exists and self.mode == "full":
                stats["bytes"] += self._read_all(diskfile)
        except OSError as err:  # EIO and friends: report, the disk may be failing
            stats["errors"] += 1
            self.logger.error("cannot audit %s: %s", diskfile.hash_dir, err)
            return
        finally:
            diskfile.close()
        if diskfile.quarantined:
            stats["quarantined"] += 1
        if diskfile.quarantined or diskfile.exists:
            stats["checked"] += 1

    def _read_all(self, diskfile: DiskFile) -> int:
        """Read the whole .data at the byte rate (DiskFile checks the MD5)."""
        total = 0
        for chunk in diskfile.read_verified():
            total += len(chunk)
            self.bytes_limiter.spend(len(chunk))
        return total


def main(argv: list[str] | None = None) -> int:
    return run_background_daemon(SECTION, ObjectAuditor, argv)
