"""Ring (read side): lookups, handoffs, reload, load_ring from the config."""
from __future__ import annotations

import configparser
import gzip
import os
import struct

import numpy as np
import pytest

from objstore.common.hashing import hash_path
from ring.builder import RingBuilder
from ring.errors import RingError
from ring.ring import Ring, load_ring
from ring.ringfile import encode_ring, read_ring_file

NOW = 1_800_000_000.0


def build(part_power=8, replicas=3.0, regions=2, zones=3, servers=2, disks=2, seed=1):
    builder = RingBuilder(part_power, replicas, 1)
    for region in range(1, regions + 1):
        for zone in range(zones):
            for server in range(servers):
                for disk in range(disks):
                    builder.add_dev({"region": region, "zone": zone,
                                     "ip": f"10.{region}.{zone}.{server}", "port": 6200 + region,
                                     "device": f"sd{disk}", "weight": 100, "meta": "m"})
    builder.rebalance(seed=seed, now=NOW)
    return builder


@pytest.fixture
def ring_dir(tmp_path):
    build().write_ring(str(tmp_path / "object.ring.gz"))
    return str(tmp_path)


def test_get_nodes_matches_the_builder_table(ring_dir):
    ring = Ring(ring_dir, "object", hash_suffix=b"salt")
    builder_table = build().table
    part, nodes = ring.get_nodes("AUTH_test", "cont", "obj")
    digest = hash_path("AUTH_test", "cont", "obj", suffix=b"salt")
    assert part == struct.unpack(">I", digest[:4])[0] >> (32 - 8)
    assert [n["id"] for n in nodes] == builder_table[:, part].tolist()
    assert [n["index"] for n in nodes] == [0, 1, 2]
    assert set(nodes[0]) == {"id", "region", "zone", "ip", "port", "replication_ip",
                             "replication_port", "device", "weight", "meta", "index"}
    assert ring.get_part("AUTH_test", "cont", "obj") == part
    assert ring.replica_count == 3 and ring.partition_count == 256
    assert len(ring.devs) == 24 and ring.devs[5]["id"] == 5


def test_returned_nodes_are_copies(ring_dir):
    ring = Ring(ring_dir, "object")
    ring.get_part_nodes(3)[0]["ip"] = "changed"
    assert ring.get_part_nodes(3)[0]["ip"] != "changed"


def test_prefix_and_suffix_change_the_partition(ring_dir):
    parts = {Ring(ring_dir, "object", hash_prefix=prefix, hash_suffix=suffix).get_part("a", "c", "o")
             for prefix, suffix in ((b"", b"x"), (b"y", b""), (b"p", b"s"), (b"", b"z"))}
    assert len(parts) > 1


def test_fractional_replicas(tmp_path):
    build(replicas=2.5).write_ring(str(tmp_path / "object.ring.gz"))
    ring = Ring(str(tmp_path), "object")
    assert ring.replica_count == 2.5
    lengths = [len(ring.get_part_nodes(part)) for part in range(ring.partition_count)]
    assert lengths.count(3) == 128 and lengths.count(2) == 128


def test_handoffs_prefer_the_most_different_tiers(ring_dir):
    ring = Ring(ring_dir, "object")
    for part in (0, 17, 255):
        primaries = ring.get_part_nodes(part)
        handoffs = list(ring.get_more_nodes(part))
        assert len(handoffs) == len(ring.devs) - 3
        assert not {h["id"] for h in handoffs} & {p["id"] for p in primaries}
        assert [h["handoff_index"] for h in handoffs] == list(range(3, len(ring.devs)))
        used_zones = {(p["region"], p["zone"]) for p in primaries}
        zones_left = {(d["region"], d["zone"]) for d in ring.devs} - used_zones
        # first one device in each zone not used by the primaries, then servers, then the rest
        first = handoffs[:len(zones_left)]
        assert {(h["region"], h["zone"]) for h in first} == zones_left
        servers_left = {(d["region"], d["zone"], d["ip"]) for d in ring.devs} - \
            {(n["region"], n["zone"], n["ip"]) for n in primaries + first}
        second = handoffs[len(zones_left):len(zones_left) + len(servers_left)]
        assert {(h["region"], h["zone"], h["ip"]) for h in second} == servers_left
        # stable: the same order every time
        assert [h["id"] for h in ring.get_more_nodes(part)] == [h["id"] for h in handoffs]


def test_handoffs_go_to_another_region_first(tmp_path):
    builder = RingBuilder(6, 2, 1)
    for region, count in ((1, 6), (2, 1)):
        for disk in range(count):
            builder.add_dev({"region": region, "zone": 1, "ip": f"10.0.{region}.{disk}",
                             "port": 6200, "device": "sdb", "weight": 100})
    builder.rebalance(seed=3, now=NOW)
    builder.write_ring(str(tmp_path / "account.ring.gz"))
    ring = Ring(str(tmp_path), "account")
    for part in range(ring.partition_count):
        regions = {n["region"] for n in ring.get_part_nodes(part)}
        if regions == {1}:
            assert next(ring.get_more_nodes(part))["region"] == 2


def test_handoffs_skip_zero_weight_devices(tmp_path):
    builder = build()
    builder.set_dev_weight(0, 0)
    builder.write_ring(str(tmp_path / "object.ring.gz"))
    ring = Ring(str(tmp_path), "object")
    assert all(h["id"] != 0 for h in ring.get_more_nodes(9))


