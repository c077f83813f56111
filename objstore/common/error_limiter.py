"""Skip storage nodes that keep failing, for a while, but notice when they are back.

A node that errs more than ``error_suppression_limit`` times, each error within
``error_suppression_interval`` seconds of the previous one, is suppressed
(skipped); a 507 (unmounted or full disk) suppresses it at once.

Suppression is half-open: every ``probe_interval`` seconds one real request is
let through to a suppressed node.  Its success lifts the suppression (a
restarted daemon is used again within seconds, not after the whole interval);
its failure re-arms the probe.  Without any probe the suppression ends once the
interval has passed without errors.  State is per proxy worker process, like
Swift's.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import Callable, Mapping


def node_key(node: Mapping) -> str:
    return f"{node['ip']}:{node['port']}/{node['device']}"


@dataclasses.dataclass
class _NodeErrors:
    count: int = 0
    last_error: float = 0.0
    next_probe: float = 0.0  # while suppressed: when the next request may go through


class ErrorLimiter:
    def __init__(self, limit: int, interval: float, logger: logging.Logger, *,
                 probe_interval: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.interval = interval
        self.probe_interval = probe_interval
        self.logger = logger
        self.clock = clock
        self._stats: dict[str, _NodeErrors] = {}

    def _current(self, key: str) -> _NodeErrors | None:
        """The node's error streak, unless it ended (no error for ``interval``)."""
        stats = self._stats.get(key)
        if stats is not None and self.clock() - stats.last_error > self.interval:
            del self._stats[key]
            return None
        return stats

    def _suppressed(self, stats: _NodeErrors | None) -> bool:
        return stats is not None and stats.count > self.limit

    def is_limited(self, node: Mapping) -> bool:
        """The node is suppressed (asking does not use up a probe)."""
        return self._suppressed(self._current(node_key(node)))

    def is_failing(self, node: Mapping) -> bool:
        """Not to be counted on: suppressed, or erred in the last ``probe_interval``."""
        stats = self._current(node_key(node))
        return stats is not None and (self._suppressed(stats)
                                      or self.clock() - stats.last_error < self.probe_interval)

    def admit(self, node: Mapping) -> bool:
        """May a request go to ``node`` now?  Yes unless it is suppressed; a
        suppressed node gets one request (the probe) per ``probe_interval``."""
        key = node_key(node)
        stats = self._current(key)
        if not self._suppressed(stats):
            return True
        now = self.clock()
        if now < stats.next_probe:
            return False
        stats.next_probe = now + self.probe_interval
        self.logger.info("probing error-limited %s", key)
        return True

    def success(self, node: Mapping) -> None:
        """The node answered (any status below 500): its error streak ends."""
        stats = self._stats.pop(node_key(node), None)
        if self._suppressed(stats):
            self.logger.warning("%s answers again: no longer error-limited", node_key(node))

    def error(self, node: Mapping, why: str) -> None:
        key = node_key(node)
        stats = self._current(key) or self._stats.setdefault(key, _NodeErrors())
        stats.count += 1
        stats.last_error = self.clock()
        stats.next_probe = stats.last_error + self.probe_interval
        self.logger.warning("backend %s error: %s", key, why)
        if stats.count == self.limit + 1:
            self.logger.error("error limiting %s for %ss", key, self.interval)

    def limit_now(self, node: Mapping, why: str) -> None:
        key = node_key(node)
        now = self.clock()
        self._stats[key] = _NodeErrors(self.limit + 1, now, now + self.probe_interval)
        self.logger.error("error limiting %s for %ss: %s", key, self.interval, why)
