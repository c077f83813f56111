"""The background daemon runner in a real process: ``--once``, passes forever
with an interval, progress and summary lines, stats file, SIGTERM."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.object_daemon import REPO
from tests.support import wait_for


def write_conf(root: Path, **options: object) -> Path:
    extra = "".join(f"{key} = {value}\n" for key, value in options.items())
    conf = root / "objstore.conf"
    conf.write_text(f"""
[objstore]
hash_path_suffix = background

[counting-daemon]
log_file = {root / "daemon.log"}
stats_file = {root / "stats" / "counting.json"}
busy_file = {root / "busy"}
{extra}""")
    return conf


def start(conf: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.integration.counting_daemon",
                             "--config", str(conf), *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def log_lines(root: Path) -> list[str]:
    path = root / "daemon.log"
    return path.read_text().splitlines() if path.exists() else []


def stats(root: Path) -> dict:
    return json.loads((root / "stats" / "counting.json").read_text())


def finished(proc: subprocess.Popen, timeout: float = 30) -> int:
    """The exit status; the process is killed if it does not exit in time."""
    try:
        return proc.wait(timeout=timeout)
    finally:
        cleanup(proc)


def cleanup(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    proc.stdout.close()


def test_once_runs_one_pass_logs_progress_and_a_summary_and_writes_stats(tmp_path):
    conf = write_conf(tmp_path, items=4, progress_interval=0)
    proc = start(conf, "--once")
    output = proc.stdout.read().decode()
    assert finished(proc) == 0, output
    lines = log_lines(tmp_path)
    progress = [line for line in lines if " INFO - pass 1: " in line]
    assert [line.split("pass 1: ")[1].split(" (")[0] for line in progress] == \
        ["1/4 numbers", "2/4 numbers", "3/4 numbers", "4/4 numbers"]
    assert "ETA" in progress[0]
    summaries = [line for line in lines if " pass 1 done in " in line]
    assert len(summaries) == 1 and summaries[0].endswith(", processed=4")
    assert "4/4 numbers (100%)" in summaries[0]
    assert not any("pass 2" in line for line in lines)
    recorded = stats(tmp_path)
    assert recorded["daemon"] == "counting-daemon"
    assert recorded["last_pass"]["outcome"] == "done"
    assert (recorded["last_pass"]["done"], recorded["last_pass"]["total"]) == (4, 4)
    assert recorded["last_pass"]["counters"] == {"processed": 4}
    assert recorded["totals"]["passes"] == 1 and recorded["totals"]["counters"] == {"processed": 4}


def test_forever_runs_passes_at_the_interval_and_stops_on_sigterm(tmp_path):
    conf = write_conf(tmp_path, items=3, interval=0.05, interval_jitter=0.5)
    proc = start(conf, "--verbose")
    try:
        wait_for(lambda: stats(tmp_path)["totals"]["passes"] >= 3, what="three passes")
        proc.send_signal(signal.SIGTERM)
        assert finished(proc, timeout=10) == 0
    finally:
        cleanup(proc)
    lines = log_lines(tmp_path)
    assert any(" DEBUG - next pass in " in line for line in lines)  # --verbose
    done = [line for line in lines if " done in " in line]
    assert len(done) >= 3 and all(line.endswith(", processed=3") for line in done)
    assert "stopped after" in lines[-1]
    totals = stats(tmp_path)["totals"]
    assert totals["counters"]["processed"] == 3 * totals["passes"]


def test_sigterm_interrupts_the_wait_between_passes_at_once(tmp_path):
    conf = write_conf(tmp_path, items=2, interval=3600)
    proc = start(conf)
    try:
        wait_for(lambda: stats(tmp_path)["totals"]["passes"] == 1, what="first pass")
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert finished(proc, timeout=10) == 0
        assert time.monotonic() - sent < 5
    finally:
        cleanup(proc)


def test_sigterm_during_a_pass_abandons_it_cleanly_and_exits_0(tmp_path):
    conf = write_conf(tmp_path, items=10, block_at=3, interval=3600)
    proc = start(conf)
    try:
        wait_for(lambda: (tmp_path / "busy").exists(), what="the pass to reach item 3")
        proc.send_signal(signal.SIGTERM)
        assert finished(proc, timeout=10) == 0
    finally:
        cleanup(proc)
    summary = next(line for line in log_lines(tmp_path) if "pass 1 stopped in" in line)
    assert "3/10 numbers" in summary and summary.endswith(", processed=3")
    assert stats(tmp_path)["last_pass"]["outcome"] == "stopped"


def test_a_wrong_option_exits_with_one_readable_line(tmp_path):
    conf = write_conf(tmp_path, interval="soon")
    proc = start(conf, "--once")
    output = proc.stdout.read().decode()
    assert finished(proc) == 1
    assert output == "objstore-counting-daemon: interval must be a number, got 'soon'\n"
