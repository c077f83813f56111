"""The account server in-process (webob Request.blank)."""
from __future__ import annotations

import json
import logging
import xml.dom.minidom

import pytest

from objstore.account.server import AccountServer, app_factory
from tests.unit.test_container_server import call, make_conf

LOG = logging.getLogger("test-account-server")


@pytest.fixture
def server(tmp_path):
    app = AccountServer(make_conf(tmp_path), LOG)
    yield app
    app.close()


def report(app, name, put="1", delete="0", count=0, size=0, policy=0, account="/sda/2/AUTH_a",
           **extra):
    return call(app, f"{account}/{name}", "PUT", X_Put_Timestamp=put, X_Delete_Timestamp=delete,
                X_Object_Count=str(count), X_Bytes_Used=str(size),
                X_Backend_Storage_Policy_Index=str(policy), **extra)


def test_account_put_head_and_stats(server):
    assert call(server, "/sda/2/AUTH_a", "PUT", X_Timestamp="1",
                X_Account_Meta_Quota="9").status_int == 201
    assert call(server, "/sda/2/AUTH_a", "PUT", X_Timestamp="2").status_int == 202
    assert report(server, "c1", count=3, size=30).status_int == 201
    assert report(server, "c2", count=1, size=5, policy=1).status_int == 201
    head = call(server, "/sda/2/AUTH_a", "HEAD")
    assert head.status_int == 204
    assert (head.headers["X-Account-Container-Count"], head.headers["X-Account-Object-Count"],
            head.headers["X-Account-Bytes-Used"]) == ("2", "4", "35")
    assert head.headers["X-Account-Meta-Quota"] == "9"
    assert head.headers["X-Timestamp"] == "0000000001.00000"
    assert head.headers["X-Put-Timestamp"] == "0000000002.00000"
    assert head.headers["X-Account-Storage-Policy-Gold-Object-Count"] == "3"
    assert head.headers["X-Account-Storage-Policy-Silver-Bytes-Used"] == "5"
    assert head.headers["X-Account-Storage-Policy-Silver-Container-Count"] == "1"


def test_container_records_merge(server):
    call(server, "/sda/2/AUTH_a", "PUT", X_Timestamp="1")
    report(server, "c", put="2", count=5, size=50, X_Timestamp="5")
    report(server, "c", put="2", count=1, size=1, X_Timestamp="4")      # stale replica
    assert json.loads(call(server, "/sda/2/AUTH_a?format=json").body) == [
        {"name": "c", "count": 5, "bytes": 50, "last_modified": "1970-01-01T00:00:02.000000",
         "storage_policy": "gold"}]
    assert report(server, "c", put="2", delete="6", X_Timestamp="6").status_int == 204
    assert call(server, "/sda/2/AUTH_a?format=json").body == b"[]"
    assert call(server, "/sda/2/AUTH_a", "HEAD").headers["X-Account-Container-Count"] == "0"
    assert report(server, "c", put="7").status_int == 201                 # re-created
    assert call(server, "/sda/2/AUTH_a").body == b"c\n"


def test_account_listing_formats_and_params(server):
    call(server, "/sda/2/AUTH_a", "PUT", X_Timestamp="1")
    for name in ("logs-2025", "logs-2026", "photos", "\u00e9t\u00e9"):
        report(server, name)
    assert call(server, "/sda/2/AUTH_a?prefix=logs").body == b"logs-2025\nlogs-2026\n"
    assert call(server, "/sda/2/AUTH_a?delimiter=-&limit=2").body == b"logs-\nphotos\n"
    assert call(server, "/sda/2/AUTH_a?reverse=1&limit=1").body == "\u00e9t\u00e9\n".encode()
    body = call(server, "/sda/2/AUTH_a?format=xml&delimiter=-").body
    doc = xml.dom.minidom.parseString(body).documentElement
    assert doc.tagName == "account" and doc.getAttribute("name") == "AUTH_a"
    container = doc.getElementsByTagName("container")[0]
    assert [c.tagName for c in container.childNodes] == ["name", "count", "bytes", "last_modified",
                                                          "storage_policy"]
    assert doc.getElementsByTagName("subdir")[0].getAttribute("name") == "logs-"
    assert call(server, "/sda/2/AUTH_a?limit=10001").status_int == 412


def test_account_delete_and_recently_deleted(server):
    call(server, "/sda/2/AUTH_a", "PUT", X_Timestamp="1")
    report(server, "c", count=1)
    assert call(server, "/sda/2/AUTH_a", "DELETE", X_Timestamp="2").status_int == 204
    head = call(server, "/sda/2/AUTH_a", "HEAD")
    assert head.status_int == 404 and head.headers["X-Backend-Delete-Timestamp"] == "0000000002.00000"
    assert head.headers["X-Account-Status"] == "Deleted"
    resp = call(server, "/sda/2/AUTH_a", "PUT", X_Timestamp="3")
    assert resp.status_int == 403 and b"Recently deleted" in resp.body
    assert report(server, "c2").status_int == 404
    assert call(server, "/sda/2/AUTH_a", "POST", X_Timestamp="4").status_int == 404


def test_missing_account_and_autocreate(server):
    assert report(server, "c").status_int == 404
    assert call(server, "/sda/2/AUTH_a", "HEAD").status_int == 404
    assert report(server, "c", account="/sda/2/.expiring_objects").status_int == 201
    assert call(server, "/sda/2/.expiring_objects").body == b"c\n"


@pytest.mark.parametrize("method, path, headers, status", [
    ("DELETE", "/sda/2/AUTH_a/c", {"X-Timestamp": "1"}, 405),
    ("PUT", "/sda/2/AUTH_a/c/o", {}, 400),
    ("PUT", "/sda/2/AUTH_a/c", {"X-Put-Timestamp": "never"}, 400),
    ("PUT", "/sda/2/AUTH_a/c", {"X-Object-Count": "many"}, 400),
    ("PUT", "/sda/2/" + "a" * 257, {"X-Timestamp": "1"}, 400),
    ("GET", "/sda/2", {}, 400),
])
def test_bad_requests(server, method, path, headers, status):
    resp = call(server, path, method, **{k.replace("-", "_"): v for k, v in headers.items()})
    assert resp.status_int == status and resp.body.strip()


def test_healthcheck_via_app_factory(tmp_path):
    assert call(app_factory(make_conf(tmp_path), LOG), "/healthcheck").body == b"OK"
