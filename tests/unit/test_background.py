"""The background daemon runner in-process: progress, stop, jitter, stats.

A ``threading.Event`` stands in for the stop signal (it has the same
``is_set``/``wait`` interface), and a fake clock drives the progress lines.
"""
from __future__ import annotations

import configparser
import json
import logging
import random
import re
import threading

import pytest

from objstore.common.background import (BackgroundDaemon, BackgroundRunner, PassProgress,
                                        StatsFile, stats_path)
from objstore.common.daemon_cli import daemon_argument_parser, load_daemon_setup


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")


@pytest.fixture
def logged():
    logger = logging.getLogger("test-background")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    recorder = Recorder()
    logger.addHandler(recorder)
    yield logger, recorder.lines
    logger.removeHandler(recorder)


class ListDaemon(BackgroundDaemon):
    """Each pass goes through ``work``; calls ``hook(progress, item)`` per item."""
    unit = "parts"

    def __init__(self, work, hook=lambda progress, item: None) -> None:
        self.work = work
        self.hook = hook

    def run_once(self, progress: PassProgress) -> dict[str, int]:
        seen = 0
        for item in progress.items(self.work):
            self.hook(progress, item)
            seen += 1
        return {"seen": seen}


def test_progress_lines_are_rate_limited_and_show_rate_and_eta(logged):
    logger, lines = logged
    clock = FakeClock()
    progress = PassProgress(7, "parts", logger, threading.Event(), interval=10, clock=clock)
    progress.set_total(100)
    for _ in range(20):
        clock.now += 1
        progress.advance()
    # one line at 10 s (10 done) and one at 20 s (20 done), none in between
    assert lines == ["INFO pass 7: 10/100 parts (10%), 1.0/s, ETA 90s",
                     "INFO pass 7: 20/100 parts (20%), 1.0/s, ETA 80s"]
    assert progress.summary() == "20/100 parts (20%), 1.0/s"


def test_progress_without_a_total_counts_and_gives_a_rate(logged):
    logger, lines = logged
    clock = FakeClock()
    progress = PassProgress(1, "files", logger, threading.Event(), interval=0, clock=clock)
    clock.now += 2
    progress.advance(5)
    assert lines == ["INFO pass 1: 5 files, 2.5/s"]


def test_items_sets_the_total_counts_each_item_and_ends_once_stopping(logged):
    logger, _ = logged
    stop = threading.Event()
    progress = PassProgress(1, "parts", logger, stop)
    taken = []
    for item in progress.items(["a", "b", "c", "d"]):
        taken.append(item)
        if item == "b":
            stop.set()
    assert taken == ["a", "b"]
    assert (progress.done, progress.total, progress.stopping) == (2, 4, True)
    assert progress.pause(30) is True  # a stopped daemon never sleeps


def make_runner(daemon, logger, tmp_path, stop=None, **options) -> BackgroundRunner:
    return BackgroundRunner(daemon, {key: str(value) for key, value in options.items()}, logger,
                            stop or threading.Event(),
                            StatsFile(str(tmp_path / "cache" / "d.json"), "d", logger),
                            rng=random.Random(1))


def test_a_pass_logs_a_summary_and_records_stats_per_pass_and_in_total(logged, tmp_path):
    logger, lines = logged
    runner = make_runner(ListDaemon(range(3)), logger, tmp_path)
    assert runner.run_pass() and runner.run_pass()
    summaries = [line for line in lines if " done in " in line]
    assert len(summaries) == 2
    assert re.fullmatch(r"INFO pass 2 done in \d+\.\d\ds: 3/3 parts \(100%\), [\d.]+/s, seen=3",
                        summaries[1])
    recorded = json.loads((tmp_path / "cache" / "d.json").read_text())
    assert recorded["last_pass"]["number"] == 2
    assert recorded["last_pass"]["counters"] == {"seen": 3}
    assert recorded["last_pass"]["finished"] >= recorded["last_pass"]["started"]
    assert recorded["totals"] == {"passes": 2, "failed_passes": 0, "done": 6,
                                  "duration": recorded["totals"]["duration"],
                                  "counters": {"seen": 6}}


