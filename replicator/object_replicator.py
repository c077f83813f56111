"""The object replicator: every object on its primaries, newest version everywhere.

One pass visits every partition directory of every local device and
replicated storage policy (``replicator/object_jobs.py``):

- on a *primary*, it asks each other primary for its suffix hashes
  (``REPLICATE``), rehashes the suffixes that differ and pushes just those
  with ssync (``replicator/ssync_sender.py``); a peer with newer files pushes
  them back in its own pass.  A primary that answers 507 (unmounted or full)
  is replaced by the partition's next handoff in ring order, as Swift's
  replicator does; one that cannot be reached is not (a node outage is
  usually short, and the proxy writes new objects to handoffs meanwhile);
- on a *handoff*, it pushes everything to every primary and removes the
  pushed files once all of them confirmed (``replicator/handoff_cleanup.py``);
- once every ``reclaim_sweep_interval`` per partition it rehashes all
  suffixes, which removes tombstones older than ``reclaim_age`` (and
  obsolete files): without that a tombstone whose suffix never changes again
  would stay forever.

An unmounted local device is skipped; a peer that is down, unmounted or
full (507) fails that push only.  Section ``[object-replicator]``; the README's
"Object replicator" section lists the options and stats.
"""
from __future__ import annotations

import collections
import configparser
import itertools
import logging
import os
import time
from typing import Callable, Iterator, Mapping

import eventlet

from objstore.common.background import BackgroundDaemon, PassProgress, run_background_daemon
from objstore.common.backend_http import ConnectionPool
from objstore.common.config import get_float, get_int, section
from objstore.common.policies import REPLICATION, load_policies
from objstore.obj import hashes
from ring.errors import RingError
from ring.ring import Ring, load_ring
from replicator.device_pool import run_per_device
from replicator.devices import device_settings, local_devices, ring_devices
from replicator.handoff_cleanup import remove_objects, remove_partition_if_empty
from replicator.object_jobs import PartitionJob, device_jobs
from replicator.rate_limit import RateLimiter
from replicator.ssync_sender import (HTTPPeer, Peer, PeerError, Sender, SyncResult,
                                     local_objects)

SECTION = "object-replicator"
SERVER_SECTION = "object-server"
SWEEP_STAMP = "hashes.swept"  # in a partition dir: mtime = when all its suffixes were rehashed

PeerFactory = Callable[[Mapping], Peer]


