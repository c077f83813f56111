"""Helpers for tests: free ports and condition waits for real daemons, a fake
clock for code that paces itself.

Tests never sleep blindly: they wait on a condition with a timeout, or give
rate-limited code a ``FakeClock`` whose ``sleep`` only moves time forward.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Callable, TypeVar

from objstore.common.background import PassProgress

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], T], timeout: float = 15.0, interval: float = 0.05,
             what: str = "condition") -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
        except Exception as err:  # the daemon may not be up yet
            last_error = err
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}"
                       + (f" (last error: {last_error!r})" if last_error else ""))


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class FakeClock:
    """``clock()`` and ``sleep()`` for code that takes both: sleeping only
    advances the time, and every sleep is recorded."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def pass_progress(stop: threading.Event | None = None) -> PassProgress:
    """What the background runner hands a daemon's ``run_once``, for calling
    it directly; ``stop.set()`` asks the pass to end early."""
    return PassProgress(1, "items", logging.getLogger("objstore.test-pass"),
                        stop or threading.Event())
