"""Keep a background daemon's work under a rate (files/s, bytes/s, updates/s).

A background pass must never starve the servers it shares the disks and
the network with, so each daemon spends its work through one or more
``RateLimiter``s.  The clock and the sleep are injected: the daemons pass
``time.monotonic`` and ``time.sleep`` (or ``eventlet.sleep``), tests a fake
clock, so limits are tested without real sleeping.
"""
from __future__ import annotations

import time
from typing import Callable

DEFAULT_MAX_BURST = 1.0  # seconds of work that may go at once after an idle time


class RateLimiter:
    """At most ``rate`` units per second on average (``rate <= 0``: unlimited).

    ``spend(n)`` sleeps until the work done so far fits the rate, then
    books ``n`` more units.  After an idle time, at most ``max_burst``
    seconds of work are let through without sleeping, so a daemon that
    waited for the disk does not then run at full speed to "catch up".
    """

    def __init__(self, rate: float, *, max_burst: float = DEFAULT_MAX_BURST,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], object] = time.sleep) -> None:
        self.rate = rate
        self.max_burst = max_burst
        self._clock = clock
        self._sleep = sleep
        self._next_free: float | None = None  # when the booked work is "paid for"
        self.slept = 0.0  # seconds spent waiting, for stats

    @property
    def unlimited(self) -> bool:
        return self.rate <= 0

    def spend(self, amount: float = 1.0) -> None:
        """Wait as long as the rate requires, then account for ``amount`` units."""
        if self.unlimited or amount <= 0:
            return
        now = self._clock()
        if self._next_free is None:
            self._next_free = now
        elif self._next_free < now - self.max_burst:
            self._next_free = now - self.max_burst
        wait = self._next_free - now
        if wait > 0:
            self._sleep(wait)
            self.slept += wait
        self._next_free += amount / self.rate
