"""Erasure-coding policies: checked with pyeclib at load, their segment and
fragment arithmetic, and the k + m replicas their ring must have."""
from __future__ import annotations

import configparser
import os

import pytest

from objstore.common.config import ConfigError
from objstore.common.erasure import SegmentLayout
from objstore.common.policies import load_policies
from ring.errors import RingError
from ring.ring import load_ring
from tests.unit.test_ring import build

EC42 = {"name": "ec42", "policy_type": "erasure_coding", "ec_type": "liberasurecode_rs_vand",
        "ec_num_data_fragments": "4", "ec_num_parity_fragments": "2"}


def conf_with(options: dict[str, str], ring_dir: str = "/nonexistent") -> configparser.ConfigParser:
    conf = configparser.ConfigParser(interpolation=None)
    conf["objstore"] = {"hash_path_suffix": "x", "ring_dir": ring_dir}
    conf["storage-policy:0"] = {"name": "gold", "default": "yes"}
    conf["storage-policy:1"] = options
    return conf


def test_an_ec_policy_is_loaded_with_its_scheme_and_default_segment_size():
    policy = load_policies(conf_with(EC42)).get_by_index(1)
    assert policy.is_erasure_coded and policy.node_count == 6 and policy.quorum(6) == 5
    assert policy.ec_layout == SegmentLayout("liberasurecode_rs_vand", 4, 2, 1048576)
    assert policy.ec_layout.scheme == "liberasurecode_rs_vand 4+2"


@pytest.mark.parametrize("change, message", [
    ({"ec_type": "no_such_code"}, "pyeclib refuses ec_type = no_such_code"),
    ({"ec_num_data_fragments": "200", "ec_num_parity_fragments": "100"}, "pyeclib refuses"),
    ({"ec_object_segment_size": "0"}, "ec_object_segment_size must be positive"),
    ({"ec_num_parity_fragments": "0"}, "erasure coding needs"),
])
def test_a_scheme_pyeclib_cannot_do_stops_the_load(change, message):
    with pytest.raises(ConfigError) as raised:
        load_policies(conf_with({**EC42, **change}))
    assert message in str(raised.value)


@pytest.mark.parametrize("length", [0, 1, 1000, 1048576, 1048577, 3 * 1048576 + 5])
def test_archive_lengths_match_what_pyeclib_encodes(length):
    layout = SegmentLayout("liberasurecode_rs_vand", 4, 2, 1048576)
    data = os.urandom(length)
    archives = [b""] * 6
    for start in range(0, length, layout.segment_size):
        for index, fragment in enumerate(layout.driver.encode(data[start:start + 1048576])):
            archives[index] += fragment
    assert {len(a) for a in archives} == {layout.archive_length(length)}
    assert layout.segment_count(length) == -(-length // 1048576)
    if length:
        last = layout.segment_count(length) - 1
        assert layout.archive_offset(last) + layout.archive_fragment_length(last, length) \
            == layout.archive_length(length)


def test_segment_span_covers_the_bytes_asked_for():
    layout = SegmentLayout("liberasurecode_rs_vand", 4, 2, 100)
    assert layout.segment_span(0, 1) == (0, 1)
    assert layout.segment_span(99, 101) == (0, 2)
    assert layout.segment_span(100, 200) == (1, 2)
    assert layout.archive_offset(2) == 2 * layout.fragment_size


def test_an_ec_ring_needs_k_plus_m_replicas(tmp_path):
    build(replicas=3).write_ring(str(tmp_path / "object-1.ring.gz"))
    with pytest.raises(RingError) as raised:
        load_ring(conf_with(EC42, str(tmp_path)), "object", 1)
    assert "needs 6 replicas" in str(raised.value)
    build(replicas=6).write_ring(str(tmp_path / "object-1.ring.gz"))
    assert load_ring(conf_with(EC42, str(tmp_path)), "object", 1).replica_count == 6


@pytest.mark.parametrize("client, expected", [
    (None, None), ("bytes=0-0", lambda f: f"bytes=0-{f - 1}"),
    ("bytes=150-250", lambda f: f"bytes={f}-{3 * f - 1}"),
    ("bytes=100-199", lambda f: f"bytes={f}-{2 * f - 1}"),
    ("bytes=250-", lambda f: f"bytes={2 * f}-"),
    ("bytes=-30", lambda f: f"bytes=-{2 * f}"), ("bytes=-150", lambda f: f"bytes=-{3 * f}"),
    ("bytes=5-9,120-130", lambda f: f"bytes=0-{2 * f - 1}"),
    ("bytes=-5,0-1", None), ("chars=0-1", None),
])
def test_a_client_range_asks_every_archive_for_its_segments_only(client, expected):
    """Segments of 100 bytes: the archive bytes of the segments touched (a
    suffix long enough to cover them), or the whole archive."""
    from proxy.controllers.ec_reader import archive_range
    layout = SegmentLayout("liberasurecode_rs_vand", 4, 2, 100)
    want = expected(layout.fragment_size) if expected else None
    assert archive_range(client, layout) == want
