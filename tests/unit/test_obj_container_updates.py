"""Container updates after PUT/DELETE: sent, or covered by a durable async pending."""
from __future__ import annotations

import os

import eventlet
import msgpack
import pytest

from objstore.obj.container_updates import ContainerUpdateSender
from tests.unit.obj_helpers import files_under, make_app, put, req, ts

TARGET_HEADERS = {"X_Container_Host": "10.0.0.1:6201,10.0.0.2:6201",
                  "X_Container_Device": "sdb,sdc", "X_Container_Partition": "42"}


@pytest.fixture
def sent(monkeypatch):
    """Record updates instead of sending them; behaviour per host is configurable."""
    calls = []
    behaviour = {}

    def fake_send(self, target, partition, path, op, headers):
        calls.append((target["host"], target["device"], partition, path, op, dict(headers)))
        action = behaviour.get(target["host"], True)
        if callable(action):
            return action()
        return action
    monkeypatch.setattr(ContainerUpdateSender, "send_one", fake_send)
    return calls, behaviour


def pendings(root):
    return [os.path.join(root, f) for f in files_under(root) if "async_pending" in f]


def test_put_and_delete_update_every_container_replica(tmp_path, sent):
    calls, _ = sent
    app = make_app(str(tmp_path))
    resp = put(app, body=b"12345", Content_Type="text/x", X_Trans_Id="tx1", **TARGET_HEADERS)
    assert resp.status_int == 201
    assert sorted(c[:5] for c in calls) == [
        ("10.0.0.1:6201", "sdb", "42", "/a/c/o", "PUT"),
        ("10.0.0.2:6201", "sdc", "42", "/a/c/o", "PUT")]
    assert calls[0][5] == {"X-Timestamp": ts(), "X-Size": "5", "X-Content-Type": "text/x",
                           "X-Etag": "827ccb0eea8a706c4c34a16891f84e7b",
                           "X-Backend-Storage-Policy-Index": "0", "X-Trans-Id": "tx1"}
    calls.clear()
    assert req(app, "/sda/1/a/c/o", "DELETE", X_Timestamp=ts(1), **TARGET_HEADERS).status_int == 204
    assert {c[4] for c in calls} == {"DELETE"} and len(calls) == 2
    assert "X-Size" not in calls[0][5] and calls[0][5]["X-Timestamp"] == ts(1)
    assert pendings(tmp_path) == []


def test_override_headers_for_listing(tmp_path, sent):
    calls, _ = sent
    app = make_app(str(tmp_path))
    put(app, X_Backend_Container_Update_Override_Etag="slo-etag",
        X_Object_Sysmeta_Container_Update_Override_Etag="older-etag",
        X_Object_Sysmeta_Container_Update_Override_Content_Type="a/b; swift_bytes=999",
        X_Backend_Container_Update_Override_Size="999", **TARGET_HEADERS)
    assert calls[0][5]["X-Etag"] == "slo-etag" and calls[0][5]["X-Size"] == "999"
    assert calls[0][5]["X-Content-Type"] == "a/b; swift_bytes=999"


def test_failed_update_writes_async_pending(tmp_path, sent):
    calls, behaviour = sent
    behaviour["10.0.0.2:6201"] = False
    app = make_app(str(tmp_path))
    resp = put(app, X_Backend_Storage_Policy_Index="1", **TARGET_HEADERS)
    assert resp.status_int == 201
    [pending] = pendings(tmp_path)
    rel = os.path.relpath(pending, tmp_path).split("/")
    assert rel[:2] == ["sda", "async_pending-1"]
    obj_hash, timestamp = rel[3].split("-", 1)
    assert timestamp == ts() and rel[2] == obj_hash[-3:] and len(obj_hash) == 32
    with open(pending, "rb") as handle:
        record = msgpack.unpackb(handle.read())
    assert record["op"] == "PUT" and record["obj"] == "o" and record["container"] == "c"
    assert record["container_partition"] == "42"
    assert record["failed"] == [{"host": "10.0.0.2:6201", "device": "sdc"}]
    assert record["headers"]["X-Backend-Storage-Policy-Index"] == "1"


def test_slow_update_does_not_hold_the_client(tmp_path, sent):
    calls, behaviour = sent
    release = eventlet.event.Event()

    def slow():
        release.wait()
        return True
    behaviour["10.0.0.1:6201"] = slow
    app = make_app(str(tmp_path), container_update_timeout=0.05)
    resp = req(app, "/sda/1/a/c/o", "DELETE", X_Timestamp=ts(), **TARGET_HEADERS)
    assert resp.status_int == 404
    [pending] = pendings(tmp_path)  # written before the answer: nothing can be lost
    release.send()
    eventlet.sleep(0)
    for _ in range(100):
        if not os.path.exists(pending):
            break
        eventlet.sleep(0.01)
    assert not os.path.exists(pending)  # the late update succeeded after all


def test_mismatched_container_headers_rejected(tmp_path, sent):
    app = make_app(str(tmp_path))
    resp = put(app, X_Container_Host="1.2.3.4:1,1.2.3.5:1", X_Container_Device="sdb",
               X_Container_Partition="1")
    assert resp.status_int == 400 and b"X-Container-Host" in resp.body
    assert sent[0] == []


def test_no_update_without_container_headers(tmp_path, sent):
    put(make_app(str(tmp_path)))
    assert sent[0] == [] and pendings(tmp_path) == []
