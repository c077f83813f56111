"""RingBuilder: the admin-side state of a ring and the rebalance that fills it.

The builder keeps the device list, the replica-to-partition-to-device table
(numpy, -1 for unassigned) and, per partition, when it last moved.  A
rebalance computes each device's target from weights and tiers (ring.tiers),
then either lays out a new table (ring.placement) or moves as little as
possible in an existing one (ring.rebalance).  A partition moves at most one
replica per ``min_part_hours``, except replicas whose device is gone.
"""
from __future__ import annotations

import dataclasses
import gzip
import math
import time
import uuid
from typing import Any

import msgpack
import numpy as np

from ring import devices as devlib
from ring.errors import RingBuilderError
from ring.placement import Plan, layout_from_scratch
from ring.rebalance import Progress, Rebalance
from ring.ringfile import atomic_write, backup, write_ring_file
from ring.tiers import LEVELS, TierTree, slot_targets

BUILDER_FORMAT = "objstore-ring-builder"
BUILDER_FORMAT_VERSION = 1
MAX_BALANCE = 999.99
MAX_PART_POWER = 24


@dataclasses.dataclass
class RebalanceResult:
    parts_moved: int        # partitions with at least one replica reassigned
    slots_moved: int        # replicas reassigned
    balance: float
    dispersion: float
    removed_devs: list[dict]
    seconds: float


