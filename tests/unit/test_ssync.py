"""ssync in-process: what is wanted, the frame format, the receiver's storing
and refusing, and a sender pushing a partition to a receiver (no sockets)."""
from __future__ import annotations

import hashlib
import io
import os
import time

import msgpack
import pytest

from objstore.obj import ondisk, ssync
from replicator.ssync_sender import Sender, coalesce, local_objects
from objstore.common.timestamp import Timestamp
from tests.unit.obj_helpers import files_under, fill_device, make_app, put, req
from tests.unit.ssync_helpers import WsgiPeer, ssync_request

HASH = "0123456789abcdef0123456789abcdef"
BASE = int(time.time()) - 3600  # recent: tombstones are not old enough to be reclaimed


def ts(offset: float = 0) -> str:
    return Timestamp(BASE + offset).internal


def fileset(*names: str) -> ondisk.FileSet:
    return ondisk.classify(list(names))


def offer(winner: str, meta: str | None = None, size: int = 5) -> ssync.Offer:
    return ssync.Offer(HASH, winner, meta, size)


@pytest.mark.parametrize("offered, local, want", [
    (offer(f"{ts(1)}.data"), fileset(), "d"),
    (offer(f"{ts(1)}.data"), fileset(f"{ts(1)}.data"), ""),
    (offer(f"{ts(1)}.data"), fileset(f"{ts(2)}.data"), ""),
    (offer(f"{ts(2)}.data"), fileset(f"{ts(1)}.data"), "d"),
    (offer(f"{ts(2)}.ts"), fileset(f"{ts(1)}.data"), "d"),
    (offer(f"{ts(1)}.data"), fileset(f"{ts(2)}.ts"), ""),
    (offer(f"{ts(1)}.data", f"{ts(3)}.meta"), fileset(), "dm"),
    (offer(f"{ts(1)}.data", f"{ts(3)}.meta"), fileset(f"{ts(1)}.data"), "m"),
    (offer(f"{ts(1)}.data", f"{ts(3)}.meta"), fileset(f"{ts(1)}.data", f"{ts(3)}.meta"), ""),
    (offer(f"{ts(1)}.data", f"{ts(3)}.meta"), fileset(f"{ts(1)}.data", f"{ts(4)}.meta"), ""),
    # a newer POST applies to whatever data the receiver holds (Swift's rule)...
    (offer(f"{ts(1)}.data", f"{ts(3)}.meta"), fileset(f"{ts(2)}.data"), "m"),
    # ...but never to a tombstone, nor when the receiver's data is newer than it
    (offer(f"{ts(1)}.data", f"{ts(3)}.meta"), fileset(f"{ts(2)}.ts"), ""),
    (offer(f"{ts(1)}.data", f"{ts(3)}.meta"), fileset(f"{ts(4)}.data"), ""),
    # new data makes an older local .meta obsolete, a newer one stays
    (offer(f"{ts(3)}.data", f"{ts(5)}.meta"), fileset(f"{ts(1)}.data", f"{ts(2)}.meta"), "dm"),
    (offer(f"{ts(3)}.data", f"{ts(5)}.meta"), fileset(f"{ts(1)}.data", f"{ts(6)}.meta"), "d"),
])
def test_wanted(offered, local, want):
    assert ssync.wanted(offered, local) == want


def test_offer_from_a_tombstone_carries_no_meta_and_no_size():
    made = ssync.offer_from(HASH, fileset(f"{ts(3)}.meta", f"{ts(2)}.ts"), 99)
    assert made == ssync.Offer(HASH, f"{ts(2)}.ts", None, 0)
    assert ssync.offer_from(HASH, fileset(f"{ts(3)}.meta"), 0) is None


@pytest.mark.parametrize("body", [
    b"garbage", msgpack.packb([["nothex", f"{ts()}.data", None, 1]]),
    msgpack.packb([[HASH, f"{ts()}.meta", None, 1]]),
    msgpack.packb([[HASH, f"{ts()}.data", f"{ts()}.data", 1]]),
    msgpack.packb([[HASH, f"{ts()}.data", None, -1]]),
    msgpack.packb([[HASH, "x.data", None, 1]]), msgpack.packb([[HASH]]),
])
def test_bad_offers_refused(body):
    with pytest.raises(ssync.ProtocolError):
        ssync.decode_offers(body)


def test_frames_round_trip_and_truncation():
    body = ssync.frame_header(f"{ts()}.data", {"name": "/a/c/o"}, 6) + b"abcdef" + \
        ssync.frame_header(f"{ts()}.ts", {"name": "/a/c/p"}, 0)
    stream = io.BytesIO(body)
    frame = ssync.read_frame(stream)
    assert frame == ssync.Frame(f"{ts()}.data", {"name": "/a/c/o"}, 6)
    assert list(ssync.read_content(stream, frame.length, 4)) == [b"abcd", b"ef"]
    assert ssync.read_frame(stream).file == f"{ts()}.ts"
    assert ssync.read_frame(stream) is None
    for cut in (2, 10, len(body) - 20):
        stream = io.BytesIO(body[:cut])
        with pytest.raises(ssync.ProtocolError):
            frame = ssync.read_frame(stream)
            list(ssync.read_content(stream, frame.length, 4))
            ssync.read_frame(stream)
    with pytest.raises(ssync.ProtocolError):  # a tombstone has no content
        ssync.read_frame(io.BytesIO(ssync.frame_header(f"{ts()}.ts", {}, 3)))


