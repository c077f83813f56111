import configparser

import pytest

from objstore.common.config import ConfigError, hash_path_affixes
from objstore.common.checks import name_error
from objstore.common.constraints import wsgi_to_str
from objstore.common.hashing import hash_path
from objstore.common.policies import load_policies
from objstore.common.ranges import parse_range
from objstore.common.timestamp import Timestamp, parse_http_date


def test_timestamp_formats_and_order():
    ts = Timestamp("1700000000.12345")
    assert ts.normal == "1700000000.12345"
    assert ts.internal == "1700000000.12345"
    with_offset = Timestamp(ts, offset=10)
    assert with_offset.internal == "1700000000.12345_000000000000000a"
    assert Timestamp(with_offset.internal) == with_offset
    assert ts < with_offset < Timestamp("1700000000.12346")
    assert Timestamp(1700000000.123456).normal == "1700000000.12346"
    assert Timestamp("5").normal == "0000000005.00000"


@pytest.mark.parametrize("bad", ["", "abc", "-1", "1.2.3", "1_", "1_zz"])
def test_timestamp_rejects_garbage(bad):
    with pytest.raises(ValueError):
        Timestamp(bad)


def test_hash_path_uses_affixes():
    plain = hash_path("a", "c", "o")
    salted = hash_path("a", "c", "o", prefix=b"p", suffix=b"s")
    assert len(plain) == 16 and plain != salted
    with pytest.raises(ValueError):
        hash_path("a", None, "o")


def _conf(text: str) -> configparser.ConfigParser:
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(text)
    return conf


def test_hash_affixes_required():
    with pytest.raises(ConfigError):
        hash_path_affixes(_conf("[objstore]\n"))
    assert hash_path_affixes(_conf("[objstore]\nhash_path_suffix = x\n")) == (b"", b"x")


def test_policies_default_and_lookup():
    assert load_policies(_conf("")).default.name == "Policy-0"
    policies = load_policies(_conf(
        "[storage-policy:0]\nname = gold\n"
        "[storage-policy:1]\nname = ec\ndefault = yes\npolicy_type = erasure_coding\n"
        "ec_type = liberasurecode_rs_vand\nec_num_data_fragments = 4\n"
        "ec_num_parity_fragments = 2\n"))
    assert policies.default.index == 1
    assert policies.get_by_name("GOLD").index == 0
    assert policies.get_by_index("1").data_dir == "objects-1"
    assert policies.get_by_index(1).ring_name == "object-1"
    with pytest.raises(ConfigError):
        load_policies(_conf("[storage-policy:0]\nname = a\n[storage-policy:1]\nname = b\n"))


def test_names():
    assert name_error("ok", "Container", 256) is None
    assert "longer" in name_error("x" * 257, "Container", 256)
    assert name_error("a/b", "Container", 256)
    assert name_error("a/../b", "Object", 1024) is None
    assert wsgi_to_str("\xc3\xa9") == "é"
    assert wsgi_to_str("\xff") is None


@pytest.mark.parametrize("value, expected", [
    ("Tue, 14 Nov 2023 22:13:20 GMT", 1700000000.0),
    ("Tue, 14 Nov 2023 22:13:20 -0000", 1700000000.0),   # no zone: taken as UTC
    ("Tue, 14 Nov 2023 23:13:20 +0100", 1700000000.0),
    ("not a date", None), ("", None), (None, None),
])
def test_parse_http_date(value, expected):
    assert parse_http_date(value) == expected


@pytest.mark.parametrize("header", ["bytes=\xb2-5", "bytes=0-\xb9", "bytes=+1-2", "bytes=1_0-20"])
def test_range_with_a_non_ascii_digit_number_is_ignored(header):
    assert parse_range(header, 100) is None
