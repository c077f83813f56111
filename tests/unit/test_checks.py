"""The one set of constraint checks (and messages) every layer uses."""
import pytest

from objstore.common.checks import device_error, metadata_error, metadata_totals_error
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
