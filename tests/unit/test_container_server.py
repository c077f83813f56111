"""The container server in-process (webob Request.blank), with a fake account ring."""
from __future__ import annotations

import configparser
import json
import logging
import os
import urllib.parse
import xml.dom.minidom

import eventlet
import pytest
from webob import Request

from objstore.account.server import AccountServer
from objstore.container import account_update
from objstore.container.server import ContainerServer, app_factory

LOG = logging.getLogger("test-container-server")


def make_conf(tmp_path, **options) -> configparser.ConfigParser:
    devices = tmp_path / "node"
    (devices / "sda").mkdir(parents=True, exist_ok=True)
    conf = configparser.ConfigParser()
    server = {"devices": str(devices), "mount_check": "false", "account_update_interval": "0",
              "reclaim_interval": "0"}
    server.update(options)
    conf.read_dict({"objstore": {"hash_path_suffix": "test"},
                    "storage-policy:0": {"name": "gold", "default": "yes"},
                    "storage-policy:1": {"name": "silver"},
                    "container-server": server, "account-server": dict(server)})
    return conf


def call(app, path, method="GET", body=None, **headers):
    headers = {k.replace("_", "-"): v for k, v in headers.items()}
    return Request.blank(urllib.parse.quote(path, safe="/?&=%"), method=method,
                         headers=headers).get_response(app)


class FakeRing:
    def __init__(self, replicas=3):
        self.nodes = [{"ip": "10.0.0.%d" % i, "port": 6202, "device": "sda"} for i in range(replicas)]

    def get_nodes(self, account, container=None, obj=None):
        return 7, self.nodes


class Accounts:
    """Stands in for the account replicas: records what the container server sends."""

    def __init__(self, tmp_path, status=201):
        self.status = status
        self.sent = []
        self.app = AccountServer(make_conf(tmp_path), LOG)

    def __call__(self, ip, port, device, partition, account, container, headers):
        self.sent.append((ip, partition, account, container, dict(headers)))
        if self.status >= 300:
            return self.status
        call(self.app, f"/{device}/{partition}/{account}", "PUT", X_Timestamp="1")
        return call(self.app, f"/{device}/{partition}/{account}/{container}", "PUT", **headers).status_int


@pytest.fixture
def accounts(tmp_path):
    return Accounts(tmp_path)


@pytest.fixture
def server(tmp_path, accounts):
    app = ContainerServer(make_conf(tmp_path), LOG, account_ring=FakeRing(), sender=accounts)
    yield app
    app.close()


def put_container(app, ts="1.0", path="/sda/1/a/c", **headers):
    return call(app, path, "PUT", X_Timestamp=ts, **headers)


def put_object(app, name, ts="2.0", size=3, path="/sda/1/a/c", **headers):
    return call(app, f"{path}/{name}", "PUT", X_Timestamp=ts, X_Size=str(size),
                X_Content_Type="text/plain", X_Etag="d41d8", **headers)


def listing(app, query="", path="/sda/1/a/c"):
    resp = call(app, f"{path}?format=json&{query}")
    assert resp.status_int in (200, 204), resp.body
    return [e.get("subdir") or e["name"] for e in json.loads(resp.body)] if resp.body else []


# -- container DB verbs --------------------------------------------------------
def test_put_creates_then_accepts_and_checks_policy(server):
    assert put_container(server, X_Backend_Storage_Policy_Index="1").status_int == 201
    assert put_container(server, "1.1").status_int == 202                   # no policy: keep
    assert put_container(server, "1.2", X_Backend_Storage_Policy_Index="1").status_int == 202
    resp = put_container(server, "1.3", X_Backend_Storage_Policy_Index="0")
    assert resp.status_int == 409 and resp.headers["X-Backend-Storage-Policy-Index"] == "1"
    assert put_container(server, "1.4", X_Backend_Storage_Policy_Index="9").status_int == 400
    head = call(server, "/sda/1/a/c", "HEAD")
    assert head.status_int == 204
    assert head.headers["X-Backend-Storage-Policy-Index"] == "1"
    assert head.headers["X-Timestamp"] == "0000000001.00000"
    assert head.headers["X-Put-Timestamp"] == "0000000001.20000"
    assert head.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_object_records_update_stats_and_listing(server):
    put_container(server)
    for name, size in (("b", 10), ("a", 5), ("\u2603", 1)):
        assert put_object(server, name, size=size).status_int == 201
    assert put_object(server, "a", ts="1.5", size=999).status_int == 201   # older: ignored
    head = call(server, "/sda/1/a/c", "HEAD")
    assert head.headers["X-Container-Object-Count"] == "3"
    assert head.headers["X-Container-Bytes-Used"] == "16"
    resp = call(server, "/sda/1/a/c?format=json")
    assert resp.status_int == 200 and resp.content_type == "application/json"
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    assert resp.headers["X-Container-Object-Count"] == "3"
    first = json.loads(resp.body)[0]
    assert first == {"name": "a", "hash": "d41d8", "bytes": 5, "content_type": "text/plain",
                     "last_modified": "1970-01-01T00:00:02.000000"}
    assert call(server, "/sda/1/a/c/b", "DELETE", X_Timestamp="3").status_int == 204
    assert listing(server) == ["a", "\u2603"]
    assert call(server, "/sda/1/a/c", "HEAD").headers["X-Container-Bytes-Used"] == "6"


