"""Skip storage nodes that keep failing, for a while.

A node that errs more than ``error_suppression_limit`` times, each error within
``error_suppression_interval`` seconds of the previous one, is skipped until
the interval has passed without errors.  A 507 (unmounted or full disk) limits
the node at once.  State is per proxy worker process, like Swift's.
"""
from __future__ import annotations

import logging
import time
from typing import Mapping


def node_key(node: Mapping) -> str:
    return f"{node['ip']}:{node['port']}/{node['device']}"


class ErrorLimiter:
    def __init__(self, limit: int, interval: float, logger: logging.Logger) -> None:
        self.limit = limit
        self.interval = interval
        self.logger = logger
        self._stats: dict[str, list[float]] = {}  # key -> [error count, last error time]

    def is_limited(self, node: Mapping) -> bool:
        stats = self._stats.get(node_key(node))
        if stats is None:
            return False
        if time.monotonic() - stats[1] > self.interval:
            del self._stats[node_key(node)]
            return False
        return stats[0] > self.limit

    def error(self, node: Mapping, why: str) -> None:
        key = node_key(node)
        stats = self._stats.setdefault(key, [0, 0.0])
        stats[0] += 1
        stats[1] = time.monotonic()
        self.logger.warning("backend %s error: %s", key, why)
        if stats[0] == self.limit + 1:
            self.logger.error("error limiting %s for %ss", key, self.interval)

    def limit_now(self, node: Mapping, why: str) -> None:
        key = node_key(node)
        self._stats[key] = [self.limit + 1, time.monotonic()]
        self.logger.error("error limiting %s for %ss: %s", key, self.interval, why)
