"""RingBuilder: balance, dispersion, minimal movement, min_part_hours, edge cases."""
from __future__ import annotations

import gzip
import math

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ring.builder import RingBuilder

from ring.errors import RingBuilderError

NOW = 1_800_000_000.0
HOUR = 3600.0


def make_builder(part_power=8, replicas=3, min_part_hours=1, layout=((1, 1, 3),) * 4,
                 weight=100.0, overload=0.0) -> RingBuilder:
    """``layout``: one (region, zone, devices) entry per server."""
    builder = RingBuilder(part_power, replicas, min_part_hours, overload)
    for server, (region, zone, count) in enumerate(layout):
        for disk in range(count):
            builder.add_dev({"region": region, "zone": zone + server if zone is None else zone,
                             "ip": f"10.{region}.{zone}.{server}", "port": 6200,
                             "device": f"sd{disk}", "weight": weight})
    return builder


def four_zones(**kwargs) -> RingBuilder:
    layout = [(1, zone, 3) for zone in range(4)]
    return make_builder(layout=layout, **kwargs)


def check_invariants(builder: RingBuilder) -> None:
    """Every replica assigned to a live weighted device, and never twice per partition."""
    valid = builder.valid_mask()
    table = builder.table
    assert (table[valid] >= 0).all()
    assert (table[~valid] == -1).all()
    weighted = {d["id"] for d in builder.devs if d is not None and d["weight"] > 0}
    assert set(np.unique(table[valid]).tolist()) <= weighted
    if len(weighted) >= builder.row_count:
        cells = np.where(valid, table, -1)
        for row in range(1, cells.shape[0]):
            same = (cells[:row] == cells[row][None, :]) & (cells[row] >= 0)
            assert not same.any(), "two replicas of a partition on one device"
    errors, _ = builder.validate()
    assert errors == []


def zones_per_part(builder: RingBuilder) -> np.ndarray:
    zone_of = np.array([-1 if d is None else d["region"] * 1000 + d["zone"] for d in builder.devs])
    zones = zone_of[builder.table]
    return np.array([len(set(col)) for col in zones.T])


def test_initial_rebalance_is_balanced_and_dispersed():
    builder = four_zones()
    result = builder.rebalance(seed=1, now=NOW)
    check_invariants(builder)
    assert result.parts_moved == builder.partition_count
    assert result.balance < 1.0
    assert result.dispersion == 0
    assert (zones_per_part(builder) == 3).all()


def test_weights_are_respected():
    builder = make_builder(layout=[(1, zone, 1) for zone in range(6)])
    builder.set_dev_weight(0, 200)
    builder.rebalance(seed=1, now=NOW)
    check_invariants(builder)
    counts = builder.slot_counts()
    assert counts[0] == pytest.approx(2 * counts[1], rel=0.02)
    assert builder.get_balance() < 1.0


def test_adding_a_device_moves_only_its_share():
    builder = four_zones(part_power=10)
    builder.rebalance(seed=1, now=NOW)
    before = builder.table.copy()
    builder.add_dev({"region": 1, "zone": 4, "ip": "10.1.4.9", "port": 6200, "device": "sdx",
                     "weight": 100})
    result = builder.rebalance(seed=2, now=NOW + 2 * HOUR)
    check_invariants(builder)
    share = builder.slot_count / 13
    moved = int((builder.table != before).sum())
    assert result.slots_moved == moved
    assert share * 0.95 <= moved <= share * 1.15
    assert builder.get_balance() < 2.0
    assert result.dispersion == 0


def test_a_partition_moves_at_most_one_replica_per_rebalance():
    builder = four_zones(part_power=10)
    builder.rebalance(seed=1, now=NOW)
    before = builder.table.copy()
    for dev in range(3):   # a whole server's worth of new devices in a new zone
        builder.add_dev({"region": 1, "zone": 7, "ip": "10.1.7.1", "port": 6200,
                         "device": f"sd{dev}", "weight": 100})
    builder.rebalance(seed=2, now=NOW + 2 * HOUR)
    check_invariants(builder)
    assert ((builder.table != before).sum(axis=0) <= 1).all()


def test_min_part_hours_blocks_moves_until_they_pass():
    builder = four_zones(min_part_hours=2)
    builder.rebalance(seed=1, now=NOW)
    builder.add_dev({"region": 1, "zone": 5, "ip": "10.1.5.1", "port": 6200, "device": "sdb",
                     "weight": 100})
    assert builder.rebalance(seed=2, now=NOW + HOUR).parts_moved == 0
    assert builder.min_part_seconds_left(NOW + HOUR) == pytest.approx(HOUR)
    assert builder.rebalance(seed=2, now=NOW + 2 * HOUR).parts_moved > 0
    builder.add_dev({"region": 1, "zone": 6, "ip": "10.1.6.1", "port": 6200, "device": "sdb",
                     "weight": 100})
    builder.pretend_min_part_hours_passed()
    assert builder.rebalance(seed=3, now=NOW + 2 * HOUR).parts_moved > 0
    check_invariants(builder)


