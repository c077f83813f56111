"""Tag storage and S3's tag rules (proxy/s3/tagging.py), without a cluster."""
from __future__ import annotations

import pytest

from proxy.s3 import tagging
from proxy.s3.errors import S3Error


def code(call, *args) -> str:
    with pytest.raises(S3Error) as caught:
        call(*args)
    return caught.value.code


def test_tags_round_trip_through_ascii_headers_in_order():
    tags = [("b", "x=y&z"), ("a", ""), ("ключ", "値 / @+"), ("c", "%41")] + \
        [(f"k{i}", "v") for i in range(7)]
    headers = tagging.tag_headers(tags, tagging.OBJECT_TAG_SYSMETA)
    assert all(value.isascii() and len(name) < 40 for name, value in headers.items())
    stored = [(name.title(), value) for name, value in headers.items()]  # as servers send them
    assert tagging.stored_tags(stored, tagging.OBJECT_TAG_SYSMETA) == tags
    assert tagging.tag_count(stored) == len(tags)


def test_clearing_slots_for_a_post():
    headers = tagging.tag_headers([("a", "1")], tagging.BUCKET_TAG_SYSMETA, clear_up_to=3)
    assert headers == {"x-container-sysmeta-s3-tag-0": "a=1", "x-container-sysmeta-s3-tag-1": "",
                       "x-container-sysmeta-s3-tag-2": ""}
    assert tagging.stored_tags(list(headers.items()), tagging.BUCKET_TAG_SYSMETA) == [("a", "1")]


def test_validate_follows_s3s_limits():
    assert tagging.validate([("k" * 128, "v" * 256)], 10) == [("k" * 128, "v" * 256)]
    assert tagging.validate([("é" * 128, "ü" * 256)], 10)  # characters, not bytes
    assert code(tagging.validate, [("k" * 129, "v")], 10) == "InvalidTag"
    assert code(tagging.validate, [("k", "v" * 257)], 10) == "InvalidTag"
    assert code(tagging.validate, [("", "v")], 10) == "InvalidTag"
    assert code(tagging.validate, [("a", "1"), ("a", "2")], 10) == "InvalidTag"
    assert code(tagging.validate, [("aws:x", "1")], 10) == "InvalidTag"
    assert code(tagging.validate, [("a", "semi;colon")], 10) == "InvalidTag"
    assert code(tagging.validate, [(f"k{i}", "") for i in range(11)], 10) == "BadRequest"
    assert tagging.validate([(f"k{i}", "") for i in range(50)], 50)