def test_listing_formats_and_negotiation(server):
    put_container(server)
    resp = call(server, "/sda/1/a/c")
    assert resp.status_int == 204 and resp.body == b""                      # empty plain
    assert call(server, "/sda/1/a/c?format=json").body == b"[]"
    put_object(server, "x/y")
    put_object(server, "z")
    plain = call(server, "/sda/1/a/c")
    assert plain.status_int == 200 and plain.body == b"x/y\nz\n"
    assert plain.headers["Content-Type"] == "text/plain; charset=utf-8"
    xml_resp = call(server, "/sda/1/a/c?delimiter=/", Accept="text/xml")
    assert xml_resp.headers["Content-Type"] == "text/xml; charset=utf-8"
    doc = xml.dom.minidom.parseString(xml_resp.body).documentElement
    assert doc.tagName == "container" and doc.getAttribute("name") == "c"
    assert [n.tagName for n in doc.childNodes] == ["subdir", "object"]
    assert call(server, "/sda/1/a/c", Accept="application/json").content_type == "application/json"
    assert call(server, "/sda/1/a/c", Accept="image/png").status_int == 406
    assert call(server, "/sda/1/a/c", Accept="garbage").status_int == 400


def test_listing_parameters(server):
    put_container(server)
    for name in ("a/1", "a/2", "a/b/3", "b", "c/1", "d"):
        put_object(server, name)
    assert listing(server, "prefix=a/") == ["a/1", "a/2", "a/b/3"]
    assert listing(server, "delimiter=/") == ["a/", "b", "c/", "d"]
    assert listing(server, "prefix=a/&delimiter=/") == ["a/1", "a/2", "a/b/"]
    assert listing(server, "marker=a/2&end_marker=c/1") == ["a/b/3", "b"]
    assert listing(server, "reverse=true&limit=2") == ["d", "c/1"]
    assert listing(server, "reverse=on&marker=c/1&end_marker=a/1") == ["b", "a/b/3", "a/2"]
    assert listing(server, "path=a") == ["a/1", "a/2"]
    assert listing(server, "limit=0") == []
    assert call(server, "/sda/1/a/c?limit=10001").status_int == 412
    # like Swift, a limit that is not a whole number is ignored; NUL in a marker is fine
    assert listing(server, "limit=-1") == listing(server, "limit=2.0") == listing(server, "")
    assert listing(server, "marker=a/2%00&end_marker=b%00") == ["a/b/3", "b"]
    assert listing(server, "reverse=on&marker=b%00&end_marker=a/b/3") == ["b"]
    assert call(server, "/sda/1/a/c?marker=%FF").status_int == 400


def test_swift_bytes_overrides_the_listed_size(server):
    put_container(server)
    call(server, "/sda/1/a/c/manifest", "PUT", X_Timestamp="2", X_Size="100",
         X_Content_Type="application/x-foo;swift_bytes=12345", X_Etag="e")
    entry = json.loads(call(server, "/sda/1/a/c?format=json").body)[0]
    assert entry["bytes"] == 12345 and entry["content_type"] == "application/x-foo"


