"""ObjectStore.put called directly (no HTTP): what a replication receiver or a
reconstructor gets, with the same durability and no-trace guarantees as a PUT."""
from __future__ import annotations

import errno
import hashlib
import logging
import os

import pytest

from objstore.common.policies import StoragePolicy
from objstore.common.timestamp import Timestamp
from objstore.obj import durable, store
from objstore.obj.diskfile import DiskFileManager
from objstore.obj.store import ContainerUpdate, Footers, ObjectPath, ObjectStore
from tests.unit.obj_helpers import files_under

T1 = Timestamp("1700000001.00000")
T2 = Timestamp("1700000002.00000")
BODY = b"some object bytes" * 1000
ETAG = hashlib.md5(BODY).hexdigest()
NODES = [{"host": "10.0.0.1:6201", "device": "sdb"}]


class RecordingSender:
    """Stands in for the container update sender: records what it was asked to send."""

    def __init__(self, events: list | None = None):
        self.calls = []
        self.events = events

    def update(self, op, dev_path, async_dir, obj_hash, account, container, obj, partition,
               nodes, headers):
        self.calls.append((op, async_dir, (account, container, obj), partition, nodes, headers))
        if self.events is not None:
            self.events.append("container update")


@pytest.fixture
def sender():
    return RecordingSender()


def make_store(root, sender, max_file_size=5 * 1024 ** 3) -> ObjectStore:
    os.makedirs(os.path.join(root, "sda"), exist_ok=True)
    manager = DiskFileManager(str(root), mount_check=False, hash_prefix=b"", hash_suffix=b"t",
                              logger=logging.getLogger("objstore.test-store"), io_threads=0)
    return ObjectStore(manager, sender, max_file_size)


@pytest.fixture
def object_store(tmp_path, sender):
    return make_store(tmp_path, sender)


def target(root, policy_index=0) -> ObjectPath:
    return ObjectPath("sda", os.path.join(root, "sda"), "7", "a", "c", "o",
                      StoragePolicy(policy_index, "p"))


def chunks(data: bytes, size: int = 4096):
    for start in range(0, len(data), size):
        yield data[start:start + size]


def objects_on_disk(root) -> list[str]:
    return [f for f in files_under(root) if "/objects" in "/" + f and
            f.endswith((".data", ".meta", ".ts"))]


def no_trace(root) -> bool:
    tmp = os.path.join(root, "sda", "tmp")
    return objects_on_disk(root) == [] and (not os.path.isdir(tmp) or os.listdir(tmp) == [])


def test_put_stores_a_readable_version_with_computed_metadata(tmp_path, object_store, sender):
    where = target(tmp_path)
    stored = object_store.put(where, T1, {"Content-Type": "text/x", "X-Object-Meta-A": "1"},
                              chunks(BODY), expected_etag=ETAG, expected_length=len(BODY))
    assert stored == (ETAG, len(BODY))
    diskfile = object_store.diskfile(where).open()
    try:
        assert b"".join(diskfile.read_verified()) == BODY
        assert diskfile.metadata == {"Content-Type": "text/x", "X-Object-Meta-A": "1",
                                     "name": "/a/c/o", "X-Timestamp": T1.internal,
                                     "Content-Length": str(len(BODY)), "ETag": ETAG}
    finally:
        diskfile.close()
    assert objects_on_disk(tmp_path) == [f"sda/objects/7/{diskfile.hash[-3:]}/{diskfile.hash}/"
                                         f"{T1.internal}.data"]
    assert os.listdir(tmp_path / "sda" / "tmp") == []
    assert sender.calls == []  # no update targets: e.g. a replication push


def test_put_invalidates_the_suffix_hash(tmp_path, object_store):
    where = target(tmp_path)
    object_store.put(where, T1, {"Content-Type": "a/b"}, [b"v1"])
    manager = object_store.manager
    before = manager.get_hashes(where.dev_path, "objects", "7", [])
    object_store.put(where, T2, {"Content-Type": "a/b"}, [b"v2"])
    after = manager.get_hashes(where.dev_path, "objects", "7", [])
    assert before.keys() == after.keys() and before != after


def test_newer_or_equal_version_wins(tmp_path, object_store):
    where = target(tmp_path)
    object_store.put(where, T2, {"Content-Type": "a/b"}, [b"new"])
    for timestamp in (T1, T2):
        with pytest.raises(store.NewerExists) as caught:
            object_store.put(where, timestamp, {"Content-Type": "a/b"}, [b"old"])
        assert caught.value.timestamp == T2
    diskfile = object_store.diskfile(where).open()
    assert b"".join(diskfile.read_verified()) == b"new"
    assert len(objects_on_disk(tmp_path)) == 1


def test_if_none_match_refuses_a_live_object(tmp_path, object_store):
    where = target(tmp_path)
    object_store.put(where, T1, {"Content-Type": "a/b"}, [b"x"], if_none_match=True)
    with pytest.raises(store.AlreadyExists):
        object_store.put(where, T2, {"Content-Type": "a/b"}, [b"y"], if_none_match=True)


