"""The read side of the ring, used by every daemon on every request.

``get_nodes`` is one salted MD5, a shift, and one index per replica row into
packed arrays whose values index precomputed node dicts.  The ring file is
re-read when its mtime changes (checked at most every ``reload_time`` s).
"""
from __future__ import annotations

import configparser
import os
import struct
import time
from typing import Iterator

import numpy as np

from objstore.common.config import (ConfigError, hash_path_affixes, ring_dir as conf_ring_dir,
                                    section, get_float, CLUSTER_SECTION)
from objstore.common.hashing import hash_path
from objstore.common.policies import load_policies
from ring.errors import RingError
from ring.ringfile import RingData, read_ring_file

_PART = struct.Struct(">I")
KINDS = ("account", "container", "object")


def _mix(value: int) -> int:
    """The splitmix64 finaliser: a well-spread 64-bit hash of an integer."""
    z = (value + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


class HandoffSequence:
    """A fixed, shuffled sequence of the weighted devices that handoffs walk.

    Each device appears a number of times proportional to its weight; a
    partition starts its walk at a hashed position.  The first handoff of a
    partition is therefore a weighted pick, the same every time, and costs a
    handful of steps instead of a pass over every device.
    """

    SLOTS_PER_DEVICE = 8

    def __init__(self, dev_ids: list[int], weights: list[float]) -> None:
        total = sum(weights)
        length = self.SLOTS_PER_DEVICE * len(dev_ids)
        copies = [max(1, round(length * weight / total)) for weight in weights] if total else []
        # Shuffled by a fixed hash (not a library RNG) so that every node, whatever
        # its numpy version, walks the same handoffs for the same ring file.
        entries = [(dev_id, copy) for dev_id, count in zip(dev_ids, copies) for copy in range(count)]
        entries.sort(key=lambda entry: _mix((entry[0] << 20) | entry[1]))
        sequence = [dev_id for dev_id, _ in entries]
        self.length = len(sequence)
        self.doubled = sequence + sequence   # walk without wrapping arithmetic

    def start(self, part: int) -> int:
        return _mix(part) % self.length if self.length else 0


class _Loaded:
    """Everything derived from one ring file, swapped in as a whole on reload."""

    __slots__ = ("data", "devs", "lookups", "full_rows", "has_duplicates", "handoffs",
                 "tiers", "weighted_tiers")

    def __init__(self, data: RingData, source: str) -> None:
        devs = data.devs
        arrays = [np.frombuffer(row, dtype=np.dtype(row.typecode)) for row in data.rows]
        known = np.array([dev is not None for dev in devs] + [False])
        for values in arrays:
            if len(values) and (values.max() >= len(devs) or not known[values].all()):
                raise RingError(f"{source}: partition assigned to an unknown device")
        self.data = data
        self.devs = devs
        # One node dict per (replica index, device) so a lookup only copies dicts.
        self.lookups = [(row, [None if dev is None else dict(dev, index=index) for dev in devs],
                         len(row)) for index, row in enumerate(data.rows)]
        self.full_rows = all(len(row) == data.partition_count for row in data.rows)
        self.has_duplicates = self._find_duplicates(arrays)
        weighted = [d for d in devs if d is not None and d.get("weight", 0) > 0]
        self.handoffs = HandoffSequence([d["id"] for d in weighted],
                                        [float(d["weight"]) for d in weighted])
        self.tiers = [None if d is None else
                      (d["region"], (d["region"], d["zone"]), (d["region"], d["zone"], d["ip"]))
                      for d in devs]
        self.weighted_tiers = [{self.tiers[d["id"]][level] for d in weighted} for level in range(3)]

    @staticmethod
    def _find_duplicates(arrays: list[np.ndarray]) -> bool:
        """True when some partition has two replicas on one device (tiny rings only)."""
        for i, first in enumerate(arrays):
            for second in arrays[i + 1:]:
                n = min(len(first), len(second))
                if np.any(first[:n] == second[:n]):
                    return True
        return False


class Ring:
    """Partition and device lookups for one ring file (``<ring_dir>/<ring_name>.ring.gz``)."""

    def __init__(self, ring_dir: str, ring_name: str, *, hash_prefix: bytes = b"",
                 hash_suffix: bytes = b"", reload_time: float = 15.0) -> None:
        self.path = os.path.join(ring_dir, f"{ring_name}.ring.gz")
        self.ring_name = ring_name
        self.hash_prefix = hash_prefix
        self.hash_suffix = hash_suffix
        self.reload_time = reload_time
        self._stat_key = self._stat()
        self._state = self._read()
        self._part_shift = 32 - self._state.data.part_power
        self._next_check = time.monotonic() + reload_time

    # -- loading -------------------------------------------------------------------
    def _stat(self) -> tuple:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise RingError(f"ring file not found: {self.path}") from None
        return (st.st_mtime_ns, st.st_ino, st.st_size)

    def _read(self) -> _Loaded:
        data = read_ring_file(self.path)
        try:
            return _Loaded(data, self.path)
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise RingError(f"{self.path}: corrupt ring file ({err!r})") from None

    def _check_reload(self) -> None:
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + self.reload_time
        try:
            stat_key = self._stat()
            if stat_key != self._stat_key:
                state = self._read()
                if state.data.part_power != self._state.data.part_power:
                    raise RingError(f"{self.path}: the partition power changed")
                self._state = state
                self._stat_key = stat_key
        except RingError:
            pass  # keep serving the ring we have; the new file may still be on its way

    def reload(self) -> None:
        """Re-read the ring file now if it changed."""
        self._next_check = 0.0
        self._check_reload()

    # -- properties -------------------------------------------------------------------
    @property
    def devs(self) -> list[dict | None]:
        self._check_reload()
        return self._state.devs

    @property
    def replica_count(self) -> float:
        self._check_reload()
        return self._state.data.replicas

    @property
    def partition_count(self) -> int:
        return self._state.data.partition_count

    @property
    def part_power(self) -> int:
        return self._state.data.part_power

    @property
    def version(self) -> int:
        self._check_reload()
        return self._state.data.version

    # -- lookups -------------------------------------------------------------------
    def get_part(self, account: str, container: str | None = None, obj: str | None = None) -> int:
        digest = hash_path(account, container, obj, prefix=self.hash_prefix,
                           suffix=self.hash_suffix)
        return _PART.unpack_from(digest)[0] >> self._part_shift

    def get_part_nodes(self, part: int) -> list[dict]:
        """The primary nodes of ``part``, each with its replica ``index``."""
        if time.monotonic() >= self._next_check:
            self._check_reload()
        state = self._state
        if state.full_rows:
            nodes = [lookup[row[part]].copy() for row, lookup, _ in state.lookups]
        else:
            nodes = [lookup[row[part]].copy() for row, lookup, length in state.lookups
                     if part < length]
        if state.has_duplicates:
            nodes = self._dedupe(nodes)
        return nodes

    @staticmethod
    def _dedupe(nodes: list[dict]) -> list[dict]:
        seen: set[int] = set()
        unique = []
        for node in nodes:
            if node["id"] not in seen:
                seen.add(node["id"])
                node["index"] = len(unique)
                unique.append(node)
        return unique

    def get_nodes(self, account: str, container: str | None = None,
                  obj: str | None = None) -> tuple[int, list[dict]]:
        part = self.get_part(account, container, obj)
        return part, self.get_part_nodes(part)

    def get_more_nodes(self, part: int) -> Iterator[dict]:
        """Handoff nodes for ``part``, most different first.

        First devices in regions the primaries do not use, then other zones, then
        other servers, then any remaining weighted device.  Within each pass the
        order is a walk of a weighted shuffled sequence from a position hashed
        from the partition, so it is the same every time for a partition.
        """
        primaries = self.get_part_nodes(part)
        state = self._state
        tiers = state.tiers
        weighted_tiers = state.weighted_tiers
        used_ids = {node["id"] for node in primaries}
        used: list[set] = [set(), set(), set()]
        for node in primaries:
            for seen, key in zip(used, tiers[node["id"]]):
                seen.add(key)
        # weighted tier nodes per level that hold no replica yet
        unused = [len(weighted_tiers[level] - used[level]) for level in range(3)]
        devs = state.devs
        walk = state.handoffs.doubled
        start = state.handoffs.start(part)
        handoff_index = len(primaries)
        for level in range(4):
            for position in range(start, start + state.handoffs.length):
                if level < 3 and not unused[level]:
                    break
                dev_id = walk[position]
                if dev_id in used_ids:
                    continue
                keys = tiers[dev_id]
                if level < 3 and keys[level] in used[level]:
                    continue
                used_ids.add(dev_id)
                for up, (seen, key) in enumerate(zip(used, keys)):
                    if key not in seen:
                        seen.add(key)
                        unused[up] -= 1
                yield dict(devs[dev_id], handoff_index=handoff_index)
                handoff_index += 1


def load_ring(conf: configparser.ConfigParser, kind: str, policy_index: int = 0,
              reload_time: float | None = None) -> Ring:
    """The account, container or (per storage policy) object ring named by the config.

    ``[objstore] ring_check_interval`` (default 15 s) sets how often the ring file's
    mtime is checked.
    """
    if kind not in KINDS:
        raise ValueError(f"ring kind must be one of {KINDS}, not {kind!r}")
    name, policy = kind, None
    if kind == "object":
        policy = load_policies(conf).get_by_index(policy_index)
        if policy is None:
            raise ConfigError(f"no storage policy with index {policy_index}")
        name = policy.ring_name
    prefix, suffix = hash_path_affixes(conf)
    if reload_time is None:
        reload_time = get_float(section(conf, CLUSTER_SECTION), "ring_check_interval", 15.0)
    ring = Ring(conf_ring_dir(conf), name, hash_prefix=prefix, hash_suffix=suffix,
                reload_time=reload_time)
    if policy is not None and policy.node_count and ring.replica_count != policy.node_count:
        raise RingError(f"{ring.path}: storage policy {policy.name} needs {policy.node_count} "
                        f"replicas (ec_num_data_fragments + ec_num_parity_fragments), the ring "
                        f"has {ring.replica_count:g}")
    return ring
