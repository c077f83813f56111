"""Hostile header and query values for the per-layer fuzz tests, and the
assertion they share: a refusal is a 4xx that says why, never a 5xx.

Values are WSGI strings (one latin-1 character per byte), so invalid UTF-8,
NUL and control bytes reach the servers exactly as a raw client would send them.
"""
from __future__ import annotations

from typing import Callable

from hypothesis import HealthCheck, settings, strategies as st
from webob import Request, Response

# numbers no parser may choke on: over int()'s 4,300-digit limit, over 2**63,
# over a float's range, signed, spaced, non-ASCII digits, other bases
NUMBERS = ["9" * 5000, "1" * 20, "18446744073709551616", "-1", "-0", "+1", " 7", "7 ", "1e400",
           "1.5", "nan", "inf", "-inf", "0x10", "1_000", "\uff11\uff12".encode().decode("latin-1"),
           "\xb2", "", "0" * 30 + "1", "-" + "9" * 400, "9" * 400 + ".1234567"]
NAMES = ["..", ".", "a/b", "\x00", "caf\xc3", "\xff\xfe", "a" * 300, "a" * 5000, "%00", "/", "//"]
STRUCTURED = ["[" * 5000, "{\"a\":" * 3000, "bytes=" + "9" * 5000 + "-", "bytes=-" + "9" * 5000,
              "bytes=0-" + "9" * 5000, "bytes=" + ",".join(["0-1"] * 500), "bytes=5-1", "bytes=--",
              '"' * 300, "*", "W/\"x\"", "Mon, 99 Foo 9999 99:99:99 GMT", "\r\n", "\x7f\x01"]

hostile_text = st.one_of(
    st.sampled_from(NUMBERS + NAMES + STRUCTURED),
    st.integers(min_value=-10 ** 30, max_value=10 ** 30).map(str),
    st.text(st.characters(max_codepoint=255, exclude_characters="\r\n"), max_size=40),
)

# few examples, no deadline: the machine may be loaded and each example is a request
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_refused_or_served(resp, method: str) -> None:
    """Any status but a 5xx; a 4xx carries a reason (except to a HEAD)."""
    assert resp.status_int < 500, (resp.status, resp.body[:300])
    if resp.status_int >= 400 and method != "HEAD":
        assert resp.body.strip(), resp.status


def request(app: Callable, method: str, path: str, headers: dict[str, str] | None = None,
            body: bytes | None = None, query: str = "") -> Response:
    """``app``'s answer to a request whose path and headers are set raw (no
    quoting), as a hostile client's bytes arrive in the WSGI environ."""
    req = Request.blank("/", method=method, headers=headers or {})
    req.environ["PATH_INFO"] = path
    req.environ["QUERY_STRING"] = query
    if body is not None:
        req.body = body
    return req.get_response(app)
