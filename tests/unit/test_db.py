"""The LMDB listing store: merge rules, counters, listings, replication, reclaim."""
from __future__ import annotations

import random
import time

import eventlet
import eventlet.event
import lmdb
import pytest

from objstore.db import keys
from objstore.db.broker import Broker
from objstore.db.maintenance import clear_dirty, databases, dirty_entries, reclaim
from objstore.db.query import ListingParams, list_rows
from objstore.db.schema import CONTAINERS, OBJECTS
from objstore.db.store import ListingStore


@pytest.fixture
def store(tmp_path):
    s = ListingStore(str(tmp_path / "lmdb"), map_size=1 << 24)
    yield s
    s.close()


def make_broker(store, name=b"c", kind=OBJECTS, ts="1.0", part=3, **kw) -> Broker:
    broker = Broker(store, kind, name.ljust(16, b"_"), "a", name.decode(), **kw)
    store.write(lambda txn, s: broker.create_txn(txn, ts, 0, part))
    return broker


def merge(broker, *records) -> int:
    def op(txn, s):
        return broker.merge_items_txn(txn, broker.info_txn(txn), records)
    return broker.store.write(op)


def obj(name, ts, size=1, deleted=False, **extra):
    return dict(name=name, created_at=ts, size=size, content_type="text/plain", etag="e",
                deleted=deleted, **extra)


def names(broker, **params):
    return [r.get("subdir") or r["name"] for r in broker.list(ListingParams(**params))]


# -- merge rules and counters --------------------------------------------------
def test_newer_wins_older_and_equal_are_ignored(store):
    b = make_broker(store)
    assert merge(b, obj("o", "2.0", size=10)) == 1
    assert merge(b, obj("o", "1.5", size=99)) == 0          # older arrives late
    assert merge(b, obj("o", "2.0", size=99)) == 0          # same timestamp
    assert b.get_record("o")["size"] == 10
    assert merge(b, obj("o", "3.0", deleted=True)) == 1     # newer delete
    assert merge(b, obj("o", "2.5", size=7)) == 0           # older put after the delete
    assert b.get_record("o")["deleted"] is True
    assert b.get_info()["stats"] == [0, 0]
    assert names(b) == []


def test_counters_follow_overwrites_and_deletes(store):
    b = make_broker(store)
    merge(b, obj("a", "1", size=5), obj("b", "1", size=7), obj("c", "1", size=11))
    assert b.get_info()["stats"] == [3, 23]
    merge(b, obj("a", "2", size=100))
    assert b.get_info()["stats"] == [3, 118]
    merge(b, obj("b", "2", deleted=True), obj("zz", "2", deleted=True))
    assert b.get_info()["stats"] == [2, 111]
    merge(b, obj("b", "3", size=1))
    assert b.get_info()["stats"] == [3, 112]


def test_account_records_merge_put_delete_and_stats_independently(store):
    b = make_broker(store, kind=CONTAINERS)

    def rec(put="0", delete="0", count=0, size=0, stats="0", policy=0):
        return dict(name="c1", put_timestamp=put, delete_timestamp=delete, object_count=count,
                    bytes_used=size, stats_timestamp=stats, storage_policy_index=policy)
    merge(b, rec(put="1", count=1, size=10, stats="1"))
    merge(b, rec(put="1", count=5, size=50, stats="3"))
    merge(b, rec(put="1", count=2, size=20, stats="2"))     # stale report: ignored
    info = b.get_info()
    assert info["stats"] == [1, 5, 50] and info["policy_stats"] == {"0": [1, 5, 50]}
    merge(b, rec(delete="4", stats="4"))                    # container deleted
    assert b.get_info()["stats"] == [0, 0, 0]
    assert names(b) == []
    assert b.get_record("c1")["put_timestamp"] == "0000000001.00000"
    merge(b, rec(put="5", stats="5", policy=1))             # re-created in another policy
    info = b.get_info()
    assert info["stats"] == [1, 0, 0]
    assert info["policy_stats"] == {"0": [0, 0, 0], "1": [1, 0, 0]}