def test_removing_a_device_moves_its_replicas_even_within_min_part_hours():
    builder = four_zones(min_part_hours=24)
    builder.rebalance(seed=1, now=NOW)
    on_removed = int(builder.slot_counts()[5])
    builder.remove_dev(5)
    assert 5 in builder.pending_removal
    result = builder.rebalance(seed=2, now=NOW + 1)
    assert [d["id"] for d in result.removed_devs] == [5]
    assert builder.devs[5] is None
    assert result.slots_moved == on_removed
    check_invariants(builder)
    assert result.dispersion == 0


def test_zero_weight_device_is_drained():
    builder = four_zones()
    builder.rebalance(seed=1, now=NOW)
    builder.set_dev_weight(2, 0)
    builder.rebalance(seed=2, now=NOW + 2 * HOUR)
    assert builder.slot_counts()[2] == 0
    check_invariants(builder)


def test_zero_weight_device_is_drained_when_the_rest_are_full():
    """Found by hypothesis: 2.5 replicas, four devices in one zone, one zeroed.

    The full-row partitions that lose d0 need the one device they lack, often
    already at target; the replica must still leave d0 (never go back there).
    """
    builder = RingBuilder(7, 2.5, 1)
    for server, count in enumerate((1, 3)):
        for disk in range(count):
            builder.add_dev({"region": 1, "zone": 0, "ip": f"10.0.{server}.1", "port": 6200,
                             "device": f"d{disk}", "weight": 50.0})
    builder.rebalance(seed=0, now=NOW)
    before = builder.table.copy()
    builder.set_dev_weight(0, 0)
    builder.rebalance(seed=0, now=NOW + 2 * HOUR)
    assert builder.slot_counts()[0] == 0
    check_invariants(builder)
    assert ((builder.table != before).sum(axis=0) <= 1).all()
    assert builder.get_balance() < 1.0


def test_zero_weight_device_keeps_only_what_min_part_hours_pins():
    builder = four_zones(min_part_hours=2)
    builder.rebalance(seed=1, now=NOW)
    builder.set_dev_weight(2, 0)
    assert builder.rebalance(seed=2, now=NOW + HOUR).parts_moved == 0
    assert builder.slot_counts()[2] > 0
    builder.rebalance(seed=2, now=NOW + 2 * HOUR)
    assert builder.slot_counts()[2] == 0
    check_invariants(builder)


@pytest.mark.parametrize("replicas", [1, 2, 2.5, 3, 3.25])
def test_fractional_replicas(replicas):
    builder = make_builder(replicas=replicas, layout=[(1, zone, 2) for zone in range(5)])
    builder.rebalance(seed=1, now=NOW)
    check_invariants(builder)
    whole = math.floor(replicas)
    assert builder.slot_count == whole * 256 + round((replicas - whole) * 256)
    assert builder.ring_rows()[-1].shape[0] == (256 if replicas == whole else
                                                round((replicas - whole) * 256))
    one_slot = 100.0 / (builder.slot_count / 10)   # balance granularity: one replica
    assert builder.get_balance() <= one_slot + 1e-9
    assert builder.dispersion_report()["dispersion"] == 0


def test_changing_the_replica_count():
    builder = make_builder(replicas=3, layout=[(1, zone, 2) for zone in range(5)])
    builder.rebalance(seed=1, now=NOW)
    kept = builder.table[:2].copy()
    builder.set_replicas(2.5)
    assert (builder.table[:2] == kept).all()
    builder.set_replicas(4)
    builder.rebalance(seed=2, now=NOW + 2 * HOUR)
    check_invariants(builder)
    assert (builder.table[:2] == kept).all()
    assert (zones_per_part(builder) == 4).all()


def test_tiny_rings():
    one = make_builder(replicas=1, layout=[(1, 1, 1)])
    one.rebalance(seed=1, now=NOW)
    check_invariants(one)
    same_zone = make_builder(layout=[(1, 1, 3)])
    same_zone.rebalance(seed=1, now=NOW)
    check_invariants(same_zone)
    assert same_zone.get_balance() == 0


def test_fewer_devices_than_replicas_needs_force():
    builder = make_builder(layout=[(1, 1, 2)])
    with pytest.raises(RingBuilderError, match="need at least 3 devices"):
        builder.rebalance(seed=1, now=NOW)
    builder.rebalance(seed=1, now=NOW, allow_fewer_devices=True)
    assert (builder.table >= 0).all()
    assert builder.get_balance() < 1


