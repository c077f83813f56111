"""Vectorised placement of partition replicas onto devices.

The table is ``table[replica_row, part] = device id`` (-1: unassigned).  A
``Plan`` says, per tier level, which node each device belongs to and how many
replicas of one partition a node may hold (``caps``), plus each device's
target number of replica slots.

* ``layout_from_scratch``: lays devices out in tier order over the replica
  slots taken row by row, each device taking a block as long as its target.
  The slots of one partition are ``partition_count`` apart, so a block of
  length ``L`` holds at most ``ceil(L / partition_count)`` of them: every tier
  node gets floor or ceil of its share of every partition (the widest
  spread possible).  Within the largest tier nodes that hold at most one
  replica of a partition the slots are shuffled, so each device's replication
  partners are spread over many devices; each partition's replicas are then
  shuffled across its replica rows.
* ``assign``: places freed slots (removed devices, crowded tiers, new
  replicas) onto devices below their target in bulk rounds: each slot draws a
  device in proportion to the devices' deficits, the draws that respect every
  tier cap (and the deficits) are kept, the rest retry.
* ``pull``: the same rounds for balance, with slots drawn from devices above
  target, each source giving no more than its surplus.

When few slots are left, each draws only among the devices it fits
(``EXHAUSTIVE_PAIRS``), so rare matches are found rather than missed.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ring.tiers import TierTree


@dataclasses.dataclass
class Plan:
    node_of: list[np.ndarray]      # per level: dev id -> node index (-1: not live)
    caps: list[np.ndarray]         # per level: node -> max replicas of one part
    targets: np.ndarray            # dev id -> target slot count

    @classmethod
    def build(cls, tree: TierTree, level_targets: list[np.ndarray], partition_count: int,
              dev_count: int) -> "Plan":
        caps = [-(-counts // partition_count) for counts in level_targets]
        targets = np.zeros(dev_count, dtype=np.int64)
        live = tree.node_of[3] >= 0
        targets[live] = level_targets[3][tree.node_of[3][live]]
        return cls(list(tree.node_of), caps, targets)

    def node_lookup(self, level: int) -> np.ndarray:
        """dev id -> node, with a trailing sentinel so that index -1 maps to -2."""
        return np.append(self.node_of[level], -2)


def layout_from_scratch(valid: np.ndarray, plan: Plan, rng: np.random.Generator) -> np.ndarray:
    """A complete table for ``valid`` cells (see the module docstring)."""
    table = np.full(valid.shape, -1, dtype=np.int32)
    order = np.argsort(plan.node_of[3], kind="stable")
    order = order[plan.node_of[3][order] >= 0]
    order = order[plan.targets[order] > 0]
    group_ids = np.zeros(len(order), dtype=np.int64)
    previous = None
    group = -1
    for i, dev in enumerate(order):
        for level in range(4):
            node = plan.node_of[level][dev]
            if plan.caps[level][node] <= 1 or level == 3:
                key = (level, node)
                break
        if key != previous:
            group += 1
            previous = key
        group_ids[i] = group
    counts = plan.targets[order]
    sequence = np.repeat(order.astype(np.int32), counts)
    groups = np.repeat(group_ids, counts).astype(np.float64)
    sequence = sequence[np.argsort(groups + rng.random(len(sequence)), kind="stable")]
    table[valid] = sequence
    # Shuffle each partition's replicas across its rows: the set of devices stays
    # the same, but no device ends up holding only one row (dropping replicas
    # later then thins every device alike).
    keys = np.where(valid, rng.random(valid.shape), np.inf)
    order = np.argsort(keys, axis=0, kind="stable")
    return np.take_along_axis(table, order, axis=0)


def allowed(table: np.ndarray, rows: np.ndarray, parts: np.ndarray, devs: np.ndarray,
            plan: Plan, lookups: list[np.ndarray]) -> np.ndarray:
    """Whether putting ``devs`` in cells (rows, parts) keeps every tier within its cap."""
    ok = np.ones(len(rows), dtype=bool)
    others = table[:, parts]                      # (replica rows, n)
    same_row = np.arange(table.shape[0])[:, None] == rows[None, :]
    for level in range(4):
        lookup = lookups[level]
        node = lookup[devs]
        count = ((lookup[others] == node[None, :]) & ~same_row).sum(axis=0) + 1
        ok &= count <= plan.caps[level][node]
    return ok


EXHAUSTIVE_PAIRS = 2_000_000
ZONE_PAIRS = 16_000_000


def _weighted_pick(fits: np.ndarray, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per row of ``fits`` (cells x options), an option index drawn in proportion to
    ``weights`` among the options that fit (any option when none fits)."""
    cumulative = np.cumsum(fits * weights[None, :], axis=1)
    draw = rng.random(len(fits)) * cumulative[:, -1]
    return np.minimum((cumulative <= draw[:, None]).sum(axis=1), fits.shape[1] - 1)