def test_coalesce_joins_small_pieces():
    assert list(coalesce([b"a", b"bc", b"def", b"g"], size=3)) == [b"abc", b"def", b"g"]


@pytest.fixture
def pair(tmp_path):
    """Two object servers (devices under a/ and b/), both with device sda."""
    return make_app(str(tmp_path / "a")), make_app(str(tmp_path / "b"))


def data_metadata(body: bytes, timestamp: str, name: str = "/a/c/o") -> dict[str, str]:
    return {"name": name, "X-Timestamp": timestamp, "Content-Type": "text/plain",
            "Content-Length": str(len(body)), "ETag": hashlib.md5(body).hexdigest(),
            "X-Object-Meta-Color": "blue"}


def test_missing_check_answers_what_is_missing_or_older(pair):
    _, app = pair
    assert put(app, body=b"hello", timestamp=ts(2)).status_int == 201
    local_hash = next(iter(local_objects_of(app))).offer.hash
    other = "f" * 29 + local_hash[-3:]
    resp = ssync_request(app, ssync.MISSING_CHECK, ssync.encode_offers([
        ssync.Offer(local_hash, f"{ts(1)}.data", None, 5),
        ssync.Offer(local_hash, f"{ts(2)}.data", f"{ts(3)}.meta", 5),
        ssync.Offer(other, f"{ts(1)}.ts", None, 0),
        ssync.Offer(other[::-1], f"{ts(-10 ** 9)}.ts", None, 0)]))  # reclaimable: not wanted
    assert resp.status_int == 200
    assert msgpack.unpackb(resp.body) == {local_hash: "m", other: "d"}


def local_objects_of(app, partition: str = "1"):
    part_dir = os.path.join(app.app.app.manager.devices, "sda", "objects", partition)
    return list(local_objects(part_dir, os.listdir(part_dir) if os.path.isdir(part_dir) else []))


def test_missing_check_507_when_the_wanted_bytes_do_not_fit(pair, monkeypatch):
    _, app = pair
    monkeypatch.setattr("objstore.obj.ssync_receiver._free_bytes", lambda path: 100)
    body = ssync.encode_offers([ssync.Offer(HASH, f"{ts()}.data", None, 101)])
    assert ssync_request(app, ssync.MISSING_CHECK, body).status_int == 507
    body = ssync.encode_offers([ssync.Offer(HASH, f"{ts()}.data", None, 100)])
    assert ssync_request(app, ssync.MISSING_CHECK, body).status_int == 200


def test_bad_requests(pair):
    _, app = pair
    assert ssync_request(app, "nonsense", b"").status_int == 400
    assert ssync_request(app, ssync.MISSING_CHECK, b"\xc1").status_int == 400
    assert ssync_request(app, ssync.UPDATES, b"\x00\x00").status_int == 400
    assert ssync_request(app, ssync.UPDATES, b"", path="/sdx/1").status_int == 507
    assert ssync_request(app, ssync.UPDATES, b"", path="/sda/1/extra").status_int == 400


def test_updates_store_data_meta_and_tombstones_with_their_metadata(pair):
    _, app = pair
    body = os.urandom(100_000)
    frames = ssync.frame_header(f"{ts(1)}.data", data_metadata(body, ts(1)), len(body)) + body
    frames += ssync.frame_header(f"{ts(2)}.meta", {"name": "/a/c/o", "X-Timestamp": ts(2),
                                                   "X-Object-Meta-Shape": "round"}, 0)
    frames += ssync.frame_header(f"{ts(3)}.ts", {"name": "/a/c/gone", "X-Timestamp": ts(3)}, 0)
    resp = ssync_request(app, ssync.UPDATES, frames)
    assert resp.status_int == 200
    answer = msgpack.unpackb(resp.body)
    assert len(answer["stored"]) == 3 and answer["failed"] == [] and answer["skipped"] == []
    got = req(app, "/sda/1/a/c/o")
    assert got.status_int == 200 and got.body == body
    assert got.headers["X-Object-Meta-Shape"] == "round"
    assert "X-Object-Meta-Color" not in got.headers  # the POST replaced user metadata
    gone = req(app, "/sda/1/a/c/gone")
    assert gone.status_int == 404 and gone.headers["X-Backend-Timestamp"] == ts(3)
    # pushed again: nothing changes, everything is skipped
    answer = msgpack.unpackb(ssync_request(app, ssync.UPDATES, frames).body)
    assert answer["stored"] == [] and len(answer["skipped"]) == 3


