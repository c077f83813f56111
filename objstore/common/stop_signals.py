"""SIGTERM and SIGINT, the two ways an operator stops any objstore daemon.

The handlers do nothing themselves: a handler that raised would raise in
whatever code happened to run.  The signal only makes a wake-up pipe
readable, and each kind of daemon waits on that pipe in its own way (the
WSGI hub through eventlet, background daemons between two passes).
"""
from __future__ import annotations

import os
import select
import signal

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def stop_signal_pipe() -> int:
    """Route SIGTERM/SIGINT to a pipe; returns its read end (never drained,
    so it stays readable once a stop was asked for)."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd)
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda *_: None)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    return read_fd


class StopSignal:
    """A stop signal seen as an event: ``is_set()`` and an interruptible
    ``wait(timeout)``, the interface of ``threading.Event`` (which tests pass
    in its place).  Install it from the main thread."""

    def __init__(self) -> None:
        self._fd = stop_signal_pipe()

    def is_set(self) -> bool:
        return self.wait(0)

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep up to ``timeout`` seconds, less if a stop arrives; True if one did."""
        readable, _, _ = select.select([self._fd], [], [], timeout)
        return bool(readable)