def zone_fits(table: np.ndarray, rows: np.ndarray, parts: np.ndarray, zone_devs: np.ndarray,
               plan: Plan, lookups: list[np.ndarray]) -> np.ndarray:
    """(cells x zones): whether a cell may go to each zone, by the region and zone caps."""
    others = table[:, parts]
    fits = np.ones((len(rows), len(zone_devs)), dtype=bool)
    for level in (0, 1):
        nodes = lookups[level][zone_devs]
        count = np.ones(fits.shape, dtype=np.int64)
        for row in range(table.shape[0]):
            here = lookups[level][others[row]]
            count += (here[:, None] == nodes[None, :]) & (rows != row)[:, None]
        fits &= count <= plan.caps[level][nodes][None, :]
    return fits


def _propose(table: np.ndarray, rows: np.ndarray, parts: np.ndarray, plan: Plan,
             deficits: np.ndarray, lookups: list[np.ndarray],
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A destination for each cell, drawn in proportion to devices' deficits.

    Returns (destinations, whether each fits the caps).  When cells times
    candidate devices is small, every pair is checked and each cell draws among
    the devices it fits, so the last few cells still find their rare matches.
    Otherwise, when cells times zones is small enough, each cell draws a zone it
    fits (by deficit), then a device of that zone.
    """
    devs = np.nonzero(deficits > 0)[0]
    weights = deficits[devs].astype(np.float64)
    count = len(rows)
    if count * len(devs) <= EXHAUSTIVE_PAIRS:
        fits = allowed(table, np.repeat(rows, len(devs)), np.repeat(parts, len(devs)),
                       np.tile(devs, count), plan, lookups).reshape(count, len(devs))
        choice = _weighted_pick(fits, weights, rng)
        return devs[choice], fits[np.arange(count), choice]
    zone_of = plan.node_of[1][devs]
    zones, first, inverse = np.unique(zone_of, return_index=True, return_inverse=True)
    if count * len(zones) <= ZONE_PAIRS:
        zone_weights = np.bincount(inverse, weights=weights)
        zone_choice = _weighted_pick(zone_fits(table, rows, parts, devs[first], plan, lookups),
                                     zone_weights, rng)
        dest = np.empty(count, dtype=np.int64)
        for index in range(len(zones)):
            cells = np.nonzero(zone_choice == index)[0]
            members = np.nonzero(inverse == index)[0]
            if len(cells):
                share = weights[members] / weights[members].sum()
                dest[cells] = devs[members[rng.choice(len(members), size=len(cells), p=share)]]
    else:
        dest = devs[rng.choice(len(devs), size=count, p=weights / weights.sum())]
    return dest, allowed(table, rows, parts, dest, plan, lookups)


def first_per_group(keys: np.ndarray, limits: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """The ``candidates`` (indexes) kept when each key may be used ``limits[key]`` times."""
    order = candidates[np.argsort(keys[candidates], kind="stable")]
    sorted_keys = keys[order]
    rank = np.arange(len(order)) - np.searchsorted(sorted_keys, sorted_keys, side="left")
    return order[rank < limits[sorted_keys]]


def _match(table: np.ndarray, rows: np.ndarray, parts: np.ndarray, cells: np.ndarray,
           plan: Plan, deficits: np.ndarray, lookups: list[np.ndarray],
           rng: np.random.Generator, sources: np.ndarray | None = None,
           budget: np.ndarray | None = None) -> np.ndarray:
    """One round: propose a destination for each cell, keep what fits; returns placed cells.

    ``cells`` must hold at most one cell per partition.
    """
    cells = rng.permutation(cells)
    if not deficits.any():
        return cells[:0]
    dest, fits = _propose(table, rows[cells], parts[cells], plan, deficits, lookups, rng)
    good = np.nonzero(fits)[0]
    good = first_per_group(dest, deficits, good)
    if sources is not None:
        good = first_per_group(sources[cells], budget, good)
        budget -= np.bincount(sources[cells[good]], minlength=len(budget))
    placed = cells[good]
    table[rows[placed], parts[placed]] = dest[good]
    deficits -= np.bincount(dest[good], minlength=len(deficits))
    return placed


def assign(table: np.ndarray, rows: np.ndarray, parts: np.ndarray, plan: Plan,
           deficits: np.ndarray, rng: np.random.Generator,
           max_rounds: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Place the free cells (rows, parts) in bulk; return the cells that found no device.

    ``deficits`` (dev id -> free slots wanted) is updated in place.
    """
    lookups = [plan.node_lookup(level) for level in range(4)]
    pending = np.arange(len(rows))
    stalled = 0
    for _ in range(max_rounds):
        if not len(pending) or not deficits.any():
            break
        # one cell per partition per round, so cells placed together never clash
        batch = rng.permutation(pending)
        _, first = np.unique(parts[batch], return_index=True)
        placed = _match(table, rows, parts, batch[first], plan, deficits, lookups, rng)
        keep = np.ones(len(rows), dtype=bool)
        keep[placed] = False
        pending = pending[keep[pending]]
        stalled = 0 if len(placed) else stalled + 1
        if stalled >= 4:
            break
    return rows[pending], parts[pending]


def place_best_effort(table: np.ndarray, row: int, part: int, plan: Plan,
                      deficits: np.ndarray, weighted: np.ndarray) -> int:
    """Put one cell on the device that breaks the fewest (and lowest) tier caps.

    Used for the few slots that must move (removed device, new replica) when no
    device below target can take them within the caps.
    """
    candidates = np.nonzero(weighted)[0]
    others = np.delete(table[:, part], row)
    others = others[others >= 0]
    penalty = np.zeros(len(candidates))
    for level in range(4):
        node = plan.node_of[level][candidates]
        count = (plan.node_of[level][others][None, :] == node[:, None]).sum(axis=1) + 1
        penalty += (count > plan.caps[level][node]) * (10.0 ** (level + 1))
    penalty -= deficits[candidates] / np.maximum(plan.targets[candidates], 1)
    best = int(candidates[np.argmin(penalty)])
    table[row, part] = best
    deficits[best] -= 1
    return best


def pull(table: np.ndarray, rows: np.ndarray, parts: np.ndarray, budget: np.ndarray,
         plan: Plan, deficits: np.ndarray, rng: np.random.Generator,
         max_rounds: int = 40) -> np.ndarray:
    """Move some candidate cells (at most one per partition) to devices below target.

    The candidates sit on devices above target; ``budget`` (dev id -> cells it
    may give) keeps a source from dropping below its own target.  Returns the
    partitions moved; ``table``, ``budget`` and ``deficits`` are updated in place.
    """
    lookups = [plan.node_lookup(level) for level in range(4)]
    sources = table[rows, parts].astype(np.int64)
    alive = np.ones(len(rows), dtype=bool)
    moved_parts = []
    stalled = 0
    for _ in range(max_rounds):
        alive &= budget[sources] > 0
        candidates = np.nonzero(alive)[0]
        wanted = int(deficits.sum())
        if not len(candidates) or not wanted:
            break
        if len(candidates) > 2 * wanted:   # enough to fill the deficits, no more work
            candidates = rng.choice(candidates, 2 * wanted, replace=False)
        placed = _match(table, rows, parts, candidates, plan, deficits, lookups, rng,
                        sources, budget)
        alive[placed] = False
        moved_parts.append(parts[placed])
        stalled = 0 if len(placed) else stalled + 1
        if stalled >= 4:
            break
    return np.concatenate(moved_parts) if moved_parts else np.zeros(0, dtype=np.int64)
