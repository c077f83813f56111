"""Listing formats and Accept negotiation (objstore.common.listing)."""
from __future__ import annotations

import json
import xml.dom.minidom

import pytest

from objstore.common import listing
from objstore.common.timestamp import Timestamp


@pytest.mark.parametrize("fmt, accept, expected", [
    (None, None, "text/plain"),
    ("json", "application/xml", "application/json"),   # format= wins over Accept
    ("XML", None, "application/xml"),
    ("plain", None, "text/plain"),
    ("bogus", None, "text/plain"),
    (None, "*/*", "text/plain"),
    (None, "application/json", "application/json"),
    (None, "application/xml", "application/xml"),
    (None, "text/xml", "text/xml"),
    (None, "text/*", "text/plain"),
    (None, "application/*", "application/json"),
    (None, "application/json;q=0.5, text/xml", "text/xml"),
    (None, "text/plain;q=0, */*;q=0.1", "application/json"),
    (None, "image/png", None),
    (None, "text/plain;q=0", None),
])
def test_negotiate(fmt, accept, expected):
    assert listing.negotiate(fmt, accept) == expected


def test_negotiate_rejects_garbage_accept():
    with pytest.raises(ValueError):
        listing.negotiate(None, "nonsense")
    with pytest.raises(ValueError):
        listing.negotiate(None, "text/plain;q=high")


ENTRIES = [{"name": "a&b", "hash": "h", "bytes": 1, "content_type": "t",
            "last_modified": "2026-01-01T00:00:00.000000"},
           {"subdir": "d\u00e9/"}]


def test_render_json():
    body = listing.render(listing.JSON, "container", "c", "object", ENTRIES)
    assert json.loads(body) == ENTRIES


def test_render_xml():
    body = listing.render(listing.XML, "container", "c<1>", "object", ENTRIES)
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    doc = xml.dom.minidom.parseString(body).documentElement
    assert doc.tagName == "container" and doc.getAttribute("name") == "c<1>"
    obj, subdir = [n for n in doc.childNodes if n.nodeType == n.ELEMENT_NODE]
    assert [c.tagName for c in obj.childNodes] == ["name", "hash", "bytes", "content_type", "last_modified"]
    assert obj.getElementsByTagName("name")[0].firstChild.data == "a&b"
    assert subdir.getAttribute("name") == "d\u00e9/"
    assert subdir.getElementsByTagName("name")[0].firstChild.data == "d\u00e9/"


def test_render_plain_and_empty():
    assert listing.render(listing.PLAIN, "container", "c", "object", ENTRIES) == "a&b\nd\u00e9/\n".encode()
    assert listing.render(listing.PLAIN, "container", "c", "object", []) == b""
    assert listing.render(listing.JSON, "container", "c", "object", []) == b"[]"
    empty_xml = listing.render(listing.XML, "account", "AUTH_a", "container", [])
    assert empty_xml.endswith(b'<account name="AUTH_a"></account>')
    assert listing.content_type_header(listing.JSON) == "application/json; charset=utf-8"


@pytest.mark.parametrize("ts", ["0", "1700000000.12345", "1700000000.5_000000000000000a", "4102444799.99999"])
def test_last_modified_matches_timestamp_isoformat(ts):
    internal = Timestamp(ts).internal
    assert listing.last_modified(internal) == Timestamp(ts).isoformat