def test_post_updates_change_type_and_last_modified_not_data(server):
    put_container(server)
    call(server, "/sda/1/a/c/o", "PUT", X_Timestamp="2", X_Size="10",
         X_Content_Type="text/plain", X_Etag="e1")
    # an object POST at 5 (data still from 2) sends the current type and its times
    call(server, "/sda/1/a/c/o", "PUT", X_Timestamp="2", X_Size="10", X_Content_Type="image/jpeg",
         X_Etag="e1", X_Content_Type_Timestamp="5", X_Meta_Timestamp="5")
    call(server, "/sda/1/a/c/o", "PUT", X_Timestamp="2", X_Size="10", X_Content_Type="text/old",
         X_Etag="e1", X_Content_Type_Timestamp="4", X_Meta_Timestamp="4")  # late, older POST
    entry = json.loads(call(server, "/sda/1/a/c?format=json").body)[0]
    assert (entry["content_type"], entry["bytes"], entry["hash"]) == ("image/jpeg", 10, "e1")
    assert entry["last_modified"] == "1970-01-01T00:00:05.000000"
    # a late update for older data changes nothing; newer data replaces size and etag
    call(server, "/sda/1/a/c/o", "PUT", X_Timestamp="1", X_Size="99", X_Content_Type="x/y", X_Etag="e0")
    assert json.loads(call(server, "/sda/1/a/c?format=json").body)[0] == entry
    call(server, "/sda/1/a/c/o", "PUT", X_Timestamp="6", X_Size="3", X_Content_Type="text/new",
         X_Etag="e2")
    entry = json.loads(call(server, "/sda/1/a/c?format=json").body)[0]
    assert (entry["content_type"], entry["bytes"], entry["hash"]) == ("text/new", 3, "e2")
    assert call(server, "/sda/1/a/c", "HEAD").headers["X-Container-Bytes-Used"] == "3"
    call(server, "/sda/1/a/c/o", "DELETE", X_Timestamp="7")
    call(server, "/sda/1/a/c/o", "PUT", X_Timestamp="6", X_Size="3", X_Content_Type="a/b",
         X_Etag="e2", X_Content_Type_Timestamp="8", X_Meta_Timestamp="8")  # POST of deleted data
    assert json.loads(call(server, "/sda/1/a/c?format=json").body) == []


def test_slo_records_list_both_etags_like_swift(server):
    put_container(server)
    call(server, "/sda/1/a/c/slo", "PUT", X_Timestamp="2", X_Size="10",
         X_Content_Type="text/plain", X_Etag="abc; slo_etag=def")
    entry = json.loads(call(server, "/sda/1/a/c?format=json").body)[0]
    assert (entry["hash"], entry["slo_etag"]) == ("abc", '"def"')
    xml_body = call(server, "/sda/1/a/c?format=xml").body
    assert b"<hash>abc</hash>" in xml_body and b"slo_etag" not in xml_body


def test_metadata_put_post_and_removal(server):
    put_container(server, X_Container_Meta_Color="blue", X_Container_Read=".r:*")
    head = call(server, "/sda/1/a/c", "HEAD")
    assert head.headers["X-Container-Meta-Color"] == "blue"
    assert head.headers["X-Container-Read"] == ".r:*"
    assert call(server, "/sda/1/a/c", "POST", X_Timestamp="2", X_Container_Meta_Color="",
                X_Container_Write="AUTH_b", X_Container_Sysmeta_Ver="1").status_int == 204
    call(server, "/sda/1/a/c", "POST", X_Timestamp="1.5", X_Container_Meta_Color="stale")
    head = call(server, "/sda/1/a/c", "HEAD")
    assert "X-Container-Meta-Color" not in head.headers
    assert head.headers["X-Container-Write"] == "AUTH_b"
    assert head.headers["X-Container-Sysmeta-Ver"] == "1"
    assert call(server, "/sda/1/a/c", "POST", X_Timestamp="3",
                X_Container_Meta_Big="x" * 257).status_int == 400
    assert call(server, "/sda/1/a/nope", "POST", X_Timestamp="3").status_int == 404


def test_total_metadata_is_limited_across_requests(server):
    put_container(server)
    for i in range(15):  # 15 * (4 + 256) = 3900 bytes
        assert call(server, "/sda/1/a/c", "POST", X_Timestamp=f"{2 + i}",
                    **{f"X_Container_Meta_{i:04d}": "k" * 256}).status_int == 204
    resp = call(server, "/sda/1/a/c", "POST", X_Timestamp="20", X_Container_Meta_K="x" * 196)
    assert resp.status_int == 400 and b"Total metadata too large" in resp.body
    assert "X-Container-Meta-K" not in call(server, "/sda/1/a/c", "HEAD").headers
    assert call(server, "/sda/1/a/c", "POST", X_Timestamp="21",
                X_Container_Meta_K="y" * 195).status_int == 204
    assert call(server, "/sda/1/a/c", "POST", X_Timestamp="22", X_Container_Meta_0000="",
                X_Container_Meta_K="z" * 196).status_int == 204  # room made in the same request


