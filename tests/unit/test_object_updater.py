"""ObjectUpdater on async pendings written by an in-process object server whose
container updates failed: newest wins, a pending goes only once every
container primary took it, partial successes are remembered, garbage is
quarantined, and the pass keeps to updates_per_second (fake clock)."""
from __future__ import annotations

import logging
import os

import pytest

from objstore.common.config import ConfigError
from objstore.obj.container_updates import ContainerUpdateSender
from replicator.object_updater import ObjectUpdater, newest_per_object
from ring.builder import RingBuilder
from tests.support import FakeClock, pass_progress
from tests.unit.obj_helpers import files_under, make_app, make_conf, put, req, ts

LOGGER = logging.getLogger("objstore.test-object-updater")
HOSTS = ["10.0.0.1:6201", "10.0.0.2:6201", "10.0.0.3:6201"]
TARGET_HEADERS = {"X_Container_Host": ",".join(HOSTS), "X_Container_Device": "sdb,sdc,sdd",
                  "X_Container_Partition": "7"}


@pytest.fixture
def containers(monkeypatch):
    """Container replicas that record updates; ``up`` says which hosts answer 2xx."""
    state = {"calls": [], "up": set()}

    def fake_send(self, target, partition, path, op, headers):
        state["calls"].append((target["host"], target["device"], partition, path, op,
                               headers["X-Timestamp"]))
        return target["host"] in state["up"]
    monkeypatch.setattr(ContainerUpdateSender, "send_one", fake_send)
    return state


@pytest.fixture
def devices(tmp_path):
    path = tmp_path / "devices"
    path.mkdir()
    return str(path)


@pytest.fixture
def app(devices):
    return make_app(devices, container_update_timeout=5)


def updater(devices, tmp_path, clock=None, **options) -> ObjectUpdater:
    ring_dir = tmp_path / "rings"
    if not ring_dir.exists():
        ring_dir.mkdir()
        builder = RingBuilder(4, 3, 0)
        for index, host in enumerate(HOSTS):
            ip, port = host.split(":")
            builder.add_dev({"region": 1, "zone": index + 1, "ip": ip, "port": int(port),
                             "device": f"sd{'bcd'[index]}", "weight": 100})
        builder.rebalance(seed=1)
        builder.write_ring(str(ring_dir / "container.ring.gz"))
    conf = make_conf(devices)
    conf["objstore"]["ring_dir"] = str(ring_dir)
    conf["object-updater"] = {key: str(value) for key, value in options.items()}
    clock = clock or FakeClock()
    return ObjectUpdater(conf, LOGGER, clock=clock, sleep=clock.sleep)


def pendings(root) -> list[str]:
    return [f for f in files_under(root) if f.startswith("sda/async_pending")]


def test_newest_per_object_sorts_by_timestamp_not_text():
    names = ["aaa-1700000000.00000", "aaa-1700000002.00000", "bbb-1700000001.00000",
             "aaa-1700000001.00000_0000000000000001", "junk", "ccc-notatime"]
    newest, superseded = newest_per_object(names)
    assert sorted(newest) == ["aaa-1700000002.00000", "bbb-1700000001.00000"]
    assert sorted(superseded) == ["aaa-1700000000.00000", "aaa-1700000001.00000_0000000000000001"]


def test_only_the_newest_update_of_an_object_is_sent_then_all_are_gone(
        app, devices, tmp_path, containers):
    for offset in (0, 1, 2):
        assert put(app, "/sda/1/a/c/o", timestamp=ts(offset), **TARGET_HEADERS).status_int == 201
    assert req(app, "/sda/1/a/c/o", "DELETE", X_Timestamp=ts(3),
               **TARGET_HEADERS).status_int == 204
    assert put(app, "/sda/1/a/c/other", **TARGET_HEADERS).status_int == 201
    assert len(pendings(devices)) == 5
    containers["calls"].clear()
    containers["up"] = set(HOSTS)

    stats = updater(devices, tmp_path).run_once(pass_progress())

    assert stats == {"found": 5, "succeeded": 2, "failed": 0, "removed": 3, "errors": 0}
    sent = sorted((call[3], call[4], call[5]) for call in containers["calls"])
    assert sent == sorted([("/a/c/o", "DELETE", ts(3))] * 3 + [("/a/c/other", "PUT", ts())] * 3)
    assert {call[0] for call in containers["calls"]} == set(HOSTS)
    assert pendings(devices) == []
    assert not os.listdir(os.path.join(devices, "sda", "async_pending"))  # suffix dirs too


def test_a_pending_stays_until_every_primary_took_it(app, devices, tmp_path, containers):
    assert put(app, **TARGET_HEADERS).status_int == 201
    containers["calls"].clear()
    containers["up"] = {HOSTS[0], HOSTS[2]}
    daemon = updater(devices, tmp_path)

    assert daemon.run_once(pass_progress())["failed"] == 1
    assert len(pendings(devices)) == 1
    assert daemon.run_once(pass_progress())["failed"] == 1  # still down: only it is retried
    assert [call[0] for call in containers["calls"]].count(HOSTS[0]) == 1
    assert [call[0] for call in containers["calls"]].count(HOSTS[1]) == 2

    containers["up"].add(HOSTS[1])
    stats = daemon.run_once(pass_progress())
    assert (stats["succeeded"], stats["failed"]) == (1, 0)
    assert [call[0] for call in containers["calls"]].count(HOSTS[1]) == 3
    assert pendings(devices) == []


def test_an_unreadable_pending_is_quarantined(app, devices, tmp_path, containers):
    assert put(app, **TARGET_HEADERS).status_int == 201
    [pending] = pendings(devices)
    with open(os.path.join(devices, pending), "wb") as handle:
        handle.write(b"\xc1 not msgpack")
    stats = updater(devices, tmp_path).run_once(pass_progress())
    assert stats["errors"] == 1 and pendings(devices) == []
    assert os.path.exists(os.path.join(devices, "sda", "quarantined", "async_pending",
                                       os.path.basename(pending)))


def test_pass_keeps_to_updates_per_second(app, devices, tmp_path, containers):
    for index in range(11):
        assert put(app, f"/sda/1/a/c/o{index}", **TARGET_HEADERS).status_int == 201
    containers["up"] = set(HOSTS)
    clock = FakeClock()
    start = clock.now
    stats = updater(devices, tmp_path, clock, updates_per_second=10).run_once(pass_progress())
    assert stats["succeeded"] == 11
    assert clock.now - start == pytest.approx(1.0)


def test_bad_concurrency_is_a_config_error(devices, tmp_path):
    with pytest.raises(ConfigError, match="concurrency"):
        updater(devices, tmp_path, concurrency=0)


def test_a_missing_container_ring_is_a_config_error(devices):
    conf = make_conf(devices)
    conf["objstore"]["ring_dir"] = devices
    with pytest.raises(ConfigError, match="container.ring.gz"):
        ObjectUpdater(conf, LOGGER)