class ObjectReplicator(BackgroundDaemon):
    """One replication pass over this node's object partitions."""

    unit = "partitions"
    section_name = SECTION     # the reconstructor, a subclass, has its own
    policy_type = REPLICATION  # the policies whose partitions it works on

    def __init__(self, conf: configparser.ConfigParser, logger: logging.Logger,
                 peer_factory: PeerFactory | None = None) -> None:
        options, server = section(conf, self.section_name), section(conf, SERVER_SECTION)
        self.conf = conf
        self.logger = logger
        self.devices, self.mount_check = device_settings(conf, self.section_name, SERVER_SECTION)
        self.ip = options.get("bind_ip", server.get("bind_ip", "127.0.0.1"))
        self.port = get_int(options, "bind_port", get_int(server, "bind_port", 6200))
        self.concurrency = max(1, get_int(options, "concurrency", 4))
        self.per_device = max(1, get_int(options, "concurrency_per_device", 2))
        self.reclaim_age = get_float(options, "reclaim_age",
                                     get_float(server, "reclaim_age", 7 * 86400))
        self.sweep_interval = get_float(options, "reclaim_sweep_interval", 86400)
        self.limiter = RateLimiter(get_float(options, "max_bytes_per_second", 0),
                                   sleep=eventlet.sleep)
        conn_timeout = get_float(options, "conn_timeout", 0.5)
        node_timeout = get_float(options, "node_timeout", 60.0)
        pool = ConnectionPool()
        self.peer_factory = peer_factory or (
            lambda node: HTTPPeer(node, conn_timeout, node_timeout, pool))
        self.policies = [policy for policy in load_policies(conf)
                         if policy.policy_type == self.policy_type]
        self._rings: dict[int, Ring] = {}

    # -- finding the work ------------------------------------------------------
    def _ring(self, policy_index: int) -> Ring:
        ring = self._rings.get(policy_index)
        if ring is None:
            ring = self._rings[policy_index] = load_ring(self.conf, "object", policy_index)
        else:
            ring.reload()
        return ring

    def jobs(self, stats: collections.Counter) -> list[tuple[str, PartitionJob]]:
        """(device path, job) for every local partition; unusable devices are counted."""
        usable = dict(local_devices(self.devices, self.mount_check, self.logger))
        skipped: set[str] = set()
        jobs = []
        for policy in self.policies:
            try:
                ring = self._ring(policy.index)
            except RingError as err:
                self.logger.error("policy %d: %s", policy.index, err)
                stats["failures"] += 1
                continue
            for name, device in ring_devices(ring.devs, self.ip, self.port).items():
                if name not in usable:
                    skipped.add(name)
                    continue
                jobs.extend((usable[name], job)
                            for job in device_jobs(policy, ring, device, usable[name]))
        stats["devices_skipped"] = len(skipped)
        return jobs

    # -- one pass ----------------------------------------------------------------
    def run_once(self, progress: PassProgress) -> dict[str, float]:
        started = time.monotonic()
        stats: collections.Counter = collections.Counter(
            partitions=0, suffixes_synced=0, objects_pushed=0, bytes_pushed=0,
            handoffs_removed=0, failures=0, devices_skipped=0)
        jobs = self.jobs(stats)
        progress.set_total(len(jobs))
        run_per_device(jobs, lambda job: self._run_job(job, stats),
                       concurrency=self.concurrency, per_device=self.per_device,
                       stopping=lambda: progress.stopping, finished=progress.advance)
        return {**stats, "duration": round(time.monotonic() - started, 3)}

    def _run_job(self, job: PartitionJob, stats: collections.Counter) -> None:
        try:
            if not os.path.isdir(job.part_dir):
                pass  # removed since the pass listed it (another pass moved it away)
            elif job.is_handoff:
                self._push_handoff(job, stats)
            else:
                self._sync_primary(job, stats)
        except Exception:
            stats["failures"] += 1
            self.logger.exception("partition %s failed", job.part_dir)
        stats["partitions"] += 1

    def _sender(self, job: PartitionJob, node: Mapping) -> Sender:
        return Sender(self.peer_factory(node), node["device"], job.partition, job.policy.index,
                      self.limiter.spend)

    def _failed(self, job: PartitionJob, node: Mapping, err: Exception,
                stats: collections.Counter) -> None:
        stats["failures"] += 1
        self.logger.warning("partition %s to %s:%s/%s: %s", job.part_dir, node["ip"],
                            node["port"], node["device"], err)

    def _local_hashes(self, job: PartitionJob, recalculate: list[str]) -> dict[str, str]:
        return hashes.get_hashes(job.part_dir, recalculate, self.reclaim_age)

    def _sweep_due(self, job: PartitionJob) -> bool:
        try:
            swept = os.stat(os.path.join(job.part_dir, SWEEP_STAMP)).st_mtime
        except FileNotFoundError:
            return True
        return swept < time.time() - self.sweep_interval

    def _sweep(self, job: PartitionJob) -> dict[str, str]:
        """Rehash every suffix (removing old tombstones and obsolete files on
        the way) and note when; the partition's hashes."""
        local = self._local_hashes(job, [name for name in os.listdir(job.part_dir)
                                         if len(name) == 3])
        with open(os.path.join(job.part_dir, SWEEP_STAMP), "wb"):
            pass  # its mtime is the sweep's time
        return local

    def _handoffs(self, job: PartitionJob) -> Iterator[dict]:
        """The partition's handoff devices in ring order (the same every pass)."""
        return (node for node in self._rings[job.policy.index].get_more_nodes(job.partition)
                if node["id"] != job.device["id"])

    def _sync_primary(self, job: PartitionJob, stats: collections.Counter) -> None:
        if self._sweep_due(job):
            local = self._sweep(job)
            rehashed = set(local)
        else:
            local, rehashed = self._local_hashes(job, []), set()
        handoffs = self._handoffs(job)
        nodes = list(job.targets)
        for node in nodes:  # grows by one handoff per primary that answers 507
            sender = self._sender(job, node)
            try:
                remote = sender.replicate()
                differing = [s for s in local if local[s] != remote.get(s)]
                if not set(differing) <= rehashed:  # our own hashes may be stale: check
                    local = self._local_hashes(job, [s for s in differing if s not in rehashed])
                    rehashed.update(differing)
                    differing = [s for s in local if local[s] != remote.get(s)]
                if not differing:
                    continue
                result = sender.sync(local_objects(job.part_dir, differing))
            except PeerError as err:
                self._failed(job, node, err, stats)
                if err.status == 507:
                    # an unmounted or full disk may stay so for long: its copy
                    # goes to the first handoff meanwhile (the same one every
                    # pass, so it is pushed once); a peer that is merely down
                    # gets none, as in Swift: most outages are short
                    nodes.extend(itertools.islice(handoffs, 1))
                continue
            self._count(job, node, result, len(differing), stats)

    def _count(self, job: PartitionJob, node: Mapping, result: SyncResult, suffixes: int,
               stats: collections.Counter) -> None:
        stats["suffixes_synced"] += suffixes
        stats["objects_pushed"] += result.files
        stats["bytes_pushed"] += result.bytes
        if result.failed:
            self._failed(job, node, PeerError(f"{len(result.failed)} objects refused"), stats)

    def _push_handoff(self, job: PartitionJob, stats: collections.Counter) -> None:
        suffixes = sorted(self._sweep(job))
        objects = list(local_objects(job.part_dir, suffixes))
        confirmed = {item.offer.hash for item in objects}
        complete = True
        for node in job.targets:
            try:
                result = self._sender(job, node).sync(objects)
            except PeerError as err:
                self._failed(job, node, err, stats)
                complete = False
                continue
            self._count(job, node, result, len(suffixes), stats)
            confirmed -= result.failed
        if not complete:
            return
        remove_objects(item for item in objects if item.offer.hash in confirmed)
        if remove_partition_if_empty(job.part_dir):
            stats["handoffs_removed"] += 1
            self.logger.info("handoff partition %s moved to its primaries", job.part_dir)


def main(argv: list[str] | None = None) -> int:
    return run_background_daemon(SECTION, ObjectReplicator, argv)
