"""Rebalancing a ring that already has assignments, moving as little as possible.

Three steps, all in bulk (ring.placement):

1. free what must move: replicas on removed devices and unassigned replicas
   (new replica rows) whatever min_part_hours says, and one replica of each
   movable partition on a device with no target (weight 0): drained, never
   put back, so a weight-0 device keeps only what min_part_hours pins there;
2. free one replica of each movable partition that crowds a tier beyond its
   cap, preferably one on a device above its target, and place the freed
   replicas on devices below target (a crowded replica that fits nowhere
   stays where it was);
3. balance: move replicas of movable partitions from devices above target
   to devices below it.  When no direct move fits the caps, "relay": move
   replicas from devices at target that the surplus can refill into the
   deficit, and let the next pass refill them.

A partition moves at most one replica per rebalance (except what must move).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ring.placement import (Plan, zone_fits, allowed, assign, first_per_group,
                            place_best_effort, pull)

Progress = Callable[[str], None]
_EXTRA_PASSES = 12
_MAX_RELAYS = 8


def zone_of_cells(table: np.ndarray, zone_of: np.ndarray) -> np.ndarray:
    """Zone node of every cell; unassigned cells (-1) map to the extra last index."""
    return np.append(zone_of, -1)[table]


class Rebalance:
    """One incremental rebalance of a table against a plan."""

    def __init__(self, valid: np.ndarray, plan: Plan, rng: np.random.Generator,
                 say: Progress) -> None:
        self.valid = valid
        self.plan = plan
        self.rng = rng
        self.say = say
        self.dev_count = len(plan.targets)

    def run(self, table: np.ndarray, live_ids: list[int], movable: np.ndarray) -> np.ndarray:
        """The new table.  ``movable``: partitions whose min_part_hours have passed."""
        valid = self.valid
        table = table.copy()
        live = np.zeros(self.dev_count + 1, dtype=bool)   # index -1 (unassigned) -> False
        live[live_ids] = True
        must = valid & ~live[table]
        movable = movable & ~must.any(axis=0)
        must |= self._drained(table, movable)
        movable &= ~must.any(axis=0)
        must_rows, must_parts = np.nonzero(must)
        table[must] = -1
        disp_rows, disp_parts = self._dispersion_excess(table, movable)
        origin = np.full(table.shape, -1, dtype=np.int32)
        origin[disp_rows, disp_parts] = table[disp_rows, disp_parts]
        table[disp_rows, disp_parts] = -1
        movable[disp_parts] = False
        rows = np.concatenate([must_rows, disp_rows])
        parts = np.concatenate([must_parts, disp_parts])
        if len(rows):
            self.say(f"reassigning {len(rows)} replicas")
            self._place_freed(table, rows, parts, origin, movable)
        self._balance(table, movable)
        return table

    def _drained(self, table: np.ndarray, movable: np.ndarray) -> np.ndarray:
        """One replica of each movable partition that sits on a live device with no target.

        Such a device (weight 0) must end up empty, so these replicas have no
        origin to go back to: they are placed like replicas of removed devices.
        """
        targets = np.append(self.plan.targets, 1)        # index -1 (unassigned) -> kept
        empty = self.valid & (targets[table] == 0) & movable[None, :]
        parts = np.nonzero(empty.any(axis=0))[0]
        drained = np.zeros(table.shape, dtype=bool)
        drained[np.argmax(empty[:, parts], axis=0), parts] = True
        return drained

    def _place_freed(self, table: np.ndarray, rows: np.ndarray, parts: np.ndarray,
                     origin: np.ndarray, movable: np.ndarray) -> None:
        """Place freed cells; those with an ``origin`` that fit nowhere go back there.

        Cells without an origin (removed device, new replica) must be placed:
        when the devices below target cannot take them, replicas placed earlier in
        this rebalance make room (see ``_make_room``); the very few left go where
        they break the fewest caps.
        """
        plan = self.plan
        left_rows, left_parts = assign(table, rows, parts, plan, self._deficits(table), self.rng)
        back = origin[left_rows, left_parts]
        optional = back >= 0
        table[left_rows[optional], left_parts[optional]] = back[optional]
        movable[left_parts[optional]] = True
        left_rows, left_parts = left_rows[~optional], left_parts[~optional]
        fresh = np.zeros(table.shape, dtype=bool)   # placed here from nowhere: free to move again
        fresh[rows[origin[rows, parts] < 0], parts[origin[rows, parts] < 0]] = True
        fresh[left_rows, left_parts] = False
        for _ in range(_MAX_RELAYS):
            if not len(left_rows):
                break
            if not self._make_room(table, left_rows, left_parts, fresh):
                break
            left_rows, left_parts = assign(table, left_rows, left_parts, plan,
                                           self._deficits(table), self.rng)
        deficits = self._deficits(table)
        weighted = plan.targets > 0
        for row, part in zip(left_rows, left_parts):
            place_best_effort(table, int(row), int(part), plan, deficits, weighted)

    def _make_room(self, table: np.ndarray, rows: np.ndarray, parts: np.ndarray,
                   fresh: np.ndarray) -> bool:
        """Move fresh replicas out of the zones the stuck cells fit into, to devices below
        target, so that the stuck cells can take their place.  True if any moved."""
        plan, rng = self.plan, self.rng
        deficits = self._deficits(table)
        if not deficits.any():
            return False
        lookups = [plan.node_lookup(level) for level in range(4)]
        zone_of = plan.node_of[1]
        live = np.nonzero(plan.targets > 0)[0]
        zones, first = np.unique(zone_of[live], return_index=True)
        sample = rng.permutation(len(rows))[:2000]
        fits = zone_fits(table, rows[sample], parts[sample], live[first], plan, lookups)
        good = np.zeros(len(plan.caps[1]) + 1, dtype=bool)
        good[zones[fits.any(axis=0)]] = True
        cand_rows, cand_parts = np.nonzero(fresh & good[zone_of_cells(table, zone_of)])
        if not len(cand_rows):
            return False
        sources = table[cand_rows, cand_parts]
        budget = np.zeros(self.dev_count, dtype=np.int64)
        source_devs = np.unique(sources)
        budget[source_devs] = -(-len(rows) // len(source_devs)) + 1
        moved = pull(table, cand_rows, cand_parts, budget, plan, deficits, rng)
        fresh[cand_rows, cand_parts] &= table[cand_rows, cand_parts] == sources
        return len(moved) > 0

    def _balance(self, table: np.ndarray, movable: np.ndarray) -> None:
        """Move movable replicas from devices above target to devices below it."""
        plan, rng = self.plan, self.rng
        relays = 0
        for attempt in range(_EXTRA_PASSES):
            over = self._counts(table) - plan.targets
            deficits = np.maximum(-over, 0)
            if not deficits.any() or not (over > 0).any():
                break
            budget = np.maximum(over, 0)
            cand_rows, cand_parts = self._candidates(table, budget, movable,
                                                     factor=4 ** min(attempt + 1, 4))
            self.say(f"balancing: {int(deficits.sum())} replicas wanted, "
                     f"{len(cand_rows)} candidates" + (f" (pass {attempt + 1})" if attempt else ""))
            moved = pull(table, cand_rows, cand_parts, budget, plan, deficits, rng)
            if not len(moved) and relays < _MAX_RELAYS:
                # No direct move fits: move replicas from devices at target into the
                # deficit, so that the devices above target can refill them next pass.
                relays += 1
                budget = self._relay_budget(table, over, movable)
                cand_rows, cand_parts = self._candidates(table, budget, movable, factor=64)
                moved = pull(table, cand_rows, cand_parts, budget, plan, deficits, rng)
            if not len(moved):
                break
            movable[moved] = False

    def _relay_budget(self, table: np.ndarray, over: np.ndarray,
                      movable: np.ndarray) -> np.ndarray:
        """Devices at target that can both feed the deficit and be refilled by the surplus.

        Estimated per zone from samples: the share of its replicas that could
        move to a device below target, times the share of the surplus replicas
        that could move to it.
        """
        plan, rng, valid = self.plan, self.rng, self.valid
        at_target = (over == 0) & (plan.targets > 0)
        deficit_devs = np.nonzero(over < 0)[0]
        surplus_rows, surplus_parts = self._candidates(table, np.maximum(over, 0), movable,
                                                       factor=64)
        if not len(surplus_rows) or not at_target.any() or not len(deficit_devs):
            return np.zeros(len(over), dtype=np.int64)
        lookups = [plan.node_lookup(level) for level in range(4)]

        def fit_share(rows: np.ndarray, parts: np.ndarray, dests: np.ndarray) -> float:
            if not len(rows):
                return 0.0
            pick = rng.permutation(len(rows))[:1000]
            chosen = rng.choice(dests, size=len(pick))
            return float(allowed(table, rows[pick], parts[pick], chosen, plan, lookups).mean())

        zones = plan.node_of[1]
        score = np.zeros(len(plan.caps[1]))
        for zone in np.unique(zones[at_target]):
            members = np.nonzero(at_target & (zones == zone))[0]
            own_rows, own_parts = np.nonzero(valid & np.isin(table, members) & movable[None, :])
            score[zone] = (fit_share(own_rows, own_parts, deficit_devs)
                           * fit_share(surplus_rows, surplus_parts, members))
        if score.max() <= 0:
            return np.zeros(len(over), dtype=np.int64)
        relay = at_target & (score >= score.max() * 0.5)[np.maximum(zones, 0)]
        share = -(-int(np.maximum(-over, 0).sum()) // max(int(relay.sum()), 1))
        return relay.astype(np.int64) * share

    def _counts(self, table: np.ndarray) -> np.ndarray:
        return np.bincount(table[self.valid & (table >= 0)], minlength=self.dev_count)

    def _deficits(self, table: np.ndarray) -> np.ndarray:
        return np.maximum(self.plan.targets - self._counts(table), 0)

    def _dispersion_excess(self, table: np.ndarray,
                           movable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One replica of each movable partition that holds more replicas in a tier than its cap.

        Of the replicas in the crowded tier, preferably one on a device above
        its target, so that fixing dispersion also moves towards balance.
        """
        plan, rng = self.plan, self.rng
        crowded = np.zeros(table.shape, dtype=bool)   # in a tier node over its cap
        extra = np.zeros(table.shape, dtype=bool)     # ... and not among the first `cap` there
        for level in range(4):
            nodes = plan.node_lookup(level)[table]
            caps = np.append(plan.caps[level], 0)
            for row in range(table.shape[0]):
                here = nodes[row]
                same = nodes == here[None, :]
                real = here >= 0
                crowded[row] |= real & (same.sum(axis=0) > caps[here])
                extra[row] |= real & (same[:row].sum(axis=0) >= caps[here])
        crowded &= movable[None, :]
        extra &= movable[None, :]
        parts = np.nonzero(extra.any(axis=0))[0]
        rows = np.argmax(extra[:, parts], axis=0)
        if not len(parts):
            return rows, parts
        surplus = np.maximum(self._counts(table) - plan.targets, 0)
        cand_rows, index = np.nonzero(crowded[:, parts])
        shuffle = rng.permutation(len(index))
        cand_rows, index = cand_rows[shuffle], index[shuffle]
        kept = first_per_group(table[cand_rows, parts[index]], surplus,
                                np.arange(len(index)))
        kept = kept[np.unique(index[kept], return_index=True)[1]]
        rows[index[kept]] = cand_rows[kept]
        return rows, parts

    def _candidates(self, table: np.ndarray, over: np.ndarray, movable: np.ndarray,
                    factor: int = 4) -> tuple[np.ndarray, np.ndarray]:
        """Random replicas of devices above target, about ``factor`` times their excess.

        At most one per partition (a random one of its eligible replicas).
        """
        rng = self.rng
        over = np.append(over, 0)
        cells = table.copy()
        cells[~self.valid] = -1
        eligible = (over[cells] > 0) & movable[None, :]
        keys = np.where(eligible, rng.random(table.shape), -1.0)
        parts = np.nonzero(eligible.any(axis=0))[0]
        if not len(parts):
            return parts, parts
        rows = np.argmax(keys[:, parts], axis=0)
        devs = table[rows, parts]
        per_dev = np.bincount(devs, minlength=len(over))
        keep_share = np.minimum(1.0, factor * over[devs] / np.maximum(per_dev[devs], 1))
        keep = rng.random(len(parts)) < keep_share
        return rows[keep], parts[keep]