def test_post_moves_put_timestamp_like_swift(server):
    put_container(server)
    call(server, "/sda/1/a/c", "POST", X_Timestamp="5", X_Container_Meta_A="1")
    assert call(server, "/sda/1/a/c", "HEAD").headers["X-Put-Timestamp"] == "0000000005.00000"
    call(server, "/sda/1/a/c", "POST", X_Timestamp="6", X_Backend_No_Timestamp_Update="true")
    assert call(server, "/sda/1/a/c", "HEAD").headers["X-Put-Timestamp"] == "0000000005.00000"


def test_metadata_values_keep_their_utf8_bytes(server):
    wsgi_value = "caf\u00e9 \u2603".encode("utf-8").decode("latin-1")
    resp = Request.blank("/sda/1/a/c", method="PUT", headers={
        "X-Timestamp": "1", "X-Container-Meta-Name": wsgi_value}).get_response(server)
    assert resp.status_int == 201
    assert call(server, "/sda/1/a/c", "HEAD").headers["X-Container-Meta-Name"] == wsgi_value
    bad = Request.blank("/sda/1/a/c", method="POST", headers={
        "X-Timestamp": "2", "X-Container-Meta-Name": "\xff"}).get_response(server)
    assert bad.status_int == 400


def test_delete_rules(server):
    put_container(server)
    put_object(server, "o")
    assert call(server, "/sda/1/a/c", "DELETE", X_Timestamp="3").status_int == 409   # not empty
    call(server, "/sda/1/a/c/o", "DELETE", X_Timestamp="3")
    assert call(server, "/sda/1/a/c", "DELETE", X_Timestamp="0.5").status_int == 409  # older
    assert call(server, "/sda/1/a/c", "DELETE", X_Timestamp="4").status_int == 204
    head = call(server, "/sda/1/a/c", "HEAD")
    assert head.status_int == 404
    assert head.headers["X-Backend-Delete-Timestamp"] == "0000000004.00000"
    assert call(server, "/sda/1/a/c", "DELETE", X_Timestamp="5").status_int == 404
    assert put_object(server, "late").status_int == 404          # record into a deleted container
    assert put_container(server, "3.5").status_int == 409        # older than the delete
    assert put_container(server, "6", X_Backend_Storage_Policy_Index="1").status_int == 201
    assert call(server, "/sda/1/a/c", "HEAD").headers["X-Backend-Storage-Policy-Index"] == "1"


def test_records_need_a_container_unless_autocreated(server):
    assert put_object(server, "o").status_int == 404
    assert put_object(server, "o", path="/sda/1/.expiring/c").status_int == 201
    assert listing(server, path="/sda/1/.expiring/c") == ["o"]


@pytest.mark.parametrize("method, path, headers, status", [
    ("GET", "/sda/x/a/c", {}, 400),
    ("GET", "/sda/-1/a/c", {}, 400),
    ("GET", "/sda/1/a", {}, 400),
    ("GET", "/nodev/1/a/c", {}, 507),
    ("GET", "/../1/a/c", {}, 400),
    ("GET", "/sda/1/a/" + "c" * 257, {}, 400),
    ("PUT", "/sda/1/a/c/" + "o" * 1025, {"X-Timestamp": "1", "X-Size": "1"}, 400),
    ("GET", "/sda/1/a/c%FF", {}, 412),
    ("PUT", "/sda/1/a/c", {}, 400),
    ("PUT", "/sda/1/a/c", {"X-Timestamp": "yesterday"}, 400),
    ("PUT", "/sda/1/a/c/o", {"X-Timestamp": "1", "X-Size": "-3"}, 400),
    ("PUT", "/sda/1/a/c/", {"X-Timestamp": "1", "X-Size": "1"}, 400),
    ("GET", "/sda/1/a/c/o", {}, 405),
    ("COPY", "/sda/1/a/c", {}, 405),
])
def test_bad_requests_get_a_clear_4xx(server, method, path, headers, status):
    resp = Request.blank(path, method=method, headers=headers).get_response(server)
    assert resp.status_int == status
    assert resp.content_type == "text/plain" and resp.body.strip()