def test_metadata_merges_per_key_by_timestamp(store):
    b = make_broker(store)
    store.write(lambda txn, s: b.merge_metadata_txn(txn, {"X-Container-Meta-A": ("1", "2.0"),
                                                          "X-Container-Meta-B": ("x", "2.0")}))
    store.write(lambda txn, s: b.merge_metadata_txn(txn, {"X-Container-Meta-A": ("old", "1.0"),
                                                          "X-Container-Meta-B": ("", "3.0")}))
    assert b.get_metadata() == {"X-Container-Meta-A": "1"}


def test_db_delete_and_recreate_timestamps(store):
    b = make_broker(store, ts="1.0")
    info = b.get_info()
    assert not b.is_deleted(info)
    store.write(lambda txn, s: b.set_timestamps_txn(txn, info, delete_timestamp="2.0"))
    info = b.get_info()
    assert b.is_deleted(info) and info["status_changed_at"] == "0000000002.00000"
    store.write(lambda txn, s: b.set_timestamps_txn(txn, info, put_timestamp="1.5"))
    assert b.is_deleted(b.get_info())                       # older PUT does not revive it
    store.write(lambda txn, s: b.set_timestamps_txn(txn, b.get_info(), put_timestamp="3.0"))
    assert not b.is_deleted(b.get_info())


# -- listings ------------------------------------------------------------------
def model_listing(all_names, limit=10000, marker="", end_marker="", prefix="", delimiter="",
                  reverse=False, path=None):
    """Swift's listing semantics, written the slow obvious way."""
    if path is not None:
        prefix, delimiter = (path.rstrip("/") + "/" if path else ""), "/"
    out = []
    for n in sorted(all_names, reverse=reverse):
        lo, hi = (end_marker, marker) if reverse else (marker, end_marker)
        if (lo and n <= lo) or (hi and n >= hi) or not n.startswith(prefix):
            continue
        if delimiter:
            i = n.find(delimiter, len(prefix))
            if i >= 0:
                sub = n[:i + len(delimiter)]
                if path is None:
                    if sub != marker and (not out or out[-1] != sub):
                        out.append(sub)
                    continue
                if len(n) > len(sub):
                    continue
        if path is not None and n == prefix:
            continue
        out.append(n)
    return out[:limit]


def _random_params(rng, pool):
    def pick():
        return rng.choice(pool)[:rng.randint(0, 4)] if rng.random() < 0.6 else ""
    params = dict(limit=rng.choice([1, 2, 3, 5, 10000]), marker=pick(), end_marker=pick(),
                  prefix=pick(), delimiter=rng.choice(["", "", "/", "é", "b/"]),
                  reverse=rng.random() < 0.5)
    if rng.random() < 0.15:
        params["path"] = rng.choice(["", "a", "a/", "é/b", "b"])
    return params


@pytest.mark.parametrize("short_max", [keys.SHORT_NAME_MAX, 3])
def test_listing_matches_model(store, monkeypatch, short_max):
    """Random queries (prefix, delimiter, markers, reverse, path, limit) against
    a model, with unicode names; short_max=3 makes most names 'long' ones."""
    monkeypatch.setattr(keys, "SHORT_NAME_MAX", short_max)
    rng = random.Random(short_max)
    alphabet = ["a", "b", "/", "é", "\u2603", "\U0001F600", "z"]
    pool = sorted({"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7)))
                   for _ in range(250)})
    b = make_broker(store)
    merge(b, *[obj(n, "1") for n in pool])
    merge(b, *[obj(n, "2", deleted=True) for n in pool[::7]])  # tombstones are not listed
    live = [n for i, n in enumerate(pool) if i % 7]
    for _ in range(400):
        params = _random_params(rng, pool)
        bparams = {k: (v.encode() if isinstance(v, str) else v) for k, v in params.items()}
        assert names(b, **bparams) == model_listing(live, **params), params