@pytest.mark.parametrize("kwargs,error", [
    ({"expected_etag": "0" * 32}, store.EtagMismatch),
    ({"expected_length": len(BODY) + 1}, store.WrongLength),
    ({"expected_length": len(BODY) - 1}, store.WrongLength),
    ({"footers": lambda: Footers(etag="1" * 32)}, store.EtagMismatch),
])
def test_refused_versions_leave_no_trace(tmp_path, object_store, sender, kwargs, error):
    update = ContainerUpdate("42", NODES)
    with pytest.raises(error):
        object_store.put(target(tmp_path), T1, {"Content-Type": "a/b"}, chunks(BODY),
                         update=update, **kwargs)
    assert no_trace(tmp_path) and sender.calls == []


def test_body_over_the_size_limit_is_too_large(tmp_path, sender):
    small = make_store(tmp_path, sender, max_file_size=1000)
    with pytest.raises(store.TooLarge):
        small.put(target(tmp_path), T1, {"Content-Type": "a/b"}, chunks(b"x" * 70_000, 65536))
    assert no_trace(tmp_path)


def test_errors_of_the_body_pass_through_and_leave_no_trace(tmp_path, object_store):
    def broken():
        yield b"x" * 100_000  # big enough to have created the temp file
        raise ConnectionResetError("sender vanished")
    with pytest.raises(ConnectionResetError):
        object_store.put(target(tmp_path), T1, {"Content-Type": "a/b"}, broken())
    assert no_trace(tmp_path)


def test_full_device_is_device_full(tmp_path, object_store, monkeypatch):
    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "write", full)
    with pytest.raises(store.DeviceFull):
        object_store.put(target(tmp_path), T1, {"Content-Type": "a/b"}, chunks(BODY, 65536))
    monkeypatch.undo()
    assert no_trace(tmp_path)


def test_footers_arrive_after_the_body_and_win(tmp_path, object_store, sender):
    read = []

    def body():
        yield BODY
        read.append("body done")

    def footers():
        assert read == ["body done"]  # asked for only once the body is consumed
        return Footers({"Content-Type": "text/late", "X-Object-Sysmeta-Ec-Frag-Index": "2"},
                       etag=ETAG, overrides={"X-Etag": "whole-object-etag"})
    stored = object_store.put(target(tmp_path), T1, {"Content-Type": "text/early",
                                                     "X-Object-Meta-Kept": "k"},
                              body(), expected_etag="not the fragment's etag", footers=footers,
                              update=ContainerUpdate("42", NODES))
    assert stored.etag == ETAG
    diskfile = object_store.diskfile(target(tmp_path)).open()
    diskfile.close()
    assert diskfile.metadata["Content-Type"] == "text/late"
    assert diskfile.metadata["X-Object-Sysmeta-Ec-Frag-Index"] == "2"
    assert diskfile.metadata["X-Object-Meta-Kept"] == "k"
    [(_, _, _, _, _, headers)] = sender.calls
    assert headers["X-Etag"] == "whole-object-etag" and headers["X-Content-Type"] == "text/late"


def test_container_update_after_the_version_is_durable(tmp_path, monkeypatch):
    """fsync of the file, rename, fsync of the directory, then the container update."""
    events = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd):
        events.append("fsync dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync file")
        real_fsync(fd)

    def rename(src, dst):
        events.append("rename")
        real_rename(src, dst)
    object_store = make_store(tmp_path, RecordingSender(events))
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(durable.os, "rename", rename)
    object_store.put(target(tmp_path, 1), T1, {"Content-Type": "a/b"}, [b"data"],
                     update=ContainerUpdate("42", NODES, trans_id="tx9"))
    assert events[:2] == ["fsync file", "rename"]
    assert events[-2:] == ["fsync dir", "container update"]
    [(op, async_dir, name, partition, nodes, headers)] = object_store.sender.calls
    assert (op, async_dir, name, partition, nodes) == ("PUT", "async_pending-1", ("a", "c", "o"),
                                                       "42", NODES)
    assert headers == {"X-Timestamp": T1.internal, "X-Backend-Storage-Policy-Index": "1",
                       "X-Trans-Id": "tx9", "X-Size": "4", "X-Content-Type": "a/b",
                       "X-Etag": hashlib.md5(b"data").hexdigest()}


def test_listing_overrides_sysmeta_then_sender_then_footers(tmp_path, object_store, sender):
    metadata = {"Content-Type": "a/b",
                "X-Object-Sysmeta-Container-Update-Override-Etag": "sysmeta-etag",
                "X-Object-Sysmeta-Container-Update-Override-Size": "1",
                "X-Object-Sysmeta-Container-Update-Override-Content-Type": "c/d"}
    update = ContainerUpdate("42", NODES, overrides={"X-Etag": "sender-etag", "X-Size": "2"})
    object_store.put(target(tmp_path), T1, metadata, [b"x"], update=update,
                     footers=lambda: Footers(overrides={"X-Size": "3"}))
    [(_, _, _, _, _, headers)] = sender.calls
    assert (headers["X-Content-Type"], headers["X-Etag"], headers["X-Size"]) == \
        ("c/d", "sender-etag", "3")
