"""A progress bar with throughput on stderr, shared by the threads of one transfer."""
from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from client.units import human_size

REDRAW_INTERVAL = 0.2
BAR_WIDTH = 24


class Progress:
    """Counts bytes moved; redraws at most every REDRAW_INTERVAL seconds when enabled."""

    def __init__(self, label: str, total: int, enabled: bool, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.done = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._drawn = 0.0

    def add(self, count: int) -> None:
        with self._lock:
            self.done += count
            now = time.monotonic()
            if self.enabled and now - self._drawn >= REDRAW_INTERVAL:
                self._drawn = now
                self._draw(now)

    def finish(self) -> None:
        if self.enabled:
            with self._lock:
                self._draw(time.monotonic())
                self.stream.write("\n")
                self.stream.flush()

    def rate(self) -> float:
        """Bytes per second so far."""
        return self.done / max(time.monotonic() - self._started, 1e-6)

    def render(self, now: float) -> str:
        elapsed = max(now - self._started, 1e-6)
        fraction = min(self.done / self.total, 1.0) if self.total else 1.0
        filled = int(fraction * BAR_WIDTH)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        mb_s = self.done / elapsed / 1e6
        return (f"{self.label} [{bar}] {fraction * 100:5.1f}% "
                f"{human_size(self.done)}/{human_size(self.total)} {mb_s:.1f} MB/s")

    def _draw(self, now: float) -> None:
        self.stream.write("\r" + self.render(now) + "\x1b[K")
        self.stream.flush()
