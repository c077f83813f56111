"""objstore-ring-builder, run as the real console script on temporary files."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ring.builder import RingBuilder

from ring.ring import Ring

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "bin", "objstore-ring-builder")


def run(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          cwd=cwd, timeout=60)


def ok(*args: str) -> str:
    result = run(*args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def fails(*args: str, match: str) -> str:
    result = run(*args)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert match in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    return result.stderr


@pytest.fixture
def builder_file(tmp_path):
    path = str(tmp_path / "object.builder")
    ok(path, "create", "8", "3", "1")
    ok(path, "add", "r1z1-127.0.0.1:6200/sdb", "100", "r1z2-127.0.0.1:6201/sdb", "100",
       "r1z3-127.0.0.1:6202R127.0.0.2:6302/sdb_fast", "100")
    ok(path, "add", "--region", "1", "--zone", "4", "--ip", "127.0.0.1", "--port", "6203",
       "--device", "sdc", "--weight", "50", "--meta", "small")
    return path


def test_build_and_write_a_ring(builder_file, tmp_path):
    out = ok(builder_file, "rebalance", "--seed", "1")
    assert "Reassigned 768 replicas of 256 partitions" in out
    assert "Balance is now" in out
    assert os.path.exists(tmp_path / "object.ring.gz")  # rebalance ships the ring, as Swift's does
    out = ok(builder_file, "write_ring")
    ring = Ring(str(tmp_path), "object")
    assert ring.replica_count == 3
    third = ring.devs[2]
    assert (third["replication_ip"], third["replication_port"], third["meta"]) == \
        ("127.0.0.2", 6302, "fast")
    assert ring.devs[3]["weight"] == 50
    backups = os.listdir(tmp_path / "backups")
    assert any(name.endswith(".object.builder") for name in backups)
    assert any(name.endswith(".object.ring.gz") for name in backups)
    listing = ok(builder_file)
    assert "256 partitions, 3.000000 replicas, 1 regions, 4 zones, 4 devices" in listing
    assert "is up-to-date" in listing
    assert ok(builder_file, "pretty_print").splitlines()[-4:] == listing.splitlines()[-4:]
    assert "Ring builder is valid" in ok(builder_file, "validate")


def test_rebalance_with_nothing_to_move_exits_1(builder_file):
    ok(builder_file, "rebalance")
    result = run(builder_file, "rebalance")
    assert result.returncode == 1
    assert "No partitions could be reassigned" in result.stderr


def test_min_part_hours_commands(builder_file):
    ok(builder_file, "rebalance")
    ok(builder_file, "add", "r1z5-127.0.0.1:6204/sdb", "100")
    result = run(builder_file, "rebalance")
    assert result.returncode == 1 and "min_part_hours" in result.stderr
    ok(builder_file, "pretend_min_part_hours_passed")
    assert "Reassigned" in ok(builder_file, "rebalance")
    ok(builder_file, "set_min_part_hours", "0")
    assert RingBuilder.load(builder_file).min_part_hours == 0


def test_search_remove_and_set_weight(builder_file):
    out = ok(builder_file, "search", "127.0.0.1:6201")
    assert "6201" in out and "6200" not in out.split("\n", 1)[1]
    assert "sdc" in ok(builder_file, "search", "d3")
    assert "sdc" in ok(builder_file, "search", "--device", "sdc")
    ok(builder_file, "set_weight", "d3", "75")
    assert RingBuilder.load(builder_file).devs[3]["weight"] == 75
    ok(builder_file, "set_weight", "--id", "3", "80")
    assert RingBuilder.load(builder_file).devs[3]["weight"] == 80
    fails(builder_file, "set_weight", "127.0.0.1", "10", match="add --yes")
    ok(builder_file, "set_weight", "127.0.0.1", "10", "--yes")
    assert {d["weight"] for d in RingBuilder.load(builder_file).devs} == {10}
    ok(builder_file, "rebalance")
    ok(builder_file, "remove", "d1")
    assert "DEL" in ok(builder_file)
    out = ok(builder_file, "rebalance")
    assert RingBuilder.load(builder_file).devs[1] is None
    assert "Removed device d1" in out


def test_set_info(builder_file):
    ok(builder_file, "set_info", "d0", "127.0.0.9:6300R10.0.0.9:6400/sdz_new")
    dev = RingBuilder.load(builder_file).devs[0]
    assert (dev["ip"], dev["port"], dev["replication_ip"], dev["replication_port"],
            dev["device"], dev["meta"]) == ("127.0.0.9", 6300, "10.0.0.9", 6400, "sdz", "new")
    ok(builder_file, "set_info", "--id", "1", "--change-port", "7000")
    assert RingBuilder.load(builder_file).devs[1]["port"] == 7000
    fails(builder_file, "set_info", "d1", "127.0.0.9:6300/sdz", match="already exists")


def test_list_parts_and_dispersion(builder_file):
    ok(builder_file, "rebalance")
    out = ok(builder_file, "list_parts", "d0")
    lines = out.strip().splitlines()
    assert lines[0].split() == ["Partition", "Matches"]
    assert len(lines) - 1 == RingBuilder.load(builder_file).slot_counts()[0]
    out = ok(builder_file, "dispersion")
    assert "Dispersion is" in out and "zone" in out


def test_settings_commands(builder_file):
    ok(builder_file, "set_overload", "10%")
    assert RingBuilder.load(builder_file).overload == pytest.approx(0.1)
    ok(builder_file, "set_overload", "0.25")
    assert RingBuilder.load(builder_file).overload == pytest.approx(0.25)
    ok(builder_file, "set_replicas", "2.5")
    assert RingBuilder.load(builder_file).replicas == 2.5
    ok(builder_file, "rebalance", "--seed", "2")
    ok(builder_file, "write_ring")


def test_errors_are_one_line(builder_file, tmp_path):
    fails(str(tmp_path / "missing.builder"), match="builder file not found")
    fails(builder_file, "add", "r1z1-127.0.0.1/sdb", "100", match="invalid device value")
    fails(builder_file, "add", "r1z1-127.0.0.1:6200/sdb", "heavy", match="invalid weight")
    fails(builder_file, "add", "r1z1-127.0.0.1:6200/sdb", "100", match="already exists")
    fails(builder_file, "remove", "d42", match="no device matches")
    fails(builder_file, "frobnicate", match="unknown command")
    fails(builder_file, "create", "8", "3", "1", match="already exists")
    fails(builder_file, "write_ring", match="run rebalance first")
    fails(builder_file, "set_replicas", "lots", match="invalid float")
    fails(str(tmp_path / "x.builder"), "create", "8", "three", "1", match="invalid float")
    small = str(tmp_path / "small.builder")
    ok(small, "create", "6", "3", "1")
    ok(small, "add", "r1z1-127.0.0.1:6200/sdb", "1")
    fails(small, "rebalance", match="need at least 3 devices")
    assert "Reassigned" in ok(small, "rebalance", "--force")
    (tmp_path / "junk.builder").write_bytes(b"junk")
    fails(str(tmp_path / "junk.builder"), match="not an objstore builder file")


def test_help():
    result = run("--help")
    assert result.returncode == 0 and "rebalance" in result.stdout
    assert run().returncode == 1


def test_remove_several_and_usage_errors(builder_file):
    ok(builder_file, "rebalance")
    ok(builder_file, "remove", "d0", "d1")
    assert RingBuilder.load(builder_file).pending_removal == {0, 1}
    fails(builder_file, "set_weight", "d0", match="set_weight needs <search-value> <weight>")
    err = fails(builder_file, "create", match="the following arguments are required")
    assert err.startswith("objstore-ring-builder: create:")
