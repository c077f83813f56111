"""On-disk format: metadata in xattrs with sidecar overflow (ext4 limits), quarantine,
file-set rules and suffix hashes."""
from __future__ import annotations

import hashlib
import os
import time

import msgpack
import pytest
import xattr

from objstore.common.timestamp import Timestamp
from objstore.obj import hashes, metadata as md, ondisk
from tests.unit.obj_helpers import TS, files_under, make_app, put, req, ts


@pytest.fixture
def app(tmp_path):
    return make_app(str(tmp_path))


def data_files(root, ext=".data"):
    return [os.path.join(root, f) for f in files_under(root)
            if f.startswith("sda/objects") and f.endswith(ext)]


# -- metadata ------------------------------------------------------------------
def test_small_metadata_lives_in_one_xattr(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"")
    fd = os.open(path, os.O_RDONLY)
    try:
        meta = {"name": "/a/c/o", "X-Object-Meta-Ä": "wert"}
        assert md.set_xattrs(fd, md.encode(meta))
        assert list(xattr.listxattr(fd)) == [md.XATTR_KEY]
        assert md.read_metadata(fd, str(path)) == meta
    finally:
        os.close(fd)


def test_metadata_split_across_keys(tmp_path, monkeypatch):
    monkeypatch.setattr(md, "XATTR_CHUNK", 100)
    path = tmp_path / "f"
    path.write_bytes(b"")
    fd = os.open(path, os.O_RDONLY)
    try:
        meta = {f"k{i}": "v" * 20 for i in range(20)}
        assert md.set_xattrs(fd, md.encode(meta))
        keys = xattr.listxattr(fd)
        assert len(keys) > 4 and md.XATTR_KEY + "1" in keys
        assert md.read_metadata(fd, str(path)) == meta
        xattr.removexattr(fd, md.XATTR_KEY + "2")
        with pytest.raises(md.MetadataError):
            md.read_metadata(fd, str(path))
    finally:
        os.close(fd)