def raw_answer(app, path, method="GET", **headers):
    """Status line, header pairs and body exactly as the server hands them to WSGI."""
    environ = Request.blank(path, method=method, headers=headers).environ
    seen = {}

    def start_response(status, header_pairs, exc_info=None):
        seen.update(status=status, headers=header_pairs)
    body = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], body


def test_answers_keep_their_shape_on_the_common_response(server):
    """The DB servers answer with objstore.common.http's Response: a change is
    an empty text body (a 204 carries no headers at all), a refusal a text reason
    with the backend timestamps, an empty listing a 204 without a length."""
    assert raw_answer(server, "/sda/1/a/c", "PUT", X_Timestamp="1") == (
        "201 Created", [("Content-Type", "text/plain; charset=UTF-8"), ("Content-Length", "0")], b"")
    assert raw_answer(server, "/sda/1/a/c", "POST", X_Timestamp="2") == ("204 No Content", [], b"")
    status, headers, body = raw_answer(server, "/sda/1/a/c", "PATCH")
    assert (status, body) == ("405 Method Not Allowed", b"PATCH is not allowed here\n")
    assert ("Allow", "PUT, POST, DELETE, HEAD, GET") in headers
    status, headers, body = raw_answer(server, "/sda/1/a/c")
    assert (status, body) == ("204 No Content", b"")
    assert "Content-Length" not in dict(headers)
    assert dict(headers)["Content-Type"] == "text/plain; charset=utf-8"
    put_object(server, "o")
    status, headers, body = raw_answer(server, "/sda/1/a/c")
    assert (status, body) == ("200 OK", b"o\n") and dict(headers)["Content-Length"] == "2"
    call(server, "/sda/1/a/c/o", "DELETE", X_Timestamp="3")
    call(server, "/sda/1/a/c", "DELETE", X_Timestamp="4")
    status, headers, body = raw_answer(server, "/sda/1/a/c", "HEAD")
    assert (status, body) == ("404 Not Found", b"")
    assert dict(headers)["X-Backend-Delete-Timestamp"] == "0000000004.00000"
    assert dict(headers)["Content-Length"] == str(len(b"Not found\n"))


def test_mount_check(tmp_path, accounts):
    app = ContainerServer(make_conf(tmp_path, mount_check="true"), LOG, FakeRing(), accounts)
    resp = put_container(app)
    assert resp.status_int == 507 and b"not mounted" in resp.body


def test_unexpected_errors_are_500_without_traceback(server, monkeypatch, caplog):
    put_container(server)
    monkeypatch.setattr("objstore.db.broker.Broker.list_txn", lambda self, txn, params: 1 / 0)
    with caplog.at_level(logging.ERROR, logger=LOG.name):
        resp = call(server, "/sda/1/a/c")
    assert resp.status_int == 500 and resp.body == b"An error occurred\n"
    assert "ZeroDivisionError" in caplog.text


def test_reclaim_all_devices(server):
    put_container(server)
    call(server, "/sda/1/a/c/o", "DELETE", X_Timestamp="1")
    call(server, "/sda/1/a/c", "DELETE", X_Timestamp="2")
    put_container(server, path="/sda/1/a/other")
    call(server, "/sda/1/a/other/o", "DELETE", X_Timestamp="3")
    assert server.reclaim_all(now=4 + 7 * 86400) == (2, 0)    # deletion not reported yet
    server.updater.flush()
    assert server.reclaim_all(now=4 + 7 * 86400) == (0, 1)
    assert server.reclaim_all(now=4 + 7 * 86400) == (0, 0)
    assert call(server, "/sda/1/a/c", "HEAD").headers.get("X-Backend-Delete-Timestamp") is None
    assert call(server, "/sda/1/a/other", "HEAD").status_int == 204


def test_healthcheck_via_app_factory(tmp_path):
    app = app_factory(make_conf(tmp_path), LOG)
    resp = call(app, "/healthcheck")
    assert resp.status_int == 200 and resp.body == b"OK"


