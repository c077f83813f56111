"""The object reconstructor: every fragment archive of an erasure-coded
object on its own primary, rebuilt when lost, moved home from handoffs.

It is the object replicator's pass (same jobs, options, limits, progress
and summary logs; section ``[object-reconstructor]``) over the
erasure-coding policies, with two different jobs:

- on a *primary* (fragment index i of the partition), it offers its
  objects with ssync to its two neighbours in the ring, i - 1 and i + 1;
  for every object a neighbour lacks (never had it, lost it, or its
  archive was quarantined as corrupt), it rebuilds the neighbour's own
  fragment from k archives of the other primaries (``ec_rebuild``) and
  pushes that, so each lost archive is rebuilt by a node next to it;
  tombstones and ``.meta`` files are pushed as they are.  Suffix hashes
  differ between nodes by construction (fragment indexes are in the file
  names), so every object is offered every pass;
- on a *handoff*, it pushes each fragment archive to the primary of its
  index (tombstones to every primary) and removes what they confirmed.
"""
from __future__ import annotations

import collections
import configparser
import logging
import os
import urllib.parse
from typing import Mapping

from objstore.common.backend_http import ConnectionPool
from objstore.common.background import run_background_daemon
from objstore.common.config import get_float, section
from objstore.common.erasure import FRAG_INDEX
from objstore.common.error_limiter import ErrorLimiter
from objstore.common.fanout import FanOut
from objstore.common.policies import ERASURE_CODING
from objstore.obj import metadata as md
from objstore.obj import ondisk
from replicator.ec_rebuild import rebuild_archive
from replicator.handoff_cleanup import remove_objects, remove_partition_if_empty
from replicator.object_jobs import PartitionJob
from replicator.object_replicator import ObjectReplicator, PeerFactory
from replicator.ssync_sender import (LocalObject, PeerError, Substitute, SubstituteError,
                                     local_objects)

SECTION = "object-reconstructor"


class ObjectReconstructor(ObjectReplicator):
    """One reconstruction pass over this node's EC partitions."""

    section_name = SECTION
    policy_type = ERASURE_CODING

    def __init__(self, conf: configparser.ConfigParser, logger: logging.Logger,
                 peer_factory: PeerFactory | None = None) -> None:
        super().__init__(conf, logger, peer_factory)
        options = section(conf, SECTION)
        self.fanout = FanOut(ConnectionPool().connect, ErrorLimiter(10, 60.0, logger), logger,
                             conn_timeout=get_float(options, "conn_timeout", 0.5),
                             node_timeout=get_float(options, "node_timeout", 60.0))

    # -- primaries: rebuild what a neighbour lacks ------------------------------------
    def _sync_primary(self, job: PartitionJob, stats: collections.Counter) -> None:
        if self._sweep_due(job):
            self._sweep(job)
        suffixes = [name for name in os.listdir(job.part_dir) if len(name) == 3]
        objects = list(local_objects(job.part_dir, suffixes))
        if not objects:
            return
        position = next(i for i, node in enumerate(job.primaries)
                        if node["id"] == job.device["id"])
        count = len(job.primaries)
        for index in sorted({(position - 1) % count, (position + 1) % count} - {position}):
            node = job.primaries[index]
            sender = self._sender(job, node)
            sender.substitute = lambda item, name, index=index: self._rebuild(job, item, name,
                                                                             index)
            try:
                result = sender.sync(objects)
            except PeerError as err:
                self._failed(job, node, err, stats)
                continue
            self._count(job, node, result, len(suffixes), stats)

    def _rebuild(self, job: PartitionJob, item: LocalObject, name: str,
                 index: int) -> Substitute:
        """Fragment archive ``index`` of a local object, rebuilt from the
        other primaries, under the name and metadata its node stores it."""
        path = os.path.join(item.hash_dir, name)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise SubstituteError(f"{path} is gone") from None
        try:
            metadata = md.read_metadata(fd, path)
        finally:
            os.close(fd)
        timestamp = ondisk.file_timestamp(name)
        backend_path = f"/{job.partition}{urllib.parse.quote(metadata['name'])}"
        sources = [node for i, node in enumerate(job.primaries) if i != index]
        tmp, etag, size = rebuild_archive(self.fanout, sources, backend_path, job.policy.index,
                                          timestamp, job.policy.ec_layout, index,
                                          os.path.join(job.dev_path, "tmp"))
        self.logger.info("rebuilt fragment %d of %s for %s:%s/%s", index, metadata["name"],
                         job.primaries[index]["ip"], job.primaries[index]["port"],
                         job.primaries[index]["device"])
        return Substitute(tmp, ondisk.file_name(timestamp, ondisk.data_suffix(index)),
                          {**metadata, FRAG_INDEX: str(index), "ETag": etag,
                           "Content-Length": str(size)})

    # -- handoffs: each fragment to the primary of its index --------------------------------
    def _push_handoff(self, job: PartitionJob, stats: collections.Counter) -> None:
        suffixes = sorted(self._sweep(job))
        by_target: dict[int | None, list[LocalObject]] = collections.defaultdict(list)
        for item in local_objects(job.part_dir, suffixes):
            index = ondisk.frag_index(item.offer.winner) \
                if item.offer.winner.endswith(ondisk.DATA) else None
            by_target[index].append(item)
        for index, objects in by_target.items():
            targets = job.primaries if index is None or index >= len(job.primaries) \
                else [job.primaries[index]]
            self._revert(job, targets, objects, len(suffixes), stats)
        if remove_partition_if_empty(job.part_dir):
            stats["handoffs_removed"] += 1
            self.logger.info("handoff partition %s moved to its primaries", job.part_dir)

    def _revert(self, job: PartitionJob, targets: list[Mapping], objects: list[LocalObject],
                suffixes: int, stats: collections.Counter) -> None:
        confirmed = {item.offer.hash for item in objects}
        for node in targets:
            try:
                result = self._sender(job, node).sync(objects)
            except PeerError as err:
                self._failed(job, node, err, stats)
                return
            self._count(job, node, result, suffixes, stats)
            confirmed -= result.failed
        remove_objects(item for item in objects if item.offer.hash in confirmed)


def main(argv: list[str] | None = None) -> int:
    return run_background_daemon(SECTION, ObjectReconstructor, argv)