class RingBuilder:
    """Devices, replica placement and the settings of one ring."""

    def __init__(self, part_power: int, replicas: float, min_part_hours: int,
                 overload: float = 0.0) -> None:
        if not 0 <= int(part_power) <= MAX_PART_POWER or int(part_power) != part_power:
            raise RingBuilderError(f"part_power must be an integer from 0 to {MAX_PART_POWER}")
        self.part_power = int(part_power)
        self.replicas = self._check_replicas(replicas)
        self.min_part_hours = self._check_hours(min_part_hours)
        self.overload = self._check_overload(overload)
        self.devs: list[dict | None] = []
        self.pending_removal: set[int] = set()
        self.table = np.full((self.row_count, self.partition_count), -1, dtype=np.int32)
        self.last_moved = np.zeros(self.partition_count, dtype=np.uint32)
        self.version = 0
        self.id = uuid.uuid4().hex

    # -- settings -------------------------------------------------------------------------
    @property
    def partition_count(self) -> int:
        return 1 << self.part_power

    @property
    def row_count(self) -> int:
        return math.ceil(self.replicas)

    @property
    def slot_count(self) -> int:
        return sum(self.row_lengths())

    def row_lengths(self, replicas: float | None = None) -> list[int]:
        replicas = self.replicas if replicas is None else replicas
        whole = math.floor(replicas)
        lengths = [self.partition_count] * whole
        extra = round((replicas - whole) * self.partition_count)
        if extra:
            lengths.append(extra)
        return lengths

    def valid_mask(self, replicas: float | None = None) -> np.ndarray:
        lengths = self.row_lengths(replicas)
        mask = np.zeros((len(lengths), self.partition_count), dtype=bool)
        for row, length in enumerate(lengths):
            mask[row, :length] = True
        return mask

    @staticmethod
    def _check_replicas(replicas: Any) -> float:
        try:
            value = float(replicas)
        except (TypeError, ValueError):
            raise RingBuilderError(f"invalid replica count {replicas!r}") from None
        if not 1 <= value <= 64:
            raise RingBuilderError("replica count must be at least 1 (and at most 64)")
        return value

    @staticmethod
    def _check_hours(hours: Any) -> int:
        try:
            value = int(hours)
        except (TypeError, ValueError):
            raise RingBuilderError(f"invalid min_part_hours {hours!r}") from None
        if value < 0:
            raise RingBuilderError("min_part_hours must be >= 0")
        return value

    @staticmethod
    def _check_overload(overload: Any) -> float:
        text = str(overload).strip()
        try:
            value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            raise RingBuilderError(f"invalid overload {overload!r}") from None
        if value < 0 or math.isnan(value) or math.isinf(value):
            raise RingBuilderError("overload must be a finite number >= 0")
        return value

    def _changed(self) -> None:
        self.version += 1

    def set_replicas(self, replicas: float) -> None:
        """Change the replica count; new replicas are placed by the next rebalance."""
        value = self._check_replicas(replicas)
        table = np.full((math.ceil(value), self.partition_count), -1, dtype=np.int32)
        rows = min(table.shape[0], self.table.shape[0])
        table[:rows] = self.table[:rows]
        table[~self.valid_mask(value)] = -1
        self.replicas = value
        self.table = table
        self._changed()

    def set_min_part_hours(self, hours: int) -> None:
        self.min_part_hours = self._check_hours(hours)
        self._changed()

    def set_overload(self, overload: float | str) -> None:
        self.overload = self._check_overload(overload)
        self._changed()

    def pretend_min_part_hours_passed(self) -> None:
        self.last_moved[:] = 0
        self._changed()

    def min_part_seconds_left(self, now: float | None = None) -> float:
        now = time.time() if now is None else now
        if not self.min_part_hours or not self.last_moved.any():
            return 0.0
        return max(0.0, float(self.last_moved.max()) + self.min_part_hours * 3600 - now)

    # -- devices ----------------------------------------------------------------------------
    def live_devs(self) -> list[dict]:
        return [d for d in self.devs if d is not None and d["id"] not in self.pending_removal]

    def get_dev(self, dev_id: int) -> dict:
        if not 0 <= dev_id < len(self.devs) or self.devs[dev_id] is None:
            raise RingBuilderError(f"no device with id {dev_id}")
        return self.devs[dev_id]

    def add_dev(self, dev: dict[str, Any]) -> int:
        """Add a device (dict with region, zone, ip, port, device, weight...); returns its id."""
        new = devlib.normalize_dev(dev)
        self._check_unique(new)
        if new["id"] is None:
            holes = [i for i, d in enumerate(self.devs) if d is None]
            new["id"] = holes[0] if holes else len(self.devs)
        dev_id = new["id"]
        if dev_id < len(self.devs) and self.devs[dev_id] is not None:
            raise RingBuilderError(f"device id {dev_id} is already in use")
        while len(self.devs) <= dev_id:
            self.devs.append(None)
        self.devs[dev_id] = new
        self._changed()
        return dev_id

    def _check_unique(self, dev: dict, ignore_id: int | None = None) -> None:
        for other in self.devs:
            if other is None or other["id"] == ignore_id:
                continue
            if (other["ip"].lower(), other["port"], other["device"]) == \
                    (dev["ip"].lower(), dev["port"], dev["device"]):
                pending = other["id"] in self.pending_removal
                state = " (removal pending: rebalance first)" if pending else ""
                raise RingBuilderError(
                    f"device {devlib.format_address(dev['ip'], dev['port'])}/{dev['device']} "
                    f"already exists as d{other['id']}{state}")

    def remove_dev(self, dev_id: int) -> dict:
        """Mark a device for removal; the next rebalance moves its partitions away."""
        dev = self.get_dev(dev_id)
        self.pending_removal.add(dev_id)
        self._changed()
        return dev

    def set_dev_weight(self, dev_id: int, weight: float) -> None:
        self.get_dev(dev_id)["weight"] = devlib.parse_weight(weight)
        self._changed()

    def set_dev_info(self, dev_id: int, changes: dict[str, Any]) -> dict:
        """Change ip, port, replication ip/port, device name or meta of a device."""
        allowed = {"ip", "port", "replication_ip", "replication_port", "device", "meta"}
        unknown = set(changes) - allowed
        if unknown:
            raise RingBuilderError(f"cannot change {', '.join(sorted(unknown))} with set_info")
        dev = self.get_dev(dev_id)
        candidate = devlib.normalize_dev({**dev, "replication_ip": dev["replication_ip"],
                                          **changes})
        self._check_unique(candidate, ignore_id=dev_id)
        dev.update({key: candidate[key] for key in allowed})
        self._changed()
        return dev

    def search_devs(self, criteria: dict[str, Any]) -> list[dict]:
        return devlib.search(self.devs, criteria)

    # -- targets and statistics -----------------------------------------------------------
    def _plan(self, live: list[dict], overload: float) -> tuple[TierTree, Plan]:
        tree = TierTree.build(self.devs, {d["id"] for d in live})
        shares = tree.shares(self.replicas, overload)
        level_targets = slot_targets(tree, shares, self.slot_count)
        return tree, Plan.build(tree, level_targets, self.partition_count, len(self.devs))

    def slot_counts(self) -> np.ndarray:
        cells = self.table[self.valid_mask() & (self.table >= 0)]
        return np.bincount(cells, minlength=len(self.devs))

    def weight_targets(self) -> np.ndarray:
        """Per device id: slots it should hold by weight alone (what balance is measured against)."""
        targets = np.zeros(len(self.devs))
        live = self.live_devs()
        total = sum(d["weight"] for d in live)
        if total > 0:
            slots = self.slot_count
            for dev in live:
                targets[dev["id"]] = slots * dev["weight"] / total
        return targets

    def dev_balances(self) -> dict[int, float]:
        """Per device: percent above (+) or below (-) its weight target."""
        counts = self.slot_counts()
        targets = self.weight_targets()
        result = {}
        for dev in self.devs:
            if dev is None:
                continue
            want, have = targets[dev["id"]], counts[dev["id"]]
            if want > 0:
                result[dev["id"]] = 100.0 * (have - want) / want
            else:
                result[dev["id"]] = MAX_BALANCE if have else 0.0
        return result

    def get_balance(self) -> float:
        """The largest distance (percent) of any device from its weight target."""
        balances = self.dev_balances()
        return min(MAX_BALANCE, max((abs(b) for b in balances.values()), default=0.0))

    def dispersion_report(self) -> dict[str, Any]:
        """How well replicas are spread, against the widest spread the tiers allow.

        ``dispersion`` is the percent of partitions with more replicas in some tier
        node than the widest spread allows; ``sharing[level]`` counts partitions
        with two or more replicas in one node of that level.
        """
        existing = [d for d in self.devs if d is not None]
        assigned = self.valid_mask() & (self.table >= 0)
        report: dict[str, Any] = {"dispersion": 0.0, "over": {}, "sharing": {},
                                  "parts": self.partition_count}
        if not existing or not assigned.any():
            return report
        tree = TierTree.build(self.devs)
        shares = tree.shares(self.replicas, 1e12)
        table = np.where(assigned, self.table, -1)
        any_over = np.zeros(self.partition_count, dtype=bool)
        for level, name in enumerate(LEVELS):
            caps = np.maximum(np.ceil(shares[level] - 1e-6), 1)
            lookup = np.append(tree.node_of[level], -2)
            nodes = lookup[table]
            over = np.zeros(self.partition_count, dtype=bool)
            sharing = np.zeros(self.partition_count, dtype=bool)
            for row in range(nodes.shape[0]):
                here = nodes[row]
                count = (nodes == here[None, :]).sum(axis=0)
                real = here >= 0
                sharing |= real & (count >= 2)
                over |= real & (count > caps[np.maximum(here, 0)])
            report["over"][name] = int(over.sum())
            report["sharing"][name] = int(sharing.sum())
            any_over |= over
        report["dispersion"] = 100.0 * any_over.sum() / self.partition_count
        return report

    def validate(self) -> tuple[list[str], list[str]]:
        """Problems (errors, warnings) that would make the ring unusable or poor."""
        errors: list[str] = []
        warnings: list[str] = []
        valid = self.valid_mask()
        if self.table.shape != valid.shape:
            errors.append(f"table has shape {self.table.shape}, expected {valid.shape}")
            return errors, warnings
        unassigned = int((valid & (self.table < 0)).sum())
        if unassigned:
            errors.append(f"{unassigned} replicas are not assigned to a device (run rebalance)")
        known = np.zeros(len(self.devs) + 1, dtype=bool)
        known[[d["id"] for d in self.devs if d is not None]] = True
        unknown = int((valid & (self.table >= 0) & ~known[self.table]).sum())
        if unknown:
            errors.append(f"{unknown} replicas are assigned to devices that do not exist")
        weighted = [d for d in self.live_devs() if d["weight"] > 0]
        if len(weighted) >= self.row_count:
            table = np.where(valid, self.table, -1)
            doubled = 0
            for row in range(1, table.shape[0]):
                same = (table[:row] == table[row][None, :]) & (table[row] >= 0)
                doubled += int(same.any(axis=0).sum())
            if doubled:
                errors.append(f"{doubled} partitions have two replicas on one device")
        counts = self.slot_counts()
        for dev in self.devs:
            if dev is None:
                continue
            if dev["id"] in self.pending_removal:
                warnings.append(f"d{dev['id']} is pending removal (run rebalance)")
            elif dev["weight"] == 0 and counts[dev["id"]]:
                warnings.append(f"d{dev['id']} has weight 0 but holds {counts[dev['id']]} "
                                "replicas (run rebalance)")
        if not weighted:
            errors.append("no devices with weight > 0")
        return errors, warnings

    # -- rebalance -------------------------------------------------------------------------
    def rebalance(self, seed: int | None = None, now: float | None = None,
                  allow_fewer_devices: bool = False,
                  progress: Progress | None = None) -> RebalanceResult:
        """Reassign replicas to match weights and tiers, moving as little as possible."""
        started = time.monotonic()
        now = time.time() if now is None else now
        say = progress or (lambda message: None)
        rng = np.random.default_rng(seed)
        live = self.live_devs()
        weighted = [d for d in live if d["weight"] > 0]
        if not weighted:
            raise RingBuilderError("no devices with weight > 0: add devices before rebalancing")
        if len(weighted) < self.row_count and not allow_fewer_devices:
            raise RingBuilderError(
                f"{self.replicas:g} replicas need at least {self.row_count} devices with "
                f"weight > 0, there are {len(weighted)} (use --force to place several "
                "replicas on one device)")
        say(f"computing targets for {len(weighted)} devices")
        _, plan = self._plan(live, self.overload)
        valid = self.valid_mask()
        before = self.table.copy()
        if not (self.table[valid] >= 0).any():
            say(f"placing {int(valid.sum())} replicas from scratch")
            table = layout_from_scratch(valid, plan, rng)
        else:
            movable = now - self.last_moved.astype(np.float64) >= self.min_part_hours * 3600
            table = Rebalance(valid, plan, rng, say).run(
                self.table, [d["id"] for d in live], movable)
        changed = (table != before) & valid
        moved_parts = changed.any(axis=0)
        self.table = table
        self.last_moved[moved_parts] = np.uint32(min(int(now), 2**32 - 1))
        removed = [self.devs[i] for i in sorted(self.pending_removal)]
        for dev_id in self.pending_removal:
            self.devs[dev_id] = None
        self.pending_removal.clear()
        if moved_parts.any() or removed:
            self._changed()
        return RebalanceResult(
            parts_moved=int(moved_parts.sum()), slots_moved=int(changed.sum()),
            balance=self.get_balance(), dispersion=self.dispersion_report()["dispersion"],
            removed_devs=removed, seconds=time.monotonic() - started)

    # -- files ------------------------------------------------------------------------------
    def ring_rows(self) -> list[np.ndarray]:
        if (self.valid_mask() & (self.table < 0)).any():
            raise RingBuilderError("some replicas are not assigned yet: run rebalance first")
        return [self.table[row, :length] for row, length in enumerate(self.row_lengths())]

    def ring_devs(self) -> list[dict | None]:
        return [None if d is None else {key: d[key] for key in devlib.DEV_KEYS} for d in self.devs]

    def write_ring(self, path: str, keep_backup: bool = True) -> None:
        write_ring_file(path, self.part_power, self.replicas, self.ring_devs(), self.ring_rows(),
                        self.version, keep_backup=keep_backup)

    def to_bytes(self) -> bytes:
        state = {
            "format": BUILDER_FORMAT, "format_version": BUILDER_FORMAT_VERSION, "id": self.id,
            "version": self.version, "part_power": self.part_power, "replicas": self.replicas,
            "min_part_hours": self.min_part_hours, "overload": self.overload,
            "devs": self.devs, "pending_removal": sorted(self.pending_removal),
            "table": self.table.astype("<i4").tobytes(),
            "last_moved": self.last_moved.astype("<u4").tobytes(),
        }
        return gzip.compress(msgpack.packb(state, use_bin_type=True), compresslevel=1, mtime=0)

    @classmethod
    def from_bytes(cls, blob: bytes, source: str = "builder") -> "RingBuilder":
        try:
            state = msgpack.unpackb(gzip.decompress(blob), raw=False, strict_map_key=False)
        except (OSError, EOFError, ValueError, msgpack.UnpackException) as err:
            raise RingBuilderError(f"{source}: not an objstore builder file ({err})") from None
        if not isinstance(state, dict) or state.get("format") != BUILDER_FORMAT:
            raise RingBuilderError(f"{source}: not an objstore builder file")
        if state.get("format_version") != BUILDER_FORMAT_VERSION:
            raise RingBuilderError(f"{source}: unsupported builder format version "
                                   f"{state.get('format_version')!r}")
        try:
            builder = cls(state["part_power"], state["replicas"], state["min_part_hours"],
                          state["overload"])
            builder.id = state["id"]
            builder.version = state["version"]
            builder.devs = state["devs"]
            builder.pending_removal = set(state["pending_removal"])
            builder.table = np.frombuffer(state["table"], dtype="<i4").astype(np.int32).reshape(
                builder.row_count, builder.partition_count)
            builder.last_moved = np.frombuffer(state["last_moved"], dtype="<u4").astype(np.uint32)
            if builder.last_moved.shape != (builder.partition_count,):
                raise ValueError("last_moved has the wrong length")
        except (KeyError, TypeError, ValueError) as err:
            raise RingBuilderError(f"{source}: corrupt builder file ({err})") from None
        return builder

    def save(self, path: str, keep_backup: bool = True) -> None:
        """Write the builder atomically, and a copy under ``backups/``."""
        data = self.to_bytes()
        atomic_write(path, data)
        if keep_backup:
            backup(path, data)

    @classmethod
    def load(cls, path: str) -> "RingBuilder":
        try:
            with open(path, "rb") as handle:
                blob = handle.read()
        except FileNotFoundError:
            raise RingBuilderError(f"builder file not found: {path}") from None
        except OSError as err:
            raise RingBuilderError(f"cannot read builder file {path}: {err}") from None
        return cls.from_bytes(blob, path)