def test_healthcheck_drained_by_its_disable_path(tmp_path):
    drain = tmp_path / "drain"
    app = app_factory(make_conf(tmp_path, disable_path=str(drain)), LOG)
    drain.touch()
    resp = call(app, "/healthcheck")
    assert (resp.status_int, resp.body, resp.headers["Content-Type"]) == (
        503, b"DISABLED BY FILE", "text/plain")
    resp = call(app, "/healthcheck", "HEAD")
    assert (resp.status_int, resp.body, resp.headers["Content-Length"]) == (503, b"", "16")
    drain.unlink()
    assert call(app, "/healthcheck").status_int == 200


# -- account updates -----------------------------------------------------------
def test_flush_reports_stats_to_every_account_replica(server, accounts):
    put_container(server)
    put_object(server, "o1", size=7)
    put_object(server, "o2", size=8)
    assert server.updater.flush() == 1
    assert len(accounts.sent) == 3 and {s[1] for s in accounts.sent} == {7}
    headers = accounts.sent[-1][4]
    assert headers["X-Object-Count"] == "2" and headers["X-Bytes-Used"] == "15"
    assert headers["X-Put-Timestamp"] == "0000000001.00000"
    assert server.updater.flush() == 0                 # nothing dirty any more
    acct = call(accounts.app, "/sda/7/a", "HEAD")
    assert acct.headers["X-Account-Object-Count"] == "2"
    call(server, "/sda/1/a/c/o1", "DELETE", X_Timestamp="5")
    call(server, "/sda/1/a/c/o2", "DELETE", X_Timestamp="5")
    call(server, "/sda/1/a/c", "DELETE", X_Timestamp="6")
    assert server.updater.flush() == 1
    assert call(accounts.app, "/sda/7/a", "HEAD").headers["X-Account-Container-Count"] == "0"


def test_failed_account_updates_stay_dirty_and_are_retried(server, accounts, monkeypatch):
    put_container(server)
    accounts.status = 503
    assert server.updater.flush() == 0
    assert server.updater.flush() == 0 and len(accounts.sent) == 3   # backing off, not resent
    accounts.status = 201
    clock = account_update.time.monotonic() + 3600
    monkeypatch.setattr(account_update.time, "monotonic", lambda: clock)
    assert server.updater.flush() == 1
    assert call(accounts.app, "/sda/7/a?format=json").json == [
        {"name": "c", "count": 0, "bytes": 0, "last_modified": "1970-01-01T00:00:01.000000",
         "storage_policy": "gold"}]


def test_no_quorum_keeps_it_dirty(server, accounts):
    put_container(server)
    real = accounts.__call__

    def two_of_three_fail(ip, *args):
        return 503 if not ip.endswith(".0") else real(ip, *args)
    server.updater.send = two_of_three_fail
    assert server.updater.flush() == 0


def test_container_put_updates_named_account_replica_at_once(server, accounts):
    put_container(server, X_Account_Host="10.9.9.9:6202", X_Account_Partition="7",
                  X_Account_Device="sda")
    assert [(s[0], s[1]) for s in accounts.sent] == [("10.9.9.9", 7)]
    assert account_update.parse_account_hosts({"X-Account-Host": "a:1,b:2",
                                               "X-Account-Device": "d1,d2",
                                               "X-Account-Partition": "3"}) == [
        ("a", 1, "d1", 3), ("b", 2, "d2", 3)]
    assert account_update.parse_account_hosts({"X-Account-Host": "a:x",
                                               "X-Account-Device": "d",
                                               "X-Account-Partition": "3"}) == []


def test_background_flusher_reports_within_the_interval(tmp_path, accounts):
    app = ContainerServer(make_conf(tmp_path, account_update_interval="0.05"), LOG,
                          FakeRing(), accounts)
    put_container(app)
    put_object(app, "o")
    for _ in range(200):
        if any(s[4]["X-Object-Count"] == "1" for s in accounts.sent):
            break
        eventlet.sleep(0.01)
    assert any(s[4]["X-Object-Count"] == "1" for s in accounts.sent)
    app.close()


def test_no_account_ring_postpones(tmp_path, accounts, monkeypatch):
    conf = make_conf(tmp_path)
    conf["objstore"]["ring_dir"] = str(tmp_path / "no-rings")
    app = ContainerServer(conf, LOG, sender=accounts)
    put_container(app)
    assert app.updater.flush() == 0 and accounts.sent == []
    assert os.path.isdir(tmp_path / "node" / "sda" / "containers" / "lmdb")