def test_a_pass_that_raises_is_logged_with_its_traceback_and_counted(logged, tmp_path):
    logger, lines = logged

    def explode(progress, item):
        raise RuntimeError("disk on fire")

    runner = make_runner(ListDaemon([1], explode), logger, tmp_path)
    assert runner.run_pass() is False
    assert "ERROR pass 1 failed" in lines
    recorded = json.loads((tmp_path / "cache" / "d.json").read_text())
    assert recorded["last_pass"]["outcome"] == "failed"
    assert recorded["totals"]["failed_passes"] == 1


def test_a_stop_that_arrives_after_the_last_item_leaves_the_pass_done(logged, tmp_path):
    logger, lines = logged
    stop = threading.Event()
    runner = make_runner(ListDaemon([1, 2], lambda progress, item: item == 2 and stop.set()),
                         logger, tmp_path, stop=stop)
    runner.run_pass()
    assert any(line.startswith("INFO pass 1 done in ") for line in lines)


def test_stats_that_cannot_be_written_are_logged_and_the_work_goes_on(logged, tmp_path):
    logger, lines = logged
    (tmp_path / "file").write_text("")
    stats = StatsFile(str(tmp_path / "file" / "d.json"), "d", logger)
    runner = BackgroundRunner(ListDaemon([1]), {}, logger, threading.Event(), stats)
    assert runner.run_pass()
    assert any(line.startswith("ERROR cannot write stats to ") for line in lines)


def test_wait_between_passes_is_the_interval_less_the_pass_spread_by_the_jitter(logged, tmp_path):
    logger, _ = logged
    runner = make_runner(ListDaemon([]), logger, tmp_path, interval=100, interval_jitter=0.2)
    waits = [runner.next_wait(elapsed=30) for _ in range(200)]
    assert all(50 <= wait <= 90 for wait in waits)
    assert max(waits) - min(waits) > 20  # really spread, not a constant
    assert runner.next_wait(elapsed=500) == 0.0


class CountingStop(threading.Event):
    """Sets itself when waited on for the ``after``-th time; records the waits."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after
        self.waits: list[float | None] = []

    def wait(self, timeout=None) -> bool:
        self.waits.append(timeout)
        if len(self.waits) == self.after:
            self.set()
        return self.is_set()


def test_run_forever_waits_on_the_stop_between_passes_and_ends_with_it(logged, tmp_path):
    logger, lines = logged
    stop = CountingStop(after=3)
    runner = make_runner(ListDaemon([1, 2]), logger, tmp_path, stop=stop,
                         interval=50, interval_jitter=0)
    runner.run_forever()
    assert runner.passes == 3
    assert len(stop.waits) == 3 and all(45 < wait <= 50 for wait in stop.waits)
    assert lines[0] == "INFO starting: a pass every 50.0s"
    assert lines[-1] == "INFO stopped after 3 pass(es)"


def test_stats_path_from_the_section_else_the_recon_cache_directory():
    conf = configparser.ConfigParser()
    conf.read_string("[objstore]\nrecon_cache_path = /srv/cache\n"
                     "[object-auditor]\nstats_file = /tmp/audit.json\n")
    assert stats_path(conf, "object-auditor") == "/tmp/audit.json"
    assert stats_path(conf, "object-updater") == "/srv/cache/object-updater.json"
    assert stats_path(configparser.ConfigParser(), "x") == "/var/cache/objstore/x.json"


def test_verbose_overrides_the_configured_log_level(tmp_path):
    conf = tmp_path / "objstore.conf"
    conf.write_text("[some-daemon]\nlog_level = WARNING\n")
    parser = daemon_argument_parser("some-daemon", "test")
    quiet = load_daemon_setup("some-daemon", parser.parse_args(["--config", str(conf)]))
    assert quiet.logger.level == logging.WARNING
    verbose = load_daemon_setup("some-daemon", parser.parse_args(["--config", str(conf), "--verbose"]))
    assert verbose.logger.level == logging.DEBUG
