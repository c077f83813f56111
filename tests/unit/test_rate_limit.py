"""RateLimiter: average rate, burst after idle, unlimited -- on a fake clock."""
from __future__ import annotations

import pytest

from replicator.rate_limit import RateLimiter
from tests.support import FakeClock


def limiter(rate: float, clock: FakeClock, **kwargs) -> RateLimiter:
    return RateLimiter(rate, clock=clock, sleep=clock.sleep, **kwargs)


def test_work_is_spread_at_the_rate():
    clock = FakeClock()
    start = clock.now
    files = limiter(20, clock)
    for _ in range(101):
        files.spend()
    assert clock.now - start == pytest.approx(5.0)  # 100 intervals of 1/20 s
    assert files.slept == pytest.approx(5.0)


def test_amounts_are_weighted():
    clock = FakeClock()
    start = clock.now
    bytes_ = limiter(1_000_000, clock)
    for _ in range(11):
        bytes_.spend(500_000)  # half a second's worth each
    assert clock.now - start == pytest.approx(5.0)


def test_time_spent_elsewhere_counts():
    """Work that is slower than the rate by itself is never slowed further."""
    clock = FakeClock()
    files = limiter(10, clock)
    for _ in range(20):
        files.spend()
        clock.now += 0.2  # each unit takes twice its budget
    assert clock.sleeps == []


def test_idle_time_buys_at_most_max_burst():
    clock = FakeClock()
    files = limiter(10, clock, max_burst=1.0)
    files.spend()
    clock.now += 60  # idle for a minute
    start = clock.now
    for _ in range(31):
        files.spend()
    # one second of credit, then the rate again: 30 units in 3 s, 1 s of it free
    assert clock.now - start == pytest.approx(2.0)


@pytest.mark.parametrize("rate", [0, -1])
def test_zero_or_negative_rate_is_unlimited(rate):
    clock = FakeClock()
    files = limiter(rate, clock)
    assert files.unlimited
    for _ in range(1000):
        files.spend(10**9)
    assert clock.sleeps == []
