"""Hostile values in every header and query parameter the container and account
servers read: a 4xx with a reason (or the normal answer when the value happens
to be valid), never a 5xx, and a refused request changes no database."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from objstore.account.server import AccountServer
from objstore.common.timestamp import Timestamp
from objstore.container.server import ContainerServer
from tests.unit.hostile import FUZZ, NAMES, assert_refused_or_served, hostile_text, request
from tests.unit.test_container_server import LOG, FakeRing, make_conf

COMMON_HEADERS = ["X-Timestamp", "X-Backend-Storage-Policy-Index", "Accept", "Content-Length",
                  "X-Backend-No-Timestamp-Update", "X-Trans-Id"]
CONTAINER_HEADERS = COMMON_HEADERS + [
    "X-Size", "X-Content-Type", "X-Etag", "X-Content-Type-Timestamp", "X-Meta-Timestamp",
    "X-Container-Meta-Color", "X-Container-Sysmeta-Thing", "X-Container-Read", "X-Container-Write",
    "X-Account-Host", "X-Account-Partition", "X-Account-Device"]
ACCOUNT_HEADERS = COMMON_HEADERS + [
    "X-Put-Timestamp", "X-Delete-Timestamp", "X-Object-Count", "X-Bytes-Used",
    "X-Account-Meta-Color", "X-Account-Sysmeta-Thing", "X-Account-Meta-Temp-Url-Key"]
QUERY = ["limit", "marker", "end_marker", "prefix", "delimiter", "reverse", "path", "format"]


@pytest.fixture(scope="module")
def container_server(tmp_path_factory):
    app = ContainerServer(make_conf(tmp_path_factory.mktemp("fuzz-container")), LOG,
                          account_ring=FakeRing(), sender=lambda *args: 201)
    assert request(app, "PUT", "/sda/1/a/c", {"X-Timestamp": "1"}).status_int == 201
    assert request(app, "PUT", "/sda/1/a/c/o", {
        "X-Timestamp": "2", "X-Size": "3", "X-Content-Type": "text/plain", "X-Etag": "e"}).status_int == 201
    yield app
    app.close()


@pytest.fixture(scope="module")
def account_server(tmp_path_factory):
    app = AccountServer(make_conf(tmp_path_factory.mktemp("fuzz-account")), LOG)
    assert request(app, "PUT", "/sda/2/a", {"X-Timestamp": "1"}).status_int == 201
    yield app
    app.close()


def state(app, path: str) -> tuple:
    """What a refused request must not change: the DB's headers and full listing."""
    head = request(app, "HEAD", path)
    listing = request(app, "GET", path, query="format=json")
    headers = sorted((k, v) for k, v in head.headers.items() if k.lower() not in ("date", "x-trans-id"))
    return head.status_int, headers, listing.body


def send(app, method: str, path: str, db_path: str, headers: dict[str, str], query: str = ""):
    before = state(app, db_path)
    resp = request(app, method, path, {"X-Timestamp": Timestamp.now().internal, **headers},
                   query=query)
    assert_refused_or_served(resp, method)
    # a DELETE that finds nothing to delete is 404 and may still record its time
    if resp.status_int >= 400 and (method, resp.status_int) != ("DELETE", 404):
        assert state(app, db_path) == before
    return resp


def query_string(params: dict[str, str]) -> str:
    """Raw, unquoted: the hostile bytes are what the server must cope with."""
    return "&".join(f"{key}={value}" for key, value in params.items())


@FUZZ
@given(method=st.sampled_from(["PUT", "POST", "GET", "HEAD"]), record=st.booleans(),
       headers=st.dictionaries(st.sampled_from(CONTAINER_HEADERS), hostile_text, min_size=1, max_size=3))
def test_container_server_hostile_headers(container_server, method, record, headers):
    path = "/sda/1/a/c/o" if record and method == "PUT" else "/sda/1/a/c"
    send(container_server, method, path, "/sda/1/a/c", headers)


@FUZZ
@given(method=st.sampled_from(["PUT", "POST", "GET", "HEAD"]),
       headers=st.dictionaries(st.sampled_from(ACCOUNT_HEADERS), hostile_text, min_size=1, max_size=3),
       record=st.booleans())
def test_account_server_hostile_headers(account_server, method, headers, record):
    path = "/sda/2/a/c" if record and method == "PUT" else "/sda/2/a"
    send(account_server, method, path, "/sda/2/a", headers)


@FUZZ
@given(params=st.dictionaries(st.sampled_from(QUERY), hostile_text, min_size=1, max_size=3),
       account=st.booleans())
def test_hostile_listing_parameters(container_server, account_server, params, account):
    app, path = (account_server, "/sda/2/a") if account else (container_server, "/sda/1/a/c")
    send(app, "GET", path, path, {}, query_string(params))


@FUZZ
@given(method=st.sampled_from(["PUT", "POST", "GET", "HEAD", "DELETE"]),
       name=st.sampled_from(NAMES), part=hostile_text, where=st.integers(2, 4))
def test_hostile_paths(container_server, method, name, part, where):
    segments = ["sda", "1", "a", "c", "o"]
    segments[where] = name
    send(container_server, method, "/" + "/".join(segments), "/sda/1/a/c", {})
    send(container_server, method, f"/sda/{part}/a/c", "/sda/1/a/c", {})
