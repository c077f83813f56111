"""REPLICATE between two container (and account) servers, in-process."""
from __future__ import annotations

import logging

import msgpack
import pytest
from webob import Request

from objstore.account.server import AccountServer
from objstore.container.server import ContainerServer
from tests.unit.test_container_server import call, make_conf, put_container, put_object

LOG = logging.getLogger("test-db-replication")


@pytest.fixture
def pair(tmp_path):
    apps = [ContainerServer(make_conf(tmp_path / name), LOG, account_ring=object(),
                            sender=lambda *a: 201) for name in ("n1", "n2")]
    yield apps
    for app in apps:
        app.close()


def replicate(app, db_hash: bytes, op: str, args: dict, device="sda"):
    body = msgpack.packb([op, args], use_bin_type=True)
    resp = Request.blank(f"/{device}/1/{db_hash.hex()}", method="REPLICATE", body=body,
                         headers={"Content-Type": "application/x-msgpack"}).get_response(app)
    payload = msgpack.unpackb(resp.body, raw=False, strict_map_key=False) \
        if resp.content_type == "application/x-msgpack" else resp.body
    return resp.status_int, payload


def push(src_app, dst_app, path: str, batch: int = 2) -> int:
    """What a DB replicator does: sync, then merge the changes in batches."""
    src = src_app.broker(src_app.parse_path(Request.blank(path)))
    info = src.get_info()
    status, answer = replicate(dst_app, src.hash, "sync", {"id": info["id"]})
    point = answer["point"] if status == 200 else -1
    with src.store.read() as txn:
        metadata = src.metadata_txn(txn)
    rounds = 0
    while True:
        items = src.get_items_since(point, batch)
        status, _ = replicate(dst_app, src.hash, "merge", {
            "info": info, "metadata": metadata, "items": items,
            "source_seq": items[-1]["seq"] if items else point})
        assert status == 200
        rounds += 1
        if not items:
            return rounds
        point = items[-1]["seq"]


def test_push_creates_and_converges(pair):
    a, b = pair
    put_container(a, X_Container_Meta_Color="red", X_Backend_Storage_Policy_Index="1")
    for name in ("o1", "o2", "o3"):
        put_object(a, name, size=4)
    call(a, "/sda/1/a/c/o2", "DELETE", X_Timestamp="5")
    assert push(a, b, "/sda/1/a/c") == 3                    # 2 batches + the final empty one
    head = call(b, "/sda/1/a/c", "HEAD")
    assert head.headers["X-Container-Object-Count"] == "2"
    assert head.headers["X-Container-Meta-Color"] == "red"
    assert head.headers["X-Backend-Storage-Policy-Index"] == "1"
    assert call(b, "/sda/1/a/c").body == b"o1\no3\n"
    assert b.broker(b.parse_path(Request.blank("/sda/1/a/c/o2"))).get_record("o2")["deleted"]
    # the sync point is remembered: a second push only sends what changed
    put_object(a, "o4", ts="6")
    src_info = a.broker(a.parse_path(Request.blank("/sda/1/a/c"))).get_info()
    status, answer = replicate(b, bytes.fromhex(_hash_hex(a)), "sync", {"id": src_info["id"]})
    assert status == 200 and answer["point"] == src_info["max_seq"] - 1
    push(a, b, "/sda/1/a/c")
    assert call(b, "/sda/1/a/c").body == b"o1\no3\no4\n"


def _hash_hex(app) -> str:
    return app.broker(app.parse_path(Request.blank("/sda/1/a/c"))).hash.hex()


def test_delete_and_newer_records_win_both_ways(pair):
    a, b = pair
    put_container(a)
    put_container(b)
    put_object(a, "x", ts="2", size=1)
    put_object(b, "x", ts="3", size=2)
    call(b, "/sda/1/a/c", "POST", X_Timestamp="4", X_Container_Meta_Owner="b")
    push(a, b, "/sda/1/a/c")
    push(b, a, "/sda/1/a/c")
    for app in pair:
        head = call(app, "/sda/1/a/c", "HEAD")
        assert head.headers["X-Container-Bytes-Used"] == "2"
        assert head.headers["X-Container-Meta-Owner"] == "b"


def test_sync_many_answers_for_many_dbs_at_once(pair):
    a, _ = pair
    put_container(a)
    known = a.broker(a.parse_path(Request.blank("/sda/1/a/c")))
    body = msgpack.packb(["sync_many", {"dbs": [[known.hash, "peer"], [b"\x01" * 16, "peer"]]}],
                         use_bin_type=True)
    resp = Request.blank("/sda/0", method="REPLICATE", body=body).get_response(a)
    answers = msgpack.unpackb(resp.body, raw=False, strict_map_key=False)["answers"]
    assert resp.status_int == 200 and answers[1] is None
    assert answers[0]["point"] == -1 and answers[0]["info"]["id"] == known.get_info()["id"]
    for args in ({}, {"dbs": [[b"short", "x"]]}, {"dbs": [[known.hash, "x"]] * 10_001}):
        bad = msgpack.packb(["sync_many", args], use_bin_type=True)
        assert Request.blank("/sda/0", method="REPLICATE", body=bad).get_response(a).status_int == 400
    wrong = msgpack.packb(["merge", {}], use_bin_type=True)
    assert Request.blank("/sda/0", method="REPLICATE", body=wrong).get_response(a).status_int == 400


def test_sync_of_unknown_db_is_404(pair):
    status, _ = replicate(pair[0], b"\x01" * 16, "sync", {"id": "x"})
    assert status == 404


@pytest.mark.parametrize("path, body, status", [
    ("/sda/1/nothex", msgpack.packb(["sync", {}]), 400),
    ("/sda/1/" + "ab" * 16, b"\xc1not msgpack", 400),
    ("/sda/1/" + "ab" * 16, msgpack.packb(["explode", {}]), 400),
    ("/sda/1/" + "ab" * 16, msgpack.packb("sync"), 400),
    ("/sda/1/" + "ab" * 16, msgpack.packb(["merge", {"info": {"account": "a", "container": "c",
                                                              "id": "x"}}]), 400),
    ("/nodev/1/" + "ab" * 16, msgpack.packb(["sync", {}]), 507),
    ("/sda/1/ab/cd", msgpack.packb(["sync", {}]), 400),
])
def test_bad_replicate_requests(pair, path, body, status):
    resp = Request.blank(path, method="REPLICATE", body=body).get_response(pair[0])
    assert resp.status_int == status and resp.body


def test_account_dbs_replicate_too(tmp_path):
    a, b = (AccountServer(make_conf(tmp_path / name), LOG) for name in ("n1", "n2"))
    call(a, "/sda/1/AUTH_x", "PUT", X_Timestamp="1")
    call(a, "/sda/1/AUTH_x/c1", "PUT", X_Put_Timestamp="2", X_Object_Count="3", X_Bytes_Used="30")
    push(a, b, "/sda/1/AUTH_x")
    head = call(b, "/sda/1/AUTH_x", "HEAD")
    assert head.headers["X-Account-Object-Count"] == "3"
    assert call(b, "/sda/1/AUTH_x").body == b"c1\n"
    a.close(), b.close()