def test_listing_orders_by_utf8_bytes_and_keeps_databases_apart(store):
    b1, b2 = make_broker(store, b"c1"), make_broker(store, b"c2")
    merge(b1, *[obj(n, "1") for n in ["\u00e9", "z", "Z", "\U0001F600", "\uffff", "a"]])
    merge(b2, obj("only-in-c2", "1"))
    assert names(b1) == ["Z", "a", "z", "\u00e9", "\uffff", "\U0001F600"]
    assert names(b1, reverse=True) == ["\U0001F600", "\uffff", "\u00e9", "z", "a", "Z"]
    assert names(b2) == ["only-in-c2"]


def test_long_names_beyond_the_lmdb_key_limit(store):
    b = make_broker(store)
    base = "x" * 600
    long_names = [base + s for s in ("b", "a", "c/d", "")] + ["x" * 1024]
    merge(b, *[obj(n, "1") for n in long_names + ["x", "y"]])
    assert names(b) == sorted(long_names + ["x", "y"])
    assert names(b, marker=(base + "a").encode(), limit=2) == [base + "b", base + "c/d"]
    assert names(b, prefix=base.encode(), delimiter=b"/") == [base, base + "a", base + "b", base + "c/", "x" * 1024]
    merge(b, obj(base + "a", "2", deleted=True))
    assert b.get_record(base + "a")["deleted"] and b.get_info()["stats"][0] == 6


class CountingCursor:
    """Wraps an LMDB cursor and counts the steps a listing takes."""

    def __init__(self, cursor):
        self.cursor, self.steps = cursor, 0

    def __getattr__(self, name):
        attr = getattr(self.cursor, name)
        if name in ("next", "prev", "set_range", "last"):
            def counted(*args):
                self.steps += 1
                return attr(*args)
            return counted
        return attr


def test_delimiter_listing_seeks_past_pseudo_directories(store):
    b = make_broker(store)
    merge(b, *[obj(f"dir{d}/{i:05d}", "1") for d in range(5) for i in range(2000)])
    merge(b, obj("top", "1"))
    for reverse in (False, True):
        with store.read() as txn:
            cursor = CountingCursor(txn.cursor(db=store.db["live"]))
            rows = list_rows(cursor, b.hash, ListingParams(delimiter=b"/", reverse=reverse),
                             lambda v: b"")
        expected = [b"dir0/", b"dir1/", b"dir2/", b"dir3/", b"dir4/", b"top"]
        assert [name for name, _ in rows] == (expected[::-1] if reverse else expected)
        assert cursor.steps < 30, cursor.steps   # not 10,000


# -- replication hooks, reclaim, dirty marks ------------------------------------
def test_items_since_and_merge_items_converge_replicas(tmp_path):
    s1 = ListingStore(str(tmp_path / "n1"), map_size=1 << 24)
    s2 = ListingStore(str(tmp_path / "n2"), map_size=1 << 24)
    r1, r2 = make_broker(s1), make_broker(s2)
    merge(r1, obj("a", "1"), obj("b", "2", size=3), obj("gone", "3", deleted=True))
    merge(r2, obj("b", "1", size=100), obj("c", "5"), obj("a", "4", deleted=True))
    sent = {}
    for src, dst in ((r1, r2), (r2, r1)):
        sync = dst.get_sync(src.get_info()["id"])
        assert sync == -1
        items = src.get_items_since(sync, 1000)
        seqs = [i["seq"] for i in items]
        assert seqs == sorted(seqs) and len(set(i["name"] for i in items)) == len(items)
        dst.merge_items(items)
        sent[src.get_info()["id"]] = items[-1]["seq"]
        dst.store.write(lambda txn, st: dst.set_sync_txn(txn, src.get_info()["id"], items[-1]["seq"]))
    assert names(r1) == names(r2) == ["b", "c"]
    assert r1.get_info()["stats"] == r2.get_info()["stats"] == [2, 4]
    assert r1.get_record("a")["deleted"] and r2.get_record("gone")["deleted"]
    assert r2.get_sync(r1.get_info()["id"]) == sent[r1.get_info()["id"]] == 3
    assert r1.get_sync(r2.get_info()["id"]) == sent[r2.get_info()["id"]] == 5
    # changes feed: only what changed after a seq, each record once
    before = r1.get_info()["max_seq"]
    merge(r1, obj("b", "9", size=1))
    assert [i["name"] for i in r1.get_items_since(before, 10)] == ["b"]
    assert len(r1.get_items_since(0, 1000)) == 4
    s1.close(), s2.close()


