"""The expiry queue: its names, the object server's queue updates, one expirer pass."""
from __future__ import annotations

import configparser
import logging
import time
from types import SimpleNamespace

import msgpack
import pytest

from objstore.common.expiring import (EXPIRING_ACCOUNT, QueueEntry, parse_queue_entry,
                                      queue_container)
from replicator.object_expirer import ObjectExpirer, handled_by
from tests.support import pass_progress
from tests.unit.obj_helpers import make_app, put, req, ts
from tests.unit.test_obj_container_updates import pendings, sent  # noqa: F401 (fixture)

QUEUE_HEADERS = {"X_Delete_At_Host": "10.0.0.9:6201", "X_Delete_At_Device": "sdq",
                 "X_Delete_At_Partition": "7"}
DAY = 86400


def test_queue_names():
    assert queue_container(1796177658) == "1796169600"  # rounded down to the day
    entry = QueueEntry("1796177658", "AUTH_a", "c", "dir/o")
    assert entry.name == "1796177658-AUTH_a/c/dir/o"
    assert entry.queue_container == "1796169600"
    assert parse_queue_entry(entry.name) == entry
    for bad in ("1796177658", "x-AUTH_a/c/o", "1796177658-AUTH_a/c", "1796177658-a//o"):
        with pytest.raises(ValueError):
            parse_queue_entry(bad)


def queue_calls(calls):
    return sorted((c[0], c[3], c[4]) for c in calls if c[3].startswith(f"/{EXPIRING_ACCOUNT}/"))


def test_object_server_moves_the_queue_entry(tmp_path, sent):  # noqa: F811
    calls, _ = sent
    app = make_app(str(tmp_path))
    first = (int(time.time()) // DAY + 2) * DAY + 100  # two days ahead
    queue = queue_container(first)
    assert put(app, X_Delete_At=str(first), **QUEUE_HEADERS).status_int == 201
    assert queue_calls(calls) == [("10.0.0.9:6201", f"/{EXPIRING_ACCOUNT}/{queue}/{first}-a/c/o",
                                   "PUT")]
    assert calls[-1][2] == "7" and calls[-1][5]["X-Size"] == "0"
    calls.clear()
    # same queue container: the old entry's DELETE goes to the replicas the proxy named
    assert req(app, "/sda/1/a/c/o", "POST", X_Timestamp=ts(1), X_Delete_At=str(first + 50),
               **QUEUE_HEADERS).status_int == 202
    assert queue_calls(calls) == [
        ("10.0.0.9:6201", f"/{EXPIRING_ACCOUNT}/{queue}/{first}-a/c/o", "DELETE"),
        ("10.0.0.9:6201", f"/{EXPIRING_ACCOUNT}/{queue}/{first + 50}-a/c/o", "PUT")]
    calls.clear()
    # overwritten without an expiry: the proxy names no queue replica, an async
    # pending carries the DELETE to the container ring's (via the updater)
    assert put(app, timestamp=ts(2)).status_int == 201
    assert queue_calls(calls) == []
    [pending] = pendings(tmp_path)
    with open(pending, "rb") as handle:
        record = msgpack.unpackb(handle.read())
    assert (record["op"], record["account"], record["container"], record["obj"]) == \
        ("DELETE", EXPIRING_ACCOUNT, queue, f"{first + 50}-a/c/o")
    assert record["failed"] == []


def test_expirer_delete_does_not_touch_the_queue(tmp_path, sent):  # noqa: F811
    calls, _ = sent
    app = make_app(str(tmp_path))
    delete_at = str(int(time.time()) + 1000)
    put(app, X_Delete_At=delete_at, **QUEUE_HEADERS)
    calls.clear()
    assert req(app, "/sda/1/a/c/o", "DELETE", X_Timestamp=ts(1),
               X_If_Delete_At=delete_at).status_int == 204
    assert queue_calls(calls) == [] and pendings(tmp_path) == []


class FakeClient:
    """The queue as listings, objects as their X-Delete-At; records every DELETE."""

    def __init__(self, queue: dict[str, list[str]], objects: dict[str, str]) -> None:
        self.queue = queue
        self.objects = objects
        self.deleted: list[tuple] = []

    def iter_listing(self, account, container=None, **_):
        assert account == EXPIRING_ACCOUNT
        names = sorted(self.queue) if container is None else self.queue.get(container, [])
        return iter([{"name": name} for name in names])

    def delete(self, account, container, obj=None, headers=None, acceptable=()):
        self.deleted.append((account, container, obj))
        if account == EXPIRING_ACCOUNT and obj is None:
            status = 409 if self.queue.get(container) else 204
        elif account == EXPIRING_ACCOUNT:
            self.queue[container].remove(obj)
            status = 204
        else:
            path = f"{account}/{container}/{obj}"
            stored = self.objects.get(path)
            status = 404 if stored is None else \
                412 if stored != headers["X-If-Delete-At"] else 204
            if status == 204:
                del self.objects[path]
        assert status in acceptable or 200 <= status < 300
        return SimpleNamespace(status_int=status, ok=200 <= status < 300)


def expirer(client, now, **options):
    conf = configparser.ConfigParser()
    conf["object-expirer"] = {"tasks_per_second": "0", **options}
    return ObjectExpirer(conf, logging.getLogger("objstore.test-expirer"), client=client,
                         now=lambda: now)


def test_one_pass_deletes_what_is_due_and_drops_stale_entries():
    now = 1796177658
    old_day, today = queue_container(now - DAY), queue_container(now)
    client = FakeClient(
        {old_day: [f"{now - DAY}-a/c/gone", f"{now - DAY}-a/c/changed"],
         today: [f"{now - 10}-a/c/due", f"{now + 10}-a/c/later"],
         queue_container(now + DAY): [f"{now + DAY}-a/c/tomorrow"]},
        {"a/c/changed": str(now + 500), "a/c/due": str(now - 10), "a/c/later": str(now + 10),
         "a/c/tomorrow": str(now + DAY)})
    stats = expirer(client, now).run_once(pass_progress())
    assert stats == {"expired": 1, "already_gone": 1, "changed": 1, "failed": 0,
                     "containers_removed": 1}
    assert set(client.objects) == {"a/c/changed", "a/c/later", "a/c/tomorrow"}
    assert client.queue[today] == [f"{now + 10}-a/c/later"]
    assert (EXPIRING_ACCOUNT, old_day, None) in client.deleted  # past and empty
    assert (EXPIRING_ACCOUNT, today, None) not in client.deleted  # may still get entries


def test_processes_split_the_entries():
    names = [f"1796177658-a/c/o{index}" for index in range(40)]
    shares = [{name for name in names if handled_by(name, 3, process)} for process in range(3)]
    assert set().union(*shares) == set(names) and sum(map(len, shares)) == len(names)
    assert all(shares)
