"""The one RFC 7232 evaluator that the object server and the large-object middleware share."""
import pytest

from objstore.common import conditional
from objstore.common.conditional import evaluate

ETAG = "0123456789abcdef0123456789abcdef"
MODIFIED = 1700000000.2            # Last-Modified shows 22:13:21 (rounded up)
AT = "Tue, 14 Nov 2023 22:13:21 GMT"
BEFORE = "Tue, 14 Nov 2023 22:13:20 GMT"


def status(method="GET", etag=ETAG, last_modified=MODIFIED, **headers):
    environ = {"REQUEST_METHOD": method, **{"HTTP_" + k.upper(): v for k, v in headers.items()}}
    outcome = evaluate(environ, etag, last_modified)
    return outcome.status if outcome else None


@pytest.mark.parametrize("header,expected", [
    (ETAG, None), (f'"{ETAG}"', None), ("*", None), (f'"x", "{ETAG}"', None),
    ("x", 412), (f'W/"{ETAG}"', 412),           # strong comparison: a weak tag never matches
])
def test_if_match_is_strong(header, expected):
    assert status(if_match=header) == expected
    assert status("PUT", if_match=header) == expected


def test_if_match_star_needs_a_representation():
    assert status(etag=None, if_match="*") is None
    assert status(etag=None, if_match=ETAG) == 412


@pytest.mark.parametrize("header", [ETAG, f'"{ETAG}"', f'W/"{ETAG}"', "*", f'"x", W/"{ETAG}"'])
def test_if_none_match_is_weak_304_for_reads_412_otherwise(header):
    assert status("GET", if_none_match=header) == 304
    assert status("HEAD", if_none_match=header) == 304
    assert status("PUT", if_none_match=header) == 412
    assert status("DELETE", if_none_match=header) == 412


def test_if_none_match_without_a_match_proceeds():
    assert status(if_none_match='"x", W/"y"') is None


def test_if_unmodified_since():
    assert status(if_unmodified_since=BEFORE) == 412
    assert status(if_unmodified_since=AT) is None          # modified at exactly that second
    assert status(if_unmodified_since="garbage") is None   # an invalid date is ignored
    assert status(last_modified=None, if_unmodified_since=BEFORE) is None


def test_if_unmodified_since_is_checked_after_a_matching_if_match_as_swift_does():
    # RFC 7232 3.4 would ignore it; Swift's testIfMatchAndUnmodified expects 412
    assert status(if_match=ETAG, if_unmodified_since=BEFORE) == 412
    assert status(if_match=ETAG, if_unmodified_since=AT) is None


def test_if_modified_since_only_for_reads():
    assert status("GET", if_modified_since=AT) == 304
    assert status("HEAD", if_modified_since=AT) == 304
    assert status("GET", if_modified_since=BEFORE) is None
    assert status("PUT", if_modified_since=AT) is None
    assert status("DELETE", if_modified_since=AT) is None


def test_if_modified_since_ignored_when_if_none_match_is_present():
    assert status("GET", if_none_match="x", if_modified_since=AT) is None


def test_if_match_failure_wins_over_if_none_match():
    assert status("GET", if_match="x", if_none_match=ETAG) == 412


def test_header_names_and_environ_keys_name_the_same_headers():
    assert conditional.ENVIRON_KEYS == ("HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH",
                                        "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE")
    assert len(conditional.HEADERS) == len(conditional.ENVIRON_KEYS)