def test_reclaim_old_tombstones_and_deleted_databases(store):
    b = make_broker(store)
    now = time.time()
    merge(b, obj("old", ago(now, 10 * 86400), deleted=True),
          obj("new", ago(now, 3600), deleted=True), obj("live", "1"))
    assert reclaim(store, OBJECTS, reclaim_age=7 * 86400, now=now) == (1, 0)
    assert b.get_record("old") is None and b.get_record("new")["deleted"]
    assert [i["name"] for i in b.get_items_since(0, 100)] == ["new", "live"]
    gone = make_broker(store, b"gone", ts=ago(now, 20 * 86400))
    info = gone.get_info()
    store.write(lambda txn, s: gone.set_timestamps_txn(txn, info,
                                                       delete_timestamp=ago(now, 9 * 86400)))
    assert reclaim(store, OBJECTS, reclaim_age=7 * 86400, now=now) == (0, 1)
    assert gone.get_info() is None
    assert [h for h, _ in databases(store)] == [b.hash]
    assert [h for h, _ in databases(store, partition=3)] == [b.hash]
    assert list(databases(store, partition=4)) == []


def test_reclaim_across_databases_in_small_batches(store):
    now = time.time()
    brokers = [make_broker(store, f"db{i}".encode()) for i in range(4)]
    for i, b in enumerate(brokers):
        merge(b, *[obj(f"old{j}", ago(now, 8 * 86400 + j), deleted=True) for j in range(i + 1)],
              obj("young", ago(now, 60), deleted=True), obj("live", "1"))
    assert reclaim(store, OBJECTS, reclaim_age=7 * 86400, now=now, batch=1) == (10, 0)
    for b in brokers:
        assert [i["name"] for i in b.get_items_since(0, 100)] == ["young", "live"]
        assert b.get_info()["stats"] == [1, 1]


def ago(now: float, seconds: float) -> str:
    return f"{now - seconds:.5f}"


def test_dirty_marks_survive_until_the_reported_version(store):
    b = make_broker(store, track_dirty=True)
    entries = dirty_entries(store)
    assert [h for h, _ in entries] == [b.hash]
    merge(b, obj("o", "2"))                         # changes after the report was read
    clear_dirty(store, entries)
    assert [h for h, _ in dirty_entries(store)] == [b.hash]
    clear_dirty(store, dirty_entries(store))
    assert dirty_entries(store) == []


# -- the store: group commit, map growth, op failures ----------------------------
def test_concurrent_writes_share_commits(store, monkeypatch):
    commits = []
    real_commit = store._commit
    monkeypatch.setattr(store, "_commit", lambda batch: (commits.append(len(batch)), real_commit(batch)))
    b = make_broker(store)
    pool = eventlet.GreenPool(50)
    list(pool.imap(lambda i: merge(b, obj(f"o{i:03d}", "1")), range(200)))
    assert b.get_info()["stats"][0] == 200
    assert sum(commits) == 201 and len(commits) < 100, commits


def test_a_failing_op_rolls_back_only_itself(store):
    b = make_broker(store)

    def bad(txn, s):
        merge_op = b.merge_items_txn(txn, b.info_txn(txn), [obj("half", "1")])
        raise ValueError(f"refused after {merge_op}")
    results = []

    def run(op):
        try:
            results.append(store.write(op))
        except ValueError as err:
            results.append(str(err))
    pool = eventlet.GreenPool()
    pool.spawn(run, bad)
    pool.spawn(run, lambda txn, s: b.merge_items_txn(txn, b.info_txn(txn), [obj("good", "1")]))
    pool.waitall()
    assert sorted(map(str, results)) == ["1", "refused after 1"]
    assert names(b) == ["good"]


