"""The one set of constraint checks (and messages) every layer uses."""
import pytest

from objstore.common.checks import (
    InputError, device_error, listing_limit, load_json, metadata_error, metadata_totals_error,
    parse_clamped_int, parse_int)
from objstore.common.constraints import Constraints

LIMITS = Constraints()
P = "X-Object-Meta-"


def error(items, utf8_only=False):
    return metadata_error(items, P, LIMITS, utf8_only=utf8_only)


def test_metadata_within_limits():
    assert error([("a", "b"), ("n" * 128, "v" * 256)]) is None
    assert error([(f"n{i}", "v") for i in range(90)]) is None


@pytest.mark.parametrize("items,message", [
    ([("", "v")], "Metadata name cannot be empty"),
    ([("n" * 129, "v")], f"Metadata name too long: {P}{'n' * 129}; max 128"),
    ([("n", "v" * 257)], f"Metadata value longer than 256: {P}n"),
    ([(f"n{i}", "v") for i in range(91)], "Too many metadata items; max 90"),
    ([(f"n{i}", "v" * 200) for i in range(25)], "Total metadata too large; max 4096"),
])
def test_metadata_errors(items, message):
    assert error(items) == message


def test_utf8_only_for_accounts_and_containers():
    bad = [("n", "\xff")]  # a WSGI string carrying a byte that is not UTF-8
    assert error(bad) is None
    assert error(bad, utf8_only=True) == "Metadata must be valid UTF-8"


def test_totals_alone():
    assert metadata_totals_error(90, 4096, LIMITS) is None
    assert metadata_totals_error(91, 0, LIMITS) == "Too many metadata items; max 90"
    assert metadata_totals_error(1, 4097, LIMITS) == "Total metadata too large; max 4096"


@pytest.mark.parametrize("device,partition,message", [
    ("sda", "1", None),
    ("", "1", "Invalid device name ''"), ("..", "1", "Invalid device name '..'"),
    ("a/b", "1", "Invalid device name 'a/b'"), ("a\x00", "1", "Invalid device name 'a\\x00'"),
    ("sda", "x", "Invalid partition 'x'"), ("sda", "١", "Invalid partition '١'"),
])
def test_device_error(device, partition, message):
    assert device_error(device, partition) == message


@pytest.mark.parametrize("text,kwargs,value", [
    ("0", {}, 0), ("42", {}, 42), ("9" * 18, {}, int("9" * 18)), ("-5", {"minimum": -10}, -5),
    ("0007", {}, 7),
])
def test_parse_int_accepts_bounded_whole_numbers(text, kwargs, value):
    assert parse_int(text, "n", **kwargs) == value


@pytest.mark.parametrize("text,kwargs,message", [
    (None, {}, "Missing n"), ("", {}, "not a whole number"), ("1.5", {}, "not a whole number"),
    (" 1", {}, "not a whole number"), ("+1", {}, "not a whole number"), ("1_000", {}, "not a whole number"),
    ("\u00b2", {}, "not a whole number"), ("\u0661", {}, "not a whole number"),
    ("-1", {}, "not a whole number"), ("-20", {"minimum": -10}, "less than -10"),
    ("11", {"maximum": 10}, "more than 10"), ("9" * 20, {}, "more than 19 digits"),
    ("1" * 5000, {}, "more than 19 digits"),
])
def test_parse_int_refuses_with_a_reason(text, kwargs, message):
    with pytest.raises(InputError, match=message):
        parse_int(text, "n", **kwargs)


def test_parse_clamped_int_clamps_any_length():
    assert parse_clamped_int("1" * 5000, "n", 0, 99) == 99
    assert parse_clamped_int("-" + "1" * 5000, "n", -5, 99) == -5
    assert parse_clamped_int("0" * 30 + "7", "n", 0, 99) == 7
    with pytest.raises(InputError):
        parse_clamped_int("1e5", "n", 0, 99)


def test_listing_limit_ignores_non_numbers_and_refuses_too_many():
    assert listing_limit(None, 50) == listing_limit("abc", 50) == listing_limit("-1", 50) == 50
    assert listing_limit("7", 50) == 7
    for raw in ("51", "9" * 5000):
        with pytest.raises(InputError, match="Maximum limit is 50"):
            listing_limit(raw, 50)


def test_load_json_parses_bounded_json():
    assert load_json(b'{"a": [1, -2, 1.5, "[[{{"], "b": null}', "body", 100) == \
        {"a": [1, -2, 1.5, "[[{{"], "b": None}
    assert load_json("[" * 32 + "]" * 32, "body", 100) is not None


@pytest.mark.parametrize("raw,message", [
    (b"x" * 101, "larger than 100 bytes"), (b'"\xff"', "not valid UTF-8"),
    ("[" * 33 + "]" * 33, "nests deeper than 32"), ('{"a":' * 5000, "nests deeper"),
    ("[" + "9" * 50 + "]", "more than 19 digits"), ("[1e999]", "out of range"),
    ("[NaN]", "NaN"), ("[-Infinity]", "Infinity"), ("{", "not valid JSON"),
])
def test_load_json_refuses_with_a_reason(raw, message):
    with pytest.raises(InputError, match=message):
        load_json(raw if isinstance(raw, bytes) else raw, "body", 100 if len(raw) < 200 else 10 ** 6)