def test_no_weighted_devices_is_an_error():
    with pytest.raises(RingBuilderError, match="no devices"):
        RingBuilder(8, 3, 1).rebalance()


def test_overload_trades_balance_for_dispersion():
    layout = [(1, 1, 2), (1, 2, 2), (1, 3, 4)]        # zone 3 has twice the weight
    plain = make_builder(layout=layout)
    plain.rebalance(seed=1, now=NOW)
    assert plain.dispersion_report()["dispersion"] > 0
    assert plain.get_balance() < 2
    loose = make_builder(layout=layout, overload=1.0)
    loose.rebalance(seed=1, now=NOW)
    check_invariants(loose)
    assert loose.dispersion_report()["dispersion"] == 0
    assert (zones_per_part(loose) == 3).all()


def test_regions_get_replicas_before_zones():
    layout = [(1, 1, 4), (1, 2, 4), (2, 1, 2)]
    builder = make_builder(layout=layout, overload=10)
    builder.rebalance(seed=1, now=NOW)
    region_of = np.array([d["region"] for d in builder.devs])
    regions = region_of[builder.table]
    assert all(len(set(col)) == 2 for col in regions.T)


def test_seed_makes_rebalance_reproducible():
    first, second = four_zones(), four_zones()
    first.rebalance(seed=7, now=NOW)
    second.rebalance(seed=7, now=NOW)
    assert (first.table == second.table).all()


def test_save_and_load_round_trip(tmp_path):
    builder = four_zones(replicas=2.5, overload=0.1)
    builder.rebalance(seed=1, now=NOW)
    builder.remove_dev(3)
    path = str(tmp_path / "object.builder")
    builder.save(path)
    loaded = RingBuilder.load(path)
    assert loaded.devs == builder.devs
    assert loaded.pending_removal == {3}
    assert (loaded.table == builder.table).all()
    assert (loaded.last_moved == builder.last_moved).all()
    assert (loaded.replicas, loaded.overload, loaded.version) == (2.5, 0.1, builder.version)
    assert len(list((tmp_path / "backups").iterdir())) == 1


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "x.builder"
    path.write_bytes(b"not a builder")
    with pytest.raises(RingBuilderError, match="not an objstore builder"):
        RingBuilder.load(str(path))
    with pytest.raises(RingBuilderError, match="not found"):
        RingBuilder.load(str(tmp_path / "missing.builder"))


def test_duplicate_device_rejected():
    builder = four_zones()
    with pytest.raises(RingBuilderError, match="already exists"):
        builder.add_dev({"region": 1, "zone": 0, "ip": "10.1.0.0", "port": 6200, "device": "sd0",
                         "weight": 1})


def test_set_dev_info_changes_address():
    builder = four_zones()
    builder.set_dev_info(0, {"ip": "192.168.0.9", "port": 6300, "meta": "moved"})
    dev = builder.devs[0]
    assert (dev["ip"], dev["port"], dev["meta"]) == ("192.168.0.9", 6300, "moved")
    with pytest.raises(RingBuilderError, match="already exists"):
        builder.set_dev_info(1, {"ip": "192.168.0.9", "port": 6300, "device": "sd0"})


def test_removed_id_is_reused():
    builder = four_zones()
    builder.rebalance(seed=1, now=NOW)
    builder.remove_dev(4)
    builder.rebalance(seed=1, now=NOW)
    new_id = builder.add_dev({"region": 1, "zone": 9, "ip": "10.9.9.9", "port": 6200,
                              "device": "sdz", "weight": 10})
    assert new_id == 4