def test_ring_reloads_when_the_file_changes(tmp_path):
    path = str(tmp_path / "object.ring.gz")
    builder = build()
    builder.write_ring(path)
    ring = Ring(str(tmp_path), "object", reload_time=0)
    assert ring.devs[3]["ip"] == "10.1.0.1"
    builder.set_dev_info(3, {"ip": "192.168.7.7"})
    builder.write_ring(path)
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse clocks
    assert ring.devs[3]["ip"] == "192.168.7.7"
    assert ring.version == builder.version


def test_ring_does_not_reload_before_reload_time(tmp_path):
    path = str(tmp_path / "object.ring.gz")
    builder = build()
    builder.write_ring(path)
    ring = Ring(str(tmp_path), "object", reload_time=3600)
    builder.set_dev_info(3, {"ip": "192.168.7.7"})
    builder.write_ring(path)
    os.utime(path, ns=(1, 1))
    assert ring.devs[3]["ip"] == "10.1.0.1"
    ring.reload()
    assert ring.devs[3]["ip"] == "192.168.7.7"


def test_broken_new_file_keeps_the_old_ring(tmp_path):
    path = tmp_path / "object.ring.gz"
    build().write_ring(str(path))
    ring = Ring(str(tmp_path), "object", reload_time=0)
    path.write_bytes(b"garbage")
    assert len(ring.get_part_nodes(1)) == 3


def test_missing_or_corrupt_ring_file(tmp_path):
    with pytest.raises(RingError, match="not found"):
        Ring(str(tmp_path), "object")
    (tmp_path / "object.ring.gz").write_bytes(b"garbage")
    with pytest.raises(RingError):
        Ring(str(tmp_path), "object")


def test_ring_file_is_compact(tmp_path):
    builder = build(part_power=12)
    path = str(tmp_path / "object.ring.gz")
    builder.write_ring(path)
    data = read_ring_file(path)
    assert [row.typecode for row in data.rows] == ["H"] * 3
    assert os.path.getsize(path) < 3 * 4096 * 2 + 4096
    assert os.listdir(tmp_path / "backups")


def test_duplicate_devices_are_listed_once(tmp_path):
    builder = RingBuilder(4, 3, 1)
    builder.add_dev({"region": 1, "zone": 1, "ip": "127.0.0.1", "port": 6200, "device": "sdb",
                     "weight": 1})
    builder.rebalance(seed=1, now=NOW, allow_fewer_devices=True)
    builder.write_ring(str(tmp_path / "object.ring.gz"))
    ring = Ring(str(tmp_path), "object")
    assert [n["id"] for n in ring.get_part_nodes(0)] == [0]
    assert ring.get_part_nodes(0)[0]["index"] == 0


def _conf(ring_dir: str) -> configparser.ConfigParser:
    conf = configparser.ConfigParser()
    conf.read_dict({"objstore": {"hash_path_suffix": "salt", "ring_dir": ring_dir},
                    "storage-policy:0": {"name": "gold", "default": "yes"},
                    "storage-policy:1": {"name": "silver"}})
    return conf


def test_load_ring_picks_the_file_per_kind_and_policy(tmp_path):
    for name in ("account", "container", "object", "object-1"):
        build(seed=len(name)).write_ring(str(tmp_path / f"{name}.ring.gz"))
    conf = _conf(str(tmp_path))
    assert load_ring(conf, "account").path.endswith("/account.ring.gz")
    assert load_ring(conf, "container").path.endswith("/container.ring.gz")
    assert load_ring(conf, "object").path.endswith("/object.ring.gz")
    ring = load_ring(conf, "object", 1)
    assert ring.path.endswith("/object-1.ring.gz")
    assert ring.hash_suffix == b"salt"
    direct = Ring(str(tmp_path), "object-1", hash_suffix=b"salt")
    assert ring.get_nodes("a", "c", "o") == direct.get_nodes("a", "c", "o")
    with pytest.raises(Exception, match="no storage policy"):
        load_ring(conf, "object", 7)
    with pytest.raises(ValueError):
        load_ring(conf, "bogus")


def test_first_handoffs_follow_weight(tmp_path):
    builder = RingBuilder(10, 1, 1)
    for disk in range(10):
        builder.add_dev({"region": 1, "zone": 1, "ip": "10.0.0.1", "port": 6200,
                         "device": f"sd{disk}", "weight": 400 if disk == 0 else 100})
    builder.rebalance(seed=1, now=NOW)
    builder.write_ring(str(tmp_path / "object.ring.gz"))
    ring = Ring(str(tmp_path), "object")
    firsts = [next(ring.get_more_nodes(part))["id"] for part in range(ring.partition_count)
              if ring.get_part_nodes(part)[0]["id"] != 0]
    heavy = firsts.count(0) / len(firsts)
    light = firsts.count(5) / len(firsts)
    assert heavy > 2.5 * light


def test_ring_file_with_bad_devices_is_a_ring_error(tmp_path):
    blob = encode_ring(2, 1, [{"id": 0, "ip": "127.0.0.1"}], [np.zeros(4, dtype=np.int64)], 1)
    (tmp_path / "object.ring.gz").write_bytes(gzip.compress(blob))
    with pytest.raises(RingError, match="corrupt"):
        Ring(str(tmp_path), "object")
    blob = encode_ring(2, 1, [None], [np.zeros(4, dtype=np.int64)], 1)
    (tmp_path / "object.ring.gz").write_bytes(gzip.compress(blob))
    with pytest.raises(RingError, match="unknown device"):
        Ring(str(tmp_path), "object")