@pytest.mark.parametrize("promoted", [False, True])
def test_writers_that_give_up_while_queued_do_not_stall_the_store(store, monkeypatch, promoted):
    """A queued writer killed (or timed out) before its turn, even right after
    it was promoted to leader, must not leave the others waiting forever."""
    b = make_broker(store)
    gate = eventlet.event.Event()
    real_commit = store._commit

    def gated_commit(batch):
        gate.wait()
        real_commit(batch)
    monkeypatch.setattr(store, "use_tpool", False)
    monkeypatch.setattr(store, "_commit", gated_commit)
    leader = eventlet.spawn(merge, b, obj("first", "1"))
    eventlet.sleep(0)
    quitter = eventlet.spawn(merge, b, obj("quit", "1"))
    eventlet.sleep(0)
    late = eventlet.spawn(merge, b, obj("late", "1"))
    eventlet.sleep(0)
    if promoted:                        # killed right after the leader promoted it
        real_hand_over = store._hand_over

        def hand_over_then_kill():
            real_hand_over()
            if not quitter.dead:
                quitter.kill()
        monkeypatch.setattr(store, "_hand_over", hand_over_then_kill)
    else:
        quitter.kill()
    gate.send(None)
    with eventlet.Timeout(5):
        leader.wait()
        late.wait()
    assert names(b) == ["first", "late"]
    assert store._busy is False


def test_map_grows_when_full(tmp_path):
    s = ListingStore(str(tmp_path / "small"), map_size=256 * 1024)
    b = make_broker(s)
    for chunk in range(10):
        merge(b, *[obj(f"{chunk}-{i:04d}-" + "p" * 200, "1") for i in range(300)])
    assert b.get_info()["stats"][0] == 3000
    assert s.env.info()["map_size"] > 256 * 1024
    s.close()


def test_store_reports_lmdb_errors_to_every_waiter(store, monkeypatch):
    def broken(batch):
        raise lmdb.Error("disk on fire")
    monkeypatch.setattr(store, "_commit", broken)
    with pytest.raises(lmdb.Error):
        store.write(lambda txn, s: None)
    monkeypatch.undo()
    assert store.write(lambda txn, s: 42) == 42     # the store recovers


@pytest.mark.parametrize("kind", [OBJECTS, CONTAINERS])
def test_replicas_converge_whatever_the_arrival_order(tmp_path, kind):
    """The same updates applied in different orders (and some twice) leave
    identical records and counters."""
    rng = random.Random(7)
    updates = []
    for i in range(300):
        # container reports share timestamps (ties); object timestamps are unique
        name = rng.choice("abcdef")
        ts = f"{rng.randint(1, 4)}.0" if kind is CONTAINERS else f"{rng.randint(1, 40)}.{i:05d}"
        if kind is OBJECTS:
            updates.append(obj(name, ts, size=rng.randint(0, 9), deleted=rng.random() < 0.3))
        else:
            updates.append(dict(name=name, put_timestamp=ts if rng.random() < 0.7 else "0",
                                delete_timestamp=ts if rng.random() < 0.3 else "0",
                                object_count=rng.randint(0, 9), bytes_used=rng.randint(0, 99),
                                stats_timestamp=ts, storage_policy_index=rng.randint(0, 1)))
    states = []
    for replica in range(3):
        store = ListingStore(str(tmp_path / f"r{replica}"), map_size=1 << 24)
        b = make_broker(store, kind=kind)
        order = updates + rng.sample(updates, 50)
        rng.shuffle(order)
        for start in range(0, len(order), 7):
            merge(b, *order[start:start + 7])
        records = sorted((tuple(sorted((k, v) for k, v in r.items() if k != "seq")))
                         for r in b.get_items_since(0, 1000))
        info = b.get_info()
        states.append((records, info["stats"], info.get("policy_stats")))
        store.close()
    assert states[0] == states[1] == states[2]
    assert states[0][1][0] > 0