servers = st.tuples(st.integers(1, 2), st.integers(0, 4), st.integers(1, 3),
                    st.sampled_from([0.0, 50.0, 100.0, 100.0, 200.0]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layout=st.lists(servers, min_size=1, max_size=8),
       replicas=st.sampled_from([1, 2, 2.5, 3]), seed=st.integers(0, 1000),
       changes=st.lists(st.tuples(st.sampled_from(["add", "remove", "weight"]),
                                  st.integers(0, 50)), max_size=3))
def test_property_invariants_hold(layout, replicas, seed, changes):
    builder = RingBuilder(7, replicas, 1)
    for server, (region, zone, count, weight) in enumerate(layout):
        for disk in range(count):
            builder.add_dev({"region": region, "zone": zone, "ip": f"10.0.{server}.1",
                             "port": 6200, "device": f"d{disk}", "weight": weight})
    now = NOW
    for step in range(len(changes) + 1):
        weighted = [d for d in builder.live_devs() if d["weight"] > 0]
        if len(weighted) < builder.row_count:
            with pytest.raises(RingBuilderError):
                builder.rebalance(seed=seed, now=now)
            return
        before = builder.table.copy()
        had_parts = bool((before >= 0).any())
        removed = set(builder.pending_removal)
        builder.rebalance(seed=seed, now=now)
        check_invariants(builder)
        if had_parts and not removed:
            assert ((builder.table != before).sum(axis=0) <= 1).all()
        zones = {(d["region"], d["zone"]) for d in weighted}
        even = len({d["weight"] for d in weighted}) == 1 and len(
            {sum(1 for d in weighted if (d["region"], d["zone"]) == z) for z in zones}) == 1
        if even and len(zones) >= builder.row_count and step == 0:
            assert builder.dispersion_report()["over"]["zone"] == 0
            one_slot = 100.0 / (builder.slot_count / len(weighted))
            assert builder.get_balance() <= 2 * one_slot + 1e-9
        if step == 0 and len(zones) >= builder.row_count:
            spread = RingBuilder(7, replicas, 1, overload=100)   # dispersion wins over weight
            for dev in weighted:
                spread.add_dev({key: value for key, value in dev.items() if key != "id"})
            spread.rebalance(seed=seed, now=now)
            check_invariants(spread)
            assert spread.dispersion_report()["over"]["zone"] == 0
            zone_of = np.array([(d["region"] << 8) + d["zone"] for d in spread.devs])
            cells = np.where(spread.valid_mask(), zone_of[spread.table], -1)
            for row in range(1, cells.shape[0]):
                assert not ((cells[:row] == cells[row]) & (cells[row] >= 0)).any()
        if step == len(changes):
            break
        action, value = changes[step]
        now += 2 * HOUR
        live = builder.live_devs()
        if action == "add":
            builder.add_dev({"region": 1, "zone": value % 5, "ip": f"10.9.{value}.1",
                             "port": 6200, "device": f"n{step}", "weight": 100.0})
        elif action == "remove" and len(live) > 1:
            builder.remove_dev(live[value % len(live)]["id"])
        elif action == "weight":
            builder.set_dev_weight(live[value % len(live)]["id"], float(value))


def test_dispersion_report_counts_shared_tiers():
    one_zone = make_builder(layout=[(1, 1, 3)])
    one_zone.rebalance(seed=1, now=NOW)
    report = one_zone.dispersion_report()
    assert report["dispersion"] == 0                 # nothing wider is possible
    assert report["sharing"]["zone"] == 256          # every partition shares the zone
    assert report["sharing"]["device"] == 0
    builder = four_zones()
    builder.rebalance(seed=1, now=NOW)
    builder.table[1] = builder.table[0]              # break it: replicas 0 and 1 together
    report = builder.dispersion_report()
    assert report["over"]["device"] == 256 and report["dispersion"] == 100
    assert builder.validate()[0]


def test_raising_overload_fixes_dispersion_in_one_rebalance():
    layout = [(1, 1, 5), (1, 2, 5), (1, 3, 5), (1, 3, 5)]   # zone 3 has twice the weight
    builder = make_builder(part_power=10, layout=layout)
    builder.rebalance(seed=1, now=NOW)
    assert builder.dispersion_report()["over"]["zone"] == 512   # half the parts: forced by weight
    builder.set_overload(0.5)
    result = builder.rebalance(seed=2, now=NOW + 2 * HOUR)
    check_invariants(builder)
    assert builder.dispersion_report()["dispersion"] == 0
    assert (zones_per_part(builder) == 3).all()
    assert result.slots_moved <= 512 * 1.25      # one replica of each crowded part, plus a little


def test_corrupt_builder_file_is_a_builder_error(tmp_path):
    builder = four_zones()
    state = msgpack.unpackb(gzip.decompress(builder.to_bytes()))
    state["table"] = state["table"][:100]
    path = tmp_path / "bad.builder"
    path.write_bytes(gzip.compress(msgpack.packb(state)))
    with pytest.raises(RingBuilderError, match="corrupt builder file"):
        RingBuilder.load(str(path))


def test_adding_a_replica_keeps_balance_and_spread():
    layout = [(region, zone, 5) for region in (1, 2) for zone in range(5)]
    builder = make_builder(part_power=10, layout=layout)
    builder.rebalance(seed=1, now=NOW)
    builder.set_replicas(4)
    result = builder.rebalance(seed=2, now=NOW + 2 * HOUR)
    check_invariants(builder)
    assert result.slots_moved == 1024                  # only the new replicas
    assert builder.get_balance() < 2
    assert (zones_per_part(builder) == 4).all()


def test_dropping_a_replica_thins_every_device_alike():
    builder = four_zones(part_power=10)
    builder.rebalance(seed=1, now=NOW)
    before = builder.slot_counts()
    builder.set_replicas(2)
    after = builder.slot_counts()
    ratio = after[before > 0] / before[before > 0]
    assert ratio.min() > 0.5 and ratio.max() < 0.85    # about 2/3 each, no device emptied