def _limits_headers():
    """Swift's limits: 90 user metadata items, 4096 bytes of names+values."""
    headers = {}
    for i in range(90):
        name = f"X_Object_Meta_M{i:02d}"  # 3 chars of name
        headers[name] = chr(ord("a") + i % 26) * (4096 // 90 - 3)
    headers.update({f"X_Object_Sysmeta_S{i}": "s" * 200 for i in range(10)})
    headers.update({f"X_Object_Transient_Sysmeta_T{i}": "t" * 100 for i in range(5)})
    return headers


def test_metadata_at_the_limits_on_this_filesystem(app, tmp_path):
    """90 headers + 4 KiB of values + 1 KiB name + sysmeta overflow ext4's xattr block:
    the whole metadata must still round-trip (via the sidecar)."""
    name = "o" * 1024
    headers = _limits_headers()
    body = os.urandom(5000)
    resp = put(app, f"/sda/1/a/c/{name}", body=body, **headers)
    assert resp.status_int == 201, resp.body
    got = req(app, f"/sda/1/a/c/{name}")
    assert got.status_int == 200 and got.body == body
    for key, value in headers.items():
        assert got.headers[key.replace("_", "-")] == value
    [data] = data_files(tmp_path)
    sidecar = data + md.SIDECAR_SUFFIX
    assert os.path.exists(sidecar)  # ext4: it did not fit in xattrs
    with open(data, "rb") as handle:
        assert md.read_metadata(handle.fileno(), data)["name"] == f"/a/c/{name}"
    # a POST at the limits overflows the same way, and replaces the PUT's metadata
    post_headers = {k: v.upper() for k, v in headers.items() if "Meta_M" in k}
    resp = req(app, f"/sda/1/a/c/{name}", "POST", X_Timestamp=ts(1), **post_headers)
    assert resp.status_int == 202
    got = req(app, f"/sda/1/a/c/{name}", "HEAD")
    assert got.headers["X-Object-Meta-M00"] == headers["X_Object_Meta_M00"].upper()
    assert got.headers["X-Object-Sysmeta-S0"] == "s" * 200
    assert "X-Object-Transient-Sysmeta-T0" not in got.headers
    assert len(data_files(tmp_path, ".meta" + md.SIDECAR_SUFFIX)) == 1
    # a newer small PUT removes the old files and their sidecars
    assert put(app, f"/sda/1/a/c/{name}", timestamp=ts(2)).status_int == 201
    assert [os.path.basename(f) for f in data_files(tmp_path, "")
            if "/hashes" not in f and not f.endswith(".lock")] == [f"{ts(2)}.data"]


def test_missing_or_corrupt_sidecar_quarantines(app, tmp_path):
    headers = _limits_headers()
    put(app, **headers)
    [data] = data_files(tmp_path)
    with open(data + md.SIDECAR_SUFFIX, "r+b") as handle:
        handle.seek(30)
        handle.write(b"X")
    assert req(app, "/sda/1/a/c/o").status_int == 404
    assert any("quarantined/objects/" in f for f in files_under(tmp_path))
    put(app, timestamp=ts(1), **headers)
    [data] = data_files(tmp_path)
    os.unlink(data + md.SIDECAR_SUFFIX)
    assert req(app, "/sda/1/a/c/o").status_int == 404


# -- quarantine ----------------------------------------------------------------
def _quarantined(root):
    return [f for f in files_under(root) if f.startswith("sda/quarantined/objects/")]


def test_bitrot_detected_on_full_get_and_quarantined(app, tmp_path):
    body = os.urandom(200_000)
    put(app, body=body)
    [data] = data_files(tmp_path)
    with open(data, "r+b") as handle:
        handle.seek(150_000)
        handle.write(b"\x00" if body[150_000] else b"\x01")
    resp = req(app, "/sda/1/a/c/o", Range="bytes=0-9")
    assert resp.status_int == 206  # a range read cannot verify; the object stays
    assert not _quarantined(tmp_path)
    resp = req(app, "/sda/1/a/c/o")
    assert resp.status_int == 200 and len(resp.body) == len(body)
    quarantined = _quarantined(tmp_path)
    assert len(quarantined) == 1 and quarantined[0].endswith(f"{TS}.data")
    assert req(app, "/sda/1/a/c/o").status_int == 404
    assert data_files(tmp_path) == []


def test_size_mismatch_quarantined_at_open(app, tmp_path):
    put(app, body=b"hello world")
    [data] = data_files(tmp_path)
    os.truncate(data, 5)
    assert req(app, "/sda/1/a/c/o", "HEAD").status_int == 404
    assert len(_quarantined(tmp_path)) == 1
    assert put(app, body=b"again", timestamp=ts(1)).status_int == 201


def test_unreadable_metadata_quarantined(app, tmp_path):
    put(app)
    [data] = data_files(tmp_path)
    xattr.setxattr(data, md.XATTR_KEY, b"\xc1garbage")
    assert req(app, "/sda/1/a/c/o").status_int == 404
    put(app, timestamp=ts(1))
    [data] = data_files(tmp_path)
    xattr.removexattr(data, md.XATTR_KEY)
    assert req(app, "/sda/1/a/c/o").status_int == 404
    put(app, "/sda/1/a/c/o", timestamp=ts(2))
    [data] = data_files(tmp_path)
    with open(data, "rb") as handle:
        meta = md.read_metadata(handle.fileno(), data)
    xattr.setxattr(data, md.XATTR_KEY, md.encode({**meta, "name": "/a/c/other"}))
    assert req(app, "/sda/1/a/c/o").status_int == 404
    assert len(_quarantined(tmp_path)) == 3


# -- file sets -----------------------------------------------------------------
def test_classify_newest_wins():
    names = ["1.00000.data", "2.00000.ts", "3.00000.data", "2.50000.meta", "4.00000.meta",
             "5.00000.meta", "3.00000.data.xattr", "1.00000.data.xattr", "junk", "x.data"]
    fileset = ondisk.classify(names)
    assert fileset.data == "3.00000.data" and fileset.tombstone is None
    assert fileset.meta == "5.00000.meta"
    assert sorted(fileset.obsolete) == ["1.00000.data", "1.00000.data.xattr", "2.00000.ts",
                                        "2.50000.meta", "4.00000.meta"]
    assert fileset.timestamp == Timestamp("3")
    deleted = ondisk.classify(["1.00000.data", "2.00000.ts", "1.50000.meta"])
    assert deleted.tombstone == "2.00000.ts" and deleted.data is None and deleted.meta is None
    in_flight = ondisk.classify(["1.00000.data", "2.00000.data.xattr"])
    assert in_flight.orphans == ["2.00000.data.xattr"] and in_flight.obsolete == []


def test_cleanup_keeps_young_orphan_sidecars(tmp_path):
    """A sidecar is renamed in before its .data: a concurrent cleanup must not eat it."""
    now = time.time()
    young, old = f"{now:.5f}.data.xattr", f"{now - 7200:.5f}.meta.xattr"
    (tmp_path / young).write_bytes(b"")
    (tmp_path / old).write_bytes(b"")
    os.utime(tmp_path / old, (now - 7200,) * 2)
    assert ondisk.cleanup(str(tmp_path), 86400) == []
    assert os.listdir(tmp_path) == [young]


# -- suffix hashes / REPLICATE -------------------------------------------------
def replicate(app, path="/sda/1", **headers):
    resp = req(app, path, "REPLICATE", **headers)
    assert resp.status_int == 200, resp.body
    return msgpack.unpackb(resp.body)


def test_replicate_suffix_hashes_track_changes(app, tmp_path):
    assert replicate(app) == {}
    put(app, timestamp=str(time.time()))
    first = replicate(app)
    [(suffix, value)] = first.items()
    assert len(suffix) == 3 and len(value) == 32
    [data] = data_files(tmp_path)
    assert data.split("/")[-3] == suffix
    assert (tmp_path / "sda/objects/1/hashes.invalid").read_bytes() == b""
    assert replicate(app) == first
    req(app, "/sda/1/a/c/o", "POST", X_Timestamp=str(time.time() + 1))
    second = replicate(app)
    assert second.keys() == first.keys() and second != first
    # a change made behind the server's back shows up only when the suffix is listed
    open(os.path.join(os.path.dirname(data), Timestamp(time.time() + 10).internal + ".meta"),
         "wb").close()
    assert replicate(app) == second
    assert replicate(app, f"/sda/1/{suffix}-abc") != second
    assert replicate(app, "/sda/1", X_Backend_Storage_Policy_Index="1") == {}
    assert req(app, "/sda/x", "REPLICATE").status_int == 400
    assert req(app, "/sdq/1", "REPLICATE").status_int == 507


def test_corrupt_hashes_file_means_full_recalculation(app, tmp_path):
    put(app, timestamp=str(time.time()))
    first = replicate(app)
    (tmp_path / "sda/objects/1/hashes.msgpack").write_bytes(b"\xc1 not msgpack")
    assert replicate(app) == first
    (tmp_path / "sda/objects/1/hashes.msgpack").unlink()
    assert replicate(app) == first


def test_same_object_same_hash_on_two_devices(tmp_path):
    """Two replicas agree even if one needed a metadata sidecar and the other not."""
    suffix_hashes = []
    for i, chunk in enumerate((2048, 1 << 20)):
        root = tmp_path / f"node{i}"
        app = make_app(str(root))
        orig = md.MAX_XATTR_CHUNKS
        md.MAX_XATTR_CHUNKS = 0 if i == 0 else orig  # node0: force the sidecar
        try:
            put(app, timestamp=ts(), X_Object_Meta_A="b")
        finally:
            md.MAX_XATTR_CHUNKS = orig
        suffix_hashes.append(replicate(app))
    assert os.path.exists(data_files(tmp_path / "node0")[0] + md.SIDECAR_SUFFIX)
    assert suffix_hashes[0] == suffix_hashes[1] != {}


def test_old_tombstones_reclaimed(tmp_path):
    app = make_app(str(tmp_path), reclaim_age=3600)
    put(app, timestamp=ts())
    req(app, "/sda/1/a/c/o", "DELETE", X_Timestamp=ts(1))
    assert data_files(tmp_path, ".ts")
    assert replicate(app) == {}
    assert data_files(tmp_path, ".ts") == []
    recent = time.time()
    put(app, timestamp=str(recent))
    req(app, "/sda/1/a/c/o", "DELETE", X_Timestamp=str(recent + 1))
    assert len(replicate(app)) == 1


def test_hash_invalidation_survives_concurrent_recalculation(tmp_path):
    part = tmp_path / "objects" / "7"
    (part / "abc" / ("f" * 29 + "abc")).mkdir(parents=True)
    (part / "abc" / ("f" * 29 + "abc") / f"{time.time():.5f}.data").write_bytes(b"")
    first = hashes.get_hashes(str(part))
    assert list(first) == ["abc"]
    real = hashes.hash_suffix

    def racing(suffix_dir, reclaim_age):  # a write lands while we are hashing
        result = real(suffix_dir, reclaim_age)
        if not racing.done:
            racing.done = True
            (part / "abc" / ("e" * 29 + "abc")).mkdir()
            hashes.invalidate_hash(suffix_dir)
        return result
    racing.done = False
    hashes.hash_suffix = racing
    try:
        second = hashes.get_hashes(str(part), ["abc"])
    finally:
        hashes.hash_suffix = real
    assert second["abc"] == hashes.hash_suffix(str(part / "abc"), 86400)
    expected = hashlib.md5(("f" * 29 + "abc").encode()
                           + os.listdir(part / "abc" / ("f" * 29 + "abc"))[0].encode(),
                           usedforsecurity=False).hexdigest()
    assert first["abc"] == expected
