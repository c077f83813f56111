"""Tiers (region > zone > server > device) and how many replicas each should hold.

For every tier node we compute a *share*: the average number of replicas of
one partition that the node should hold.  At each level the parent's share is
split between its children twice:

* ``weighted``: proportional to weight (capped by how many devices a child has,
  since a device never holds two replicas of a partition when it can be avoided);
* ``wanted``: as widely spread as possible (each child holds floor or ceil of
  parent/children replicas, and no more than it has nodes one level down, so
  that the spread also stays wide below it), proportional to weight within
  those bounds.

The target is ``weighted``, moved towards ``wanted`` by at most ``overload``
(a fraction of the weighted share), exactly like Swift's overload knob: with
overload 0 weight wins, with enough overload dispersion wins.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

LEVELS = ("region", "zone", "server", "device")
_EPS = 1e-9


def tier_keys(dev: dict) -> tuple[tuple, ...]:
    """The tier path of a device: (region,), (region, zone), (region, zone, ip), (..., id)."""
    region, zone, ip = dev["region"], dev["zone"], dev["ip"]
    return ((region,), (region, zone), (region, zone, ip), (region, zone, ip, dev["id"]))


def waterfill(total: float, weights: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``clip(lam * weights, low, high)`` with ``lam`` chosen so the values sum to ``total``."""
    if high.sum() <= total + _EPS:
        return high.astype(float)
    if low.sum() >= total - _EPS:
        return low.astype(float)
    proportional = weights * (total / weights.sum())
    if np.all(proportional >= low - _EPS) and np.all(proportional <= high + _EPS):
        return proportional
    positive = weights > 0
    lo_lam, hi_lam = 0.0, float(np.max(high[positive] / weights[positive])) if positive.any() else 0.0
    for _ in range(100):
        lam = (lo_lam + hi_lam) / 2
        if np.clip(lam * weights, low, high).sum() < total:
            lo_lam = lam
        else:
            hi_lam = lam
    return np.clip(hi_lam * weights, low, high)


def split_share(share: float, weights: np.ndarray, capacity: np.ndarray, spread: np.ndarray,
                overload: float) -> np.ndarray:
    """Split a parent's share among children.

    ``capacity``: weighted devices under each child (a device takes at most one
    replica of a partition); ``spread``: weighted nodes one level further down,
    the most replicas a child takes without doubling up below it.
    """
    result = np.zeros(len(weights))
    live = weights > 0
    if share <= _EPS or not live.any():
        return result
    w = weights[live]
    cap = capacity[live].astype(float)
    if cap.sum() < share - _EPS:  # fewer devices than replicas: let children double up
        cap = np.full(len(w), share)
    zeros = np.zeros(len(w))
    weighted = waterfill(share, w, zeros, cap)
    count = len(w)
    even_high = math.ceil(math.ceil(share - _EPS) / count)
    high = np.minimum(even_high, spread[live].astype(float))
    if high.sum() < share - _EPS:   # not enough room below to avoid doubling up somewhere
        high = np.minimum(even_high, cap)
    low = np.minimum(math.floor(math.floor(share + _EPS) / count), high)
    wanted = waterfill(share, w, low, high)
    light = wanted > weighted + _EPS
    target = np.where(light, np.minimum(wanted, weighted * (1 + overload)), wanted)
    excess = np.where(light, 0.0, weighted - wanted)
    missing = share - target.sum()
    if missing > _EPS and excess.sum() > _EPS:
        target = target + excess * (missing / excess.sum())
    result[live] = target
    return result


@dataclasses.dataclass
class TierTree:
    """Tier nodes of the live devices and, per level, node index of every device id.

    ``node_of[level][dev_id]`` is -1 for ids without a live device.
    """
    keys: list[list[tuple]]            # per level: tier keys, in sorted order
    node_of: list[np.ndarray]          # per level: dev id -> node index
    parent: list[np.ndarray]           # per level: node index -> parent node index (level-1)
    weights: list[np.ndarray]          # per level: node weight
    dev_count: list[np.ndarray]        # per level: weighted devices under each node
    spread: list[np.ndarray]           # per level: weighted child nodes (1 for a device)

    @classmethod
    def build(cls, devs: list[dict | None], live: set[int] | None = None) -> "TierTree":
        """``live``: ids taking part (default: every device)."""
        members = [d for d in devs if d is not None and (live is None or d["id"] in live)]
        keys: list[list[tuple]] = []
        node_of = []
        parent = []
        weights = []
        dev_count = []
        for level in range(4):
            level_keys = sorted({tier_keys(d)[level] for d in members})
            index = {key: i for i, key in enumerate(level_keys)}
            mapping = np.full(len(devs), -1, dtype=np.int64)
            w = np.zeros(len(level_keys))
            n = np.zeros(len(level_keys), dtype=np.int64)
            for dev in members:
                node = index[tier_keys(dev)[level]]
                mapping[dev["id"]] = node
                w[node] += dev["weight"]
                n[node] += dev["weight"] > 0
            if level == 0:
                parent.append(np.zeros(len(level_keys), dtype=np.int64))
            else:
                up = {key: i for i, key in enumerate(keys[level - 1])}
                parent.append(np.array([up[key[:-1]] for key in level_keys], dtype=np.int64))
            keys.append(level_keys)
            node_of.append(mapping)
            weights.append(w)
            dev_count.append(n)
        spread = [np.bincount(parent[level + 1], weights=weights[level + 1] > 0,
                              minlength=len(keys[level])) for level in range(3)]
        spread.append(np.ones(len(keys[3])))
        return cls(keys, node_of, parent, weights, dev_count, spread)

    def shares(self, replicas: float, overload: float) -> list[np.ndarray]:
        """Per level, the share (replicas per partition) of every node."""
        result = []
        parent_share = np.array([float(replicas)])
        for level in range(4):
            share = np.zeros(len(self.keys[level]))
            parents = self.parent[level]
            for p in range(len(parent_share)):
                children = np.nonzero(parents == p)[0]
                if len(children):
                    share[children] = split_share(parent_share[p], self.weights[level][children],
                                                  self.dev_count[level][children],
                                                  self.spread[level][children], overload)
            result.append(share)
            parent_share = share
        return result


def apportion(total: int, quotas: np.ndarray) -> np.ndarray:
    """Integers summing to ``total``, proportional to ``quotas`` (largest remainder)."""
    quotas = np.asarray(quotas, dtype=float)
    if total <= 0 or quotas.sum() <= 0:
        return np.zeros(len(quotas), dtype=np.int64)
    exact = quotas * (total / quotas.sum())
    base = np.floor(exact + _EPS).astype(np.int64)
    short = total - int(base.sum())
    if short > 0:
        order = np.argsort(-(exact - base), kind="stable")
        base[order[:short]] += 1
    elif short < 0:
        order = np.argsort(exact - base, kind="stable")
        for i in order:
            if short == 0:
                break
            if base[i] > 0:
                base[i] -= 1
                short += 1
    return base


def slot_targets(tree: TierTree, shares: list[np.ndarray], slots: int) -> list[np.ndarray]:
    """Per level, the integer number of replica slots each node should hold.

    Rounded top-down so every node's count is the sum of its children's.
    """
    counts = [apportion(slots, shares[0])]
    for level in range(1, 4):
        level_counts = np.zeros(len(tree.keys[level]), dtype=np.int64)
        parents = tree.parent[level]
        for p, total in enumerate(counts[-1]):
            children = np.nonzero(parents == p)[0]
            if len(children):
                level_counts[children] = apportion(int(total), shares[level][children])
        counts.append(level_counts)
    return counts
