"""The one set of constraint checks (and messages) every layer uses."""
import pytest

from objstore.common.checks import (
    InputError, body_length, check_object_size, delete_at, device_error, if_delete_at,
    listing_limit, load_json, metadata_error, metadata_totals_error, parse_clamped_int, parse_int,
    too_large_message)
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


# -- upload framing and expiry: one rule for the proxy and the object server ----
@pytest.mark.parametrize("length, encoding, expected", [
    ("12", None, 12), ("0", None, 0), (None, "chunked", None), (None, " Chunked ", None),
    ("12", "chunked", None),  # Transfer-Encoding wins (RFC 7230 3.3.3)
])
def test_body_length(length, encoding, expected):
    assert body_length(length, encoding) == expected


@pytest.mark.parametrize("length, encoding, status, message", [
    (None, None, 411, "Missing Content-Length and not chunked"),
    ("", None, 411, "Missing Content-Length and not chunked"),
    ("12x", None, 400, "Invalid Content-Length: not a whole number"),
    ("9" * 5000, None, 400, "Invalid Content-Length: more than 19 digits"),
    ("5", "gzip", 501, "Transfer-Encoding 'gzip' is not supported"),
    (None, "gzip, chunked", 501, "Transfer-Encoding 'gzip, chunked' is not supported"),
])
def test_body_length_refusals(length, encoding, status, message):
    with pytest.raises(InputError) as err:
        body_length(length, encoding)
    assert (err.value.status, str(err.value)) == (status, message)


def test_object_size_over_the_limit_is_413():
    check_object_size(None, 10)
    check_object_size(10, 10)
    with pytest.raises(InputError) as err:
        check_object_size(11, 10)
    assert (err.value.status, str(err.value)) == (413, too_large_message(10))
    assert too_large_message(10) == "Your request is too large; max object size is 10"


NOW = 1_700_000_000.5


@pytest.mark.parametrize("at, after, sent_at, expected", [
    (None, None, NOW, None),
    ("1700000100", None, NOW, "1700000100"),
    (" 1700000100 ", None, NOW, "1700000100"),
    (None, "60", NOW, "1700000060"),
    (None, "60", NOW - 30, "1700000030"),       # counts from the request's time
    ("1700000100", "60", NOW, "1700000060"),    # X-Delete-After wins, as in Swift
    ("1" * 100, None, NOW, "9999999999"),       # clamped to ten digits
    (None, "9" * 30, NOW, "9999999999"),
])
def test_delete_at(at, after, sent_at, expected):
    assert delete_at(at, after, sent_at, NOW) == expected


@pytest.mark.parametrize("at, after, message", [
    ("soon", None, "Non-integer X-Delete-At"), ("1.5", None, "Non-integer X-Delete-At"),
    ("", None, "Non-integer X-Delete-At"), (None, "1.5", "Non-integer X-Delete-After"),
    ("0", None, "X-Delete-At in past"), ("-" + "9" * 40, None, "X-Delete-At in past"),
    ("1700000000", None, "X-Delete-At in past"), (None, "-5", "X-Delete-After in past"),
    (None, "0", "X-Delete-After in past"),
])
def test_delete_at_refusals_are_swifts_bodies(at, after, message):
    with pytest.raises(InputError) as err:
        delete_at(at, after, NOW, NOW)
    assert (err.value.status, str(err.value)) == (400, message)


def test_if_delete_at_takes_the_stored_form():
    assert if_delete_at(" 1700000100") == "1700000100"
    assert if_delete_at("00001700000100") == "1700000100"
    with pytest.raises(InputError, match="^Bad X-If-Delete-At header value$"):
        if_delete_at("soon")
