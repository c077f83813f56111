"""DBAuditor: broken container/account databases are moved aside, healthy ones
are untouched, an environment LMDB cannot read is renamed, and the pass keeps
to databases_per_second (fake clock)."""
from __future__ import annotations

import configparser
import logging
import os

import msgpack
import pytest

from objstore.db.broker import Broker
from objstore.db.schema import CONTAINERS, OBJECTS
from objstore.db.store import ListingStore
from objstore.account.server import AccountServer
from objstore.container.server import ContainerServer
from replicator.db_auditor import DBAuditor, account_auditor, container_auditor
from tests.support import FakeClock, pass_progress

LOGGER = logging.getLogger("objstore.test-db-auditor")
MAP_SIZE = 1 << 24


def make_conf(devices: str, **auditor_options) -> configparser.ConfigParser:
    conf = configparser.ConfigParser(interpolation=None)
    conf["objstore"] = {"hash_path_suffix": "unit-test"}
    for kind in ("container", "account"):
        conf[f"{kind}-server"] = {"devices": devices, "mount_check": "false",
                                  "db_map_size": str(MAP_SIZE)}
        conf[f"{kind}-auditor"] = {key: str(value) for key, value in auditor_options.items()}
    return conf


def store_dir(devices, device="sda", subdir="containers") -> str:
    return os.path.join(devices, device, subdir, "lmdb")


def fill(path: str, kind=OBJECTS, count: int = 3) -> list[Broker]:
    """``count`` databases of two records each (one live, one deleted)."""
    store = ListingStore(path, MAP_SIZE, use_tpool=False)
    brokers = []
    for index in range(count):
        broker = Broker(store, kind, f"db{index}".encode().ljust(16, b"_"), "a", f"c{index}")
        store.write(lambda txn, s: broker.create_txn(txn, "1.0", 0, index))
        if kind is OBJECTS:
            records = [dict(name="live", created_at="2.0", size=5, content_type="text/plain",
                            etag="e", deleted=False),
                       dict(name="gone", created_at="3.0", size=0, content_type="",
                            etag="", deleted=True)]
        else:
            records = [dict(name="live", put_timestamp="2.0", delete_timestamp="0",
                            object_count=1, bytes_used=5, storage_policy_index=0),
                       dict(name="gone", put_timestamp="2.0", delete_timestamp="3.0",
                            object_count=0, bytes_used=0, storage_policy_index=0)]
        broker.merge_items(records)
        brokers.append(broker)
    store.close()
    return brokers


def damage(path: str, subdb: str, key: bytes, value: bytes) -> None:
    store = ListingStore(path, MAP_SIZE, use_tpool=False)
    store.write(lambda txn, s: txn.put(key, value, db=s.db[subdb]))
    store.close()


def surviving(path: str) -> dict[bytes, dict]:
    store = ListingStore(path, MAP_SIZE, use_tpool=False)
    try:
        with store.read() as txn:
            return {key: msgpack.unpackb(value) for key, value in
                    txn.cursor(db=store.db["info"])}
    finally:
        store.close()


def quarantined(devices, device="sda", subdir="containers") -> list[str]:
    path = os.path.join(devices, device, "quarantined", subdir)
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def run(server, devices, clock=None, **options) -> dict:
    clock = clock or FakeClock()
    daemon = DBAuditor(make_conf(devices, **options), LOGGER, server, clock=clock,
                       sleep=clock.sleep)
    return daemon.run_once(pass_progress())


@pytest.mark.parametrize("subdb, key_tail, value", [
    ("info", b"", b"\xc1 not msgpack"),
    ("info", b"", msgpack.packb({"account": "a"})),                # required keys missing
    ("meta", b"", msgpack.packb([1, 2])),                           # not a mapping
    ("live", b"live", b"\x92\x01"),                                 # truncated record
    ("dead", b"gone", msgpack.packb([999, None, "3.0", 0, "", "", True, 0])),  # seq never given
])
def test_a_broken_container_database_is_moved_aside(tmp_path, subdb, key_tail, value):
    devices = str(tmp_path)
    path = store_dir(devices)
    victim, *healthy = fill(path)
    damage(path, subdb, victim.hash + key_tail, value)

    stats = run(ContainerServer, devices, databases_per_second=0)

    assert stats == {"checked": 3, "quarantined": 1, "quarantined_stores": 0}
    assert set(surviving(path)) == {broker.hash for broker in healthy}
    [copy] = quarantined(devices)
    assert copy.startswith(victim.hash.hex() + "-") and copy.endswith(".msgpack")
    with open(os.path.join(devices, "sda", "quarantined", "containers", copy), "rb") as handle:
        saved = msgpack.unpackb(handle.read())
    assert [key for key, _ in saved["parts"]] == [(0).to_bytes(4, "big") + victim.hash]
    assert len(saved["live"]) == 1 and len(saved["dead"]) == 1 and len(saved["seq"]) == 2
    # nothing of it is left in any index
    store = ListingStore(path, MAP_SIZE, use_tpool=False)
    with store.read() as txn:
        for name, db in store.db.items():
            assert not any(victim.hash in key for key, _ in txn.cursor(db=db)), name
    store.close()


def test_healthy_account_databases_are_untouched(tmp_path):
    devices = str(tmp_path)
    path = store_dir(devices, subdir="accounts")
    fill(path, CONTAINERS, count=4)
    before = surviving(path)
    assert run(AccountServer, devices, databases_per_second=0) == \
        {"checked": 4, "quarantined": 0, "quarantined_stores": 0}
    assert surviving(path) == before and quarantined(devices, subdir="accounts") == []


def test_an_unreadable_environment_is_renamed_aside(tmp_path):
    devices = str(tmp_path)
    fill(store_dir(devices, "sda"))
    fill(store_dir(devices, "sdb"))
    with open(os.path.join(store_dir(devices, "sda"), "data.mdb"), "r+b") as handle:
        handle.write(os.urandom(8192))  # both meta pages
    stats = run(ContainerServer, devices, databases_per_second=0)
    assert stats == {"checked": 3, "quarantined": 0, "quarantined_stores": 1}
    assert not os.path.exists(store_dir(devices, "sda"))
    [renamed] = quarantined(devices, "sda")
    assert renamed.startswith("lmdb-") and "data.mdb" in os.listdir(
        os.path.join(devices, "sda", "quarantined", "containers", renamed))
    assert len(surviving(store_dir(devices, "sdb"))) == 3


def test_pass_keeps_to_databases_per_second(tmp_path):
    devices = str(tmp_path)
    fill(store_dir(devices), count=11)
    clock = FakeClock()
    start = clock.now
    assert run(ContainerServer, devices, clock, databases_per_second=5)["checked"] == 11
    assert clock.now - start == pytest.approx(2.0)


def test_one_auditor_class_for_both_kinds(tmp_path):
    conf = make_conf(str(tmp_path))
    containers, accounts = container_auditor(conf, LOGGER), account_auditor(conf, LOGGER)
    assert (containers.kind, containers.store_subdir, containers.section_name) == \
        (OBJECTS, "containers", "container-auditor")
    assert (accounts.kind, accounts.store_subdir, accounts.section_name) == \
        (CONTAINERS, "accounts", "account-auditor")
