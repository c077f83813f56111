"""The runner every background daemon shares (replicators, auditors, the
object updater, the expirer, the reconstructor).

A daemon only says how to do one pass over its work (``run_once``); the runner
repeats passes forever with an interval and jitter, or once with ``--once``,
stops cleanly on SIGTERM/SIGINT, logs progress during a pass and a summary at
its end, and keeps per-pass and cumulative stats in a JSON file the operator
(and later a recon endpoint) can read.

    def main(argv=None) -> int:
        return run_background_daemon("object-updater", ObjectUpdater, argv)
"""
from __future__ import annotations

import abc
import configparser
import json
import logging
import os
import random
import tempfile
import time
from typing import Callable, Iterable, Iterator, Mapping, Protocol, TypeVar

from objstore.common.config import CLUSTER_SECTION, get_float, section
from objstore.common.daemon_cli import daemon_argument_parser, exit_on_config_error, load_daemon_setup
from objstore.common.stop_signals import StopSignal

DEFAULT_INTERVAL = 30.0
DEFAULT_JITTER = 0.1
DEFAULT_PROGRESS_INTERVAL = 60.0
DEFAULT_RECON_CACHE_PATH = "/var/cache/objstore"

Counters = Mapping[str, float]
T = TypeVar("T")


class Stop(Protocol):
    """What the runner needs of a stop request: ``StopSignal`` in a daemon,
    ``threading.Event`` in a test."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class PassProgress:
    """One pass as it runs: how much is done, whether to stop, and a progress
    line at most every ``interval`` seconds so a long pass is never silent."""

    def __init__(self, number: int, unit: str, logger: logging.Logger, stop: Stop,
                 interval: float = DEFAULT_PROGRESS_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.number = number
        self.unit = unit
        self.total: int | None = None
        self.done = 0
        self._logger = logger
        self._stop = stop
        self._interval = interval
        self._clock = clock
        self.started = clock()
        self._last_report = self.started

    @property
    def stopping(self) -> bool:
        """True once a stop was asked for: return between two units of work."""
        return self._stop.is_set()

    def pause(self, seconds: float) -> bool:
        """Sleep (to keep a rate limit, to back off) unless a stop arrives
        first; True if one did."""
        return self._stop.wait(seconds)

    def set_total(self, total: int) -> None:
        self.total = total

    def advance(self, count: int = 1) -> None:
        """Count finished units; log a progress line if one is due."""
        self.done += count
        now = self._clock()
        if now - self._last_report >= self._interval:
            self._last_report = now
            self._logger.info("pass %d: %s", self.number, self._describe(now, with_eta=True))

    def items(self, work: Iterable[T]) -> Iterator[T]:
        """``work`` one unit at a time, counted as done when the caller asks
        for the next one; ends early once a stop was asked for."""
        if self.total is None and hasattr(work, "__len__"):
            self.set_total(len(work))  # type: ignore[arg-type]
        for item in work:
            if self.stopping:
                return
            yield item
            self.advance()

    def elapsed(self) -> float:
        return self._clock() - self.started

    @property
    def finished(self) -> bool:
        return self.total is not None and self.done >= self.total

    def _describe(self, now: float, with_eta: bool = False) -> str:
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        if self.total is None:
            return f"{self.done} {self.unit}, {rate:.1f}/s"
        percent = 100.0 * self.done / self.total if self.total else 100.0
        text = f"{self.done}/{self.total} {self.unit} ({percent:.0f}%), {rate:.1f}/s"
        if with_eta:
            left = max(self.total - self.done, 0)
            text += f", ETA {left / rate:.0f}s" if rate > 0 else ", ETA unknown"
        return text

    def summary(self) -> str:
        return self._describe(self._clock())


class BackgroundDaemon(abc.ABC):
    """What a background daemon implements: one pass over its work."""

    #: what one unit of work is called in progress lines ("partitions", ...)
    unit = "items"

    @abc.abstractmethod
    def run_once(self, progress: PassProgress) -> Counters:
        """Do one pass: call ``progress.advance()`` per unit of work (or loop
        over ``progress.items(...)``), return between two units once
        ``progress.stopping`` is true, and return this pass's counters
        (``{"replicated": 12, "failed": 1}``); the runner adds the timings."""


class StatsFile:
    """Per-pass and cumulative stats as one JSON document, replaced
    atomically after every pass so a reader never sees half of it."""

    def __init__(self, path: str, daemon: str, logger: logging.Logger) -> None:
        self.path = path
        self._logger = logger
        self.stats: dict = {"daemon": daemon, "since": time.time(), "last_pass": None,
                            "totals": {"passes": 0, "failed_passes": 0, "done": 0,
                                       "duration": 0.0, "counters": {}}}

    def record(self, last_pass: dict) -> None:
        totals = self.stats["totals"]
        totals["passes"] += 1
        totals["failed_passes"] += last_pass["outcome"] == "failed"
        totals["done"] += last_pass["done"]
        totals["duration"] += last_pass["duration"]
        for name, value in last_pass["counters"].items():
            totals["counters"][name] = totals["counters"].get(name, 0) + value
        self.stats["last_pass"] = last_pass
        self._write()

    def _write(self) -> None:
        try:
            directory = os.path.dirname(self.path) or "."
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".stats-")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.stats, handle, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError as err:  # stats are for the operator; never stop the work for them
            self._logger.error("cannot write stats to %s: %s", self.path, err)


class BackgroundRunner:
    """Runs a ``BackgroundDaemon``'s passes, logs them and records their stats.

    Options from the daemon's section: ``interval`` (seconds from the start of
    one pass to the start of the next), ``interval_jitter`` (a fraction of the
    interval added or removed at random, so the daemons of many nodes drift
    apart instead of hitting their peers together), ``progress_interval``
    (seconds between progress lines).
    """

    def __init__(self, daemon: BackgroundDaemon, options: Mapping[str, str],
                 logger: logging.Logger, stop: Stop, stats: StatsFile, *,
                 clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        self.daemon = daemon
        self.logger = logger
        self.stop = stop
        self.stats = stats
        self.interval = get_float(options, "interval", DEFAULT_INTERVAL)
        self.jitter = get_float(options, "interval_jitter", DEFAULT_JITTER)
        self.progress_interval = get_float(options, "progress_interval", DEFAULT_PROGRESS_INTERVAL)
        self._clock = clock
        self._rng = rng or random.Random()
        self.passes = 0

    def run_pass(self) -> bool:
        """One pass, logged and recorded; False if it raised."""
        self.passes += 1
        progress = PassProgress(self.passes, self.daemon.unit, self.logger, self.stop,
                                self.progress_interval, self._clock)
        started_at = time.time()
        counters: Counters = {}
        try:
            counters = self.daemon.run_once(progress)
            outcome = "stopped" if progress.stopping and not progress.finished else "done"
        except Exception:
            outcome = "failed"
            self.logger.exception("pass %d failed", self.passes)
        shown = "".join(f", {name}={value}" for name, value in sorted(counters.items()))
        self.logger.info("pass %d %s in %.2fs: %s%s", self.passes, outcome, progress.elapsed(),
                         progress.summary(), shown)
        self.stats.record({"number": self.passes, "outcome": outcome, "started": started_at,
                           "finished": time.time(), "duration": progress.elapsed(),
                           "done": progress.done, "total": progress.total,
                           "counters": dict(counters)})
        return outcome != "failed"

    def next_wait(self, elapsed: float) -> float:
        """Seconds to wait after a pass that took ``elapsed`` seconds."""
        spread = self.interval * self.jitter * self._rng.uniform(-1.0, 1.0)
        return max(0.0, self.interval + spread - elapsed)

    def run_forever(self) -> None:
        """Passes until a stop is asked for; a failed pass is logged, not fatal."""
        self.logger.info("starting: a pass every %.1fs", self.interval)
        while not self.stop.is_set():
            started = self._clock()
            self.run_pass()
            wait = self.next_wait(self._clock() - started)
            self.logger.debug("next pass in %.1fs", wait)
            if self.stop.wait(wait):
                break
        self.logger.info("stopped after %d pass(es)", self.passes)


def stats_path(conf: configparser.ConfigParser, name: str) -> str:
    """``stats_file`` in the daemon's section, else ``<recon_cache_path>/<name>.json``
    (``recon_cache_path`` from ``[objstore]``, so one directory holds them all)."""
    explicit = section(conf, name).get("stats_file")
    if explicit:
        return explicit
    cache = section(conf, CLUSTER_SECTION).get("recon_cache_path", DEFAULT_RECON_CACHE_PATH)
    return os.path.join(cache, f"{name}.json")


DaemonFactory = Callable[[configparser.ConfigParser, logging.Logger], BackgroundDaemon]


def run_background_daemon(name: str, daemon_factory: DaemonFactory,
                          argv: list[str] | None = None) -> int:
    """``objstore-<name> [--config PATH] [--verbose] [--once]``: build the
    daemon from the config and run it; the exit status (0 unless ``--once``'s
    pass failed)."""
    parser = daemon_argument_parser(name, f"Run the objstore {name}.")
    parser.add_argument("--once", action="store_true", help="run one pass, then exit")
    args = parser.parse_args(argv)
    stop = StopSignal()
    with exit_on_config_error(name):
        setup = load_daemon_setup(name, args)
        daemon = daemon_factory(setup.conf, setup.logger)
        runner = BackgroundRunner(daemon, setup.options, setup.logger, stop,
                                  StatsFile(stats_path(setup.conf, name), name, setup.logger))
    if args.once:
        return 0 if runner.run_pass() else 1
    runner.run_forever()
    return 0
