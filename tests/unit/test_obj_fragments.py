"""Fragment archives on an object server: Swift's names, the two-phase PUT
(non-durable, then COMMIT), what is served and what is reclaimed."""
from __future__ import annotations

import logging
import os
import time

import pytest

from objstore.common.timestamp import Timestamp
from objstore.obj import ondisk
from objstore.obj.server import app_factory
from tests.unit.obj_helpers import make_conf, put, req, ts

EC = "2"
FRAG = "X-Object-Sysmeta-Ec-Frag-Index"


@pytest.fixture
def app(tmp_path):
    conf = make_conf(str(tmp_path))
    conf["storage-policy:2"] = {"name": "ec42", "policy_type": "erasure_coding",
                                "ec_type": "liberasurecode_rs_vand",
                                "ec_num_data_fragments": "4", "ec_num_parity_fragments": "2"}
    os.makedirs(tmp_path / "sda")
    return app_factory(conf, logging.getLogger("objstore.test-fragments"))


def hash_dir_files(tmp_path):
    found = []
    for root, _, files in os.walk(tmp_path / "sda" / "objects-2"):
        found.extend(name for name in files if name.endswith(".data"))
    return sorted(found)


def put_fragment(app, index=2, timestamp=None, body=b"fragment"):
    return put(app, body=body, timestamp=timestamp, X_Backend_Storage_Policy_Index=EC,
               **{FRAG.replace("-", "_"): str(index)})


def commit(app, timestamp):
    return req(app, "/sda/1/a/c/o", "COMMIT", X_Timestamp=timestamp,
               X_Backend_Storage_Policy_Index=EC)


def get(app, method="GET"):
    return req(app, "/sda/1/a/c/o", method, X_Backend_Storage_Policy_Index=EC)


def test_fragment_names_parse():
    t = Timestamp("1700000000.00000")
    assert ondisk.file_name(t, ondisk.data_suffix(3, durable=False)) == "1700000000.00000#3.data"
    assert ondisk.file_name(t, ondisk.data_suffix(3)) == "1700000000.00000#3#d.data"
    assert ondisk.file_name(t, ondisk.data_suffix(None)) == "1700000000.00000.data"
    assert ondisk.frag_index("1700000000.00000#3#d.data") == 3
    assert ondisk.file_timestamp("1700000000.00000#3#d.data") == t
    assert not ondisk.is_durable("1700000000.00000#3.data")
    fileset = ondisk.classify(["1700000002.00000#1.data", "1700000001.00000#1#d.data",
                               "1700000000.00000#1#d.data", "1700000000.00000#x.data"])
    assert fileset.data == "1700000001.00000#1#d.data"
    assert fileset.pending == ["1700000002.00000#1.data"]
    assert fileset.obsolete == ["1700000000.00000#1#d.data"]


def test_a_put_fragment_is_not_served_until_committed(app, tmp_path):
    timestamp = ts()
    assert put_fragment(app, timestamp=timestamp).status_int == 201
    assert hash_dir_files(tmp_path) == [f"{timestamp}#2.data"]
    assert get(app).status_int == 404
    assert commit(app, timestamp).status_int == 201
    assert hash_dir_files(tmp_path) == [f"{timestamp}#2#d.data"]
    resp = get(app)
    assert resp.status_int == 200 and resp.body == b"fragment" and resp.headers[FRAG] == "2"
    assert commit(app, timestamp).status_int == 201  # a retried commit is harmless


def test_an_uncommitted_newer_put_leaves_the_older_version_served(app, tmp_path):
    old = ts()
    put_fragment(app, timestamp=old, body=b"old")
    commit(app, old)
    new = ts(1)
    put_fragment(app, timestamp=new, body=b"new")
    assert get(app).body == b"old"
    assert commit(app, new).status_int == 201
    assert get(app).body == b"new"
    assert hash_dir_files(tmp_path) == [f"{new}#2#d.data"]


def test_bad_fragment_puts_and_commits_are_refused(app):
    assert put(app, X_Backend_Storage_Policy_Index=EC).status_int == 400  # no index
    assert put_fragment(app, index=6).status_int == 400  # only 0..5 in 4+2
    resp = commit(app, ts())
    assert resp.status_int == 404 and b"No fragment archive" in resp.body
    assert req(app, "/sda/1/a/c/o", "COMMIT", X_Timestamp=ts()).status_int == 400  # not EC


def test_a_never_committed_fragment_is_reclaimed(tmp_path):
    hash_dir = tmp_path / "h"
    hash_dir.mkdir()
    old = Timestamp(time.time() - 100).internal
    (hash_dir / f"{old}#1.data").write_bytes(b"x")
    assert ondisk.cleanup(str(hash_dir), reclaim_age=1000) == [f"{old}#1.data"]
    assert ondisk.cleanup(str(hash_dir), reclaim_age=10) == []
