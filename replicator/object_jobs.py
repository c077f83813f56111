"""What the object replicator has to do on this node: one job per local
device partition of each replicated storage policy.

The node's ring devices are found by ``replicator.devices``.  A partition
directory on one of them is a *primary* job if the ring puts one of the
partition's replicas on that device, otherwise a *handoff* job (a handoff
write, or what a rebalance moved away).
"""
from __future__ import annotations

import dataclasses
import os
from typing import Mapping

from objstore.common.policies import StoragePolicy
from ring.ring import Ring


@dataclasses.dataclass(frozen=True)
class PartitionJob:
    policy: StoragePolicy
    device: Mapping          # the local ring device
    dev_path: str
    partition: int
    primaries: list[dict]    # the ring's primary devices for the partition

    @property
    def part_dir(self) -> str:
        return os.path.join(self.dev_path, self.policy.data_dir, str(self.partition))

    @property
    def is_handoff(self) -> bool:
        return all(node["id"] != self.device["id"] for node in self.primaries)

    @property
    def targets(self) -> list[dict]:
        """Where this partition's objects go: the other primaries, or all of them."""
        return [node for node in self.primaries if node["id"] != self.device["id"]]


def partitions(dev_path: str, policy: StoragePolicy) -> list[int]:
    """Partition numbers with a directory on the device, in order."""
    try:
        names = os.listdir(os.path.join(dev_path, policy.data_dir))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(int(name) for name in names if name.isdigit())


def device_jobs(policy: StoragePolicy, ring: Ring, device: Mapping,
                dev_path: str) -> list[PartitionJob]:
    """The device's partition jobs for ``policy``, handoffs first (moving them
    frees space and brings primaries up to date soonest)."""
    jobs = [PartitionJob(policy, device, dev_path, part, ring.get_part_nodes(part))
            for part in partitions(dev_path, policy) if part < ring.partition_count]
    return sorted(jobs, key=lambda job: not job.is_handoff)

