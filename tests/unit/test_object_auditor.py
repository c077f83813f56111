"""ObjectAuditor on objects written by an in-process object server: each kind of
corruption is quarantined with its suffix invalidated, good objects are left
alone, and the pass keeps to its files/s and bytes/s limits (fake clock)."""
from __future__ import annotations

import logging
import os
import threading

import pytest

from objstore.common.config import ConfigError
from objstore.obj import hashes, metadata as md
from replicator.object_auditor import ObjectAuditor
from tests.corruption import CORRUPTIONS, SIDECAR_HEADERS, flip_bytes
from tests.support import FakeClock, pass_progress
from tests.unit.obj_helpers import files_under, make_app, make_conf, put, req, ts

LOGGER = logging.getLogger("objstore.test-object-auditor")


def auditor(devices, clock=None, **options) -> ObjectAuditor:
    conf = make_conf(devices)
    conf["object-auditor"] = {key: str(value) for key, value in options.items()}
    clock = clock or FakeClock()
    return ObjectAuditor(conf, LOGGER, clock=clock, sleep=clock.sleep)


@pytest.fixture
def devices(tmp_path):
    return str(tmp_path)


@pytest.fixture
def app(devices):
    return make_app(devices)


def put_objects(app, names, **headers):
    for name in names:
        resp = put(app, f"/sda/1/a/c/{name}", body=os.urandom(100_000) + name.encode(),
                   **{key.replace("-", "_"): value for key, value in headers.items()})
        assert resp.status_int == 201


def data_paths(root) -> list[str]:
    return [os.path.join(root, rel) for rel in files_under(root)
            if rel.startswith("sda/objects") and rel.endswith(".data")]


def quarantined(root) -> list[str]:
    return [f for f in files_under(root) if f.startswith("sda/quarantined/objects/")
            and f.endswith(".data")]


def only_data(root) -> str:
    [path] = data_paths(root)
    return path


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_full_pass_quarantines_each_kind_and_invalidates_its_suffix(app, devices, kind):
    headers = SIDECAR_HEADERS if kind == "sidecar damaged" else {}
    put_objects(app, ["victim"], **headers)
    path = only_data(devices)
    assert os.path.exists(path + md.SIDECAR_SUFFIX) == (kind == "sidecar damaged")
    suffix_dir = os.path.dirname(os.path.dirname(path))
    part_dir = os.path.dirname(suffix_dir)
    hashes.get_hashes(part_dir)  # hashes up to date: nothing pending
    CORRUPTIONS[kind](path)

    stats = auditor(devices, files_per_second=0, bytes_per_second=0).run_once(pass_progress())

    assert (stats["checked"], stats["quarantined"], stats["errors"]) == (1, 1, 0)
    assert len(quarantined(devices)) == 1 and not data_paths(devices)
    with open(os.path.join(part_dir, hashes.INVALID_FILE)) as handle:
        assert os.path.basename(suffix_dir) in handle.read().split()
    assert req(app, "/sda/1/a/c/victim").status_int == 404


def test_good_objects_are_left_alone(app, devices):
    put_objects(app, ["a", "b", "c"])
    put_objects(app, ["d"], **SIDECAR_HEADERS)
    assert req(app, "/sda/1/a/c/c", "DELETE", X_Timestamp=ts(5)).status_int == 204
    before = files_under(devices)
    stats = auditor(devices, files_per_second=0, bytes_per_second=0).run_once(pass_progress())
    assert (stats["checked"], stats["quarantined"], stats["errors"]) == (3, 0, 0)
    assert stats["bytes"] == 3 * 100_001  # a, b and d; c is a tombstone
    assert files_under(devices) == before


def test_fast_mode_checks_metadata_and_size_but_not_content(app, devices):
    put_objects(app, ["rotten"])
    flip_bytes(only_data(devices))
    fast = auditor(devices, mode="fast", files_per_second=0).run_once(pass_progress())
    assert (fast["checked"], fast["bytes"], fast["quarantined"]) == (1, 0, 0)
    full = auditor(devices, mode="full", files_per_second=0, bytes_per_second=0)
    assert full.run_once(pass_progress())["quarantined"] == 1


def test_every_policy_and_device_is_walked(app, devices):
    os.makedirs(os.path.join(devices, "sdb"))
    other = make_app(devices)
    assert put(other, "/sdb/3/a/c/o1", X_Backend_Storage_Policy_Index="1").status_int == 201
    put_objects(app, ["o0"])
    stats = auditor(devices, files_per_second=0, bytes_per_second=0).run_once(pass_progress())
    assert stats["checked"] == 2


def test_pass_keeps_to_files_per_second(app, devices):
    put_objects(app, [f"o{i}" for i in range(11)])
    clock = FakeClock()
    start = clock.now
    daemon = auditor(devices, clock, files_per_second=5, bytes_per_second=0)
    stats = daemon.run_once(pass_progress())
    assert stats["checked"] == 11
    assert clock.now - start == pytest.approx(2.0)  # 10 intervals of 0.2 s
    assert stats["files_per_second"] == 5.5


def test_pass_keeps_to_bytes_per_second(app, devices):
    put_objects(app, ["a", "b"])
    clock = FakeClock()
    start = clock.now
    daemon = auditor(devices, clock, files_per_second=0, bytes_per_second=50_000)
    stats = daemon.run_once(pass_progress())
    # 200,002 bytes at 50,000 B/s: all but the last chunk's share is waited for
    elapsed = clock.now - start
    assert stats["bytes"] == 200_002 and 3.0 < elapsed <= 4.0
    assert sum(clock.sleeps) == pytest.approx(elapsed)
    assert stats["bytes_per_second"] == round(200_002 / elapsed)


def test_a_stop_request_ends_the_pass_between_objects(app, devices, monkeypatch):
    put_objects(app, [f"o{i}" for i in range(5)])
    daemon = auditor(devices, files_per_second=0, bytes_per_second=0)
    stop = threading.Event()
    audit = daemon.audit

    def audit_then_stop(location, stats):
        audit(location, stats)
        if stats["checked"] == 2:
            stop.set()  # SIGTERM arrives while the second object is checked
    monkeypatch.setattr(daemon, "audit", audit_then_stop)
    assert daemon.run_once(pass_progress(stop))["checked"] == 2


def test_unknown_mode_is_a_config_error(devices):
    with pytest.raises(ConfigError, match="mode"):
        auditor(devices, mode="thorough")