def test_updates_never_move_an_object_backwards(pair):
    _, app = pair
    assert put(app, body=b"newer", timestamp=ts(5)).status_int == 201
    body = b"older"
    frames = ssync.frame_header(f"{ts(1)}.data", data_metadata(body, ts(1)), 5) + body
    answer = msgpack.unpackb(ssync_request(app, ssync.UPDATES, frames).body)
    assert answer["stored"] == [] and len(answer["skipped"]) == 1
    assert req(app, "/sda/1/a/c/o").body == b"newer"


@pytest.mark.parametrize("metadata, why", [
    (data_metadata(b"other", ts(1)), "does not match ETag"),
    ({**data_metadata(b"hello", ts(1)), "Content-Length": "4"}, "longer than"),
    ({**data_metadata(b"hello", ts(1)), "ETag": ""}, "needs its ETag"),
    ({**data_metadata(b"hello", ts(1)), "X-Timestamp": ts(2)}, "X-Timestamp"),
    ({**data_metadata(b"hello", ts(1)), "name": "a/c"}, "not /account"),
])
def test_updates_refuse_bad_files_and_go_on(pair, tmp_path, metadata, why):
    _, app = pair
    frames = ssync.frame_header(f"{ts(1)}.data", metadata, 5) + b"hello"
    frames += ssync.frame_header(f"{ts(1)}.data", data_metadata(b"fine", ts(1), "/a/c/ok"),
                                 4) + b"fine"
    answer = msgpack.unpackb(ssync_request(app, ssync.UPDATES, frames).body)
    assert len(answer["stored"]) == 1 and why in answer["failed"][0][1]
    assert req(app, "/sda/1/a/c/o").status_int == 404
    assert req(app, "/sda/1/a/c/ok").body == b"fine"
    assert os.listdir(tmp_path / "b" / "sda" / "tmp") == []


def test_full_device_during_updates_is_507_and_leaves_nothing(pair, tmp_path, monkeypatch):
    _, app = pair
    body = os.urandom(100_000)
    frames = ssync.frame_header(f"{ts(1)}.data", data_metadata(body, ts(1)), len(body)) + body
    fill_device(monkeypatch)
    resp = ssync_request(app, ssync.UPDATES, frames)
    monkeypatch.undo()
    assert resp.status_int == 507
    assert [f for f in files_under(tmp_path / "b") if f.endswith(".data")] == []
    assert os.listdir(tmp_path / "b" / "sda" / "tmp") == []


def test_body_ending_mid_file_leaves_nothing_visible(pair, tmp_path):
    _, app = pair
    body = os.urandom(200_000)
    frames = ssync.frame_header(f"{ts(1)}.data", data_metadata(body, ts(1)), len(body)) + body
    assert ssync_request(app, ssync.UPDATES, frames[:150_000]).status_int == 400
    assert [f for f in files_under(tmp_path / "b") if f.endswith(".data")] == []
    assert os.listdir(tmp_path / "b" / "sda" / "tmp") == []


def test_sender_pushes_a_partition_and_the_receiver_agrees(pair, tmp_path):
    source, target = pair
    bodies = {f"o{i}": os.urandom(i * 30_000) for i in range(6)}
    for name, body in bodies.items():
        assert put(source, f"/sda/1/a/c/{name}", body, ts(1)).status_int == 201
    assert req(source, "/sda/1/a/c/o1", "POST", X_Timestamp=ts(2),
               X_Object_Meta_Posted="yes").status_int == 202
    assert req(source, "/sda/1/a/c/o2", "DELETE", X_Timestamp=ts(3)).status_int == 204
    assert put(target, "/sda/1/a/c/o3", b"newer", ts(4)).status_int == 201
    spent = []
    sender = Sender(WsgiPeer(target), "sda", 1, 0, spent.append)
    result = sender.sync(local_objects_of(source))
    assert result.failed == set() and len(result.in_sync) == 6
    assert result.files == 6  # 4 .data, a .meta beside one, a tombstone; o3 is newer there
    assert result.bytes == sum(spent) == sum(len(bodies[n]) for n in ("o0", "o1", "o4", "o5"))
    for name, body in bodies.items():
        got = req(target, f"/sda/1/a/c/{name}")
        if name == "o2":
            assert got.status_int == 404 and got.headers["X-Backend-Timestamp"] == ts(3)
        elif name == "o3":
            assert got.body == b"newer"
        else:
            assert got.body == body and got.headers["ETag"] == hashlib.md5(body).hexdigest()
    assert req(target, "/sda/1/a/c/o1").headers["X-Object-Meta-Posted"] == "yes"
    # the suffix hashes now agree except where the target holds the newer o3
    source_hashes = sender_for(source).replicate()
    target_hashes = sender.replicate()
    o3_suffix = next(o.offer.hash[-3:] for o in local_objects_of(target)
                     if o.offer.winner == f"{ts(4)}.data")
    assert {s for s in source_hashes if source_hashes[s] != target_hashes.get(s)} == {o3_suffix}
    # a second push has nothing to send
    again = sender.sync(local_objects_of(source))
    assert again.files == 0 and again.bytes == 0 and len(again.in_sync) == 6


def sender_for(app) -> Sender:
    return Sender(WsgiPeer(app), "sda", 1, 0)
