"""S3 CORS rules (proxy/s3/cors_rules.py): the document, matching, storage."""
from __future__ import annotations

import pytest

from proxy.s3 import cors_rules
from proxy.s3.cors_rules import CORSRule
from proxy.s3.errors import S3Error


def doc(*rules: str) -> bytes:
    return ("<CORSConfiguration xmlns='http://s3.amazonaws.com/doc/2006-03-01/'>"
            + "".join(f"<CORSRule>{rule}</CORSRule>" for rule in rules)
            + "</CORSConfiguration>").encode()


def code(body: bytes) -> str:
    with pytest.raises(S3Error) as caught:
        cors_rules.parse_configuration(body)
    return caught.value.code


def test_wildcards():
    assert cors_rules.wildcard_match("https://*.example.com", "https://a.b.example.com")
    assert not cors_rules.wildcard_match("https://*.example.com", "https://example.com")
    assert not cors_rules.wildcard_match("a*a", "a")  # head and tail may not overlap
    assert cors_rules.wildcard_match("*", "") and cors_rules.wildcard_match("x", "x")
    assert not cors_rules.wildcard_match("x", "X")


def test_first_matching_rule_decides():
    rules = [CORSRule(("https://a.example",), ("PUT",), ("x-amz-*",)),
             CORSRule(("*",), ("GET", "PUT"))]
    assert cors_rules.matching_rule(rules, "https://a.example", "PUT", ["X-Amz-Date"]) is rules[0]
    assert cors_rules.matching_rule(rules, "https://a.example", "PUT", ["range"]) is None
    assert cors_rules.matching_rule(rules, "https://b.example", "PUT") is rules[1]
    assert cors_rules.matching_rule(rules, "https://b.example", "DELETE") is None


def test_parse_and_store_round_trip():
    rules = cors_rules.parse_configuration(doc(
        "<ID>one</ID><AllowedOrigin>https://*.x.org</AllowedOrigin><AllowedMethod>GET"
        "</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader>"
        "<MaxAgeSeconds>30</MaxAgeSeconds>",
        "<AllowedOrigin>*</AllowedOrigin><AllowedMethod>PUT</AllowedMethod>"))
    assert rules[0] == CORSRule(("https://*.x.org",), ("GET",), ("*",), ("ETag",), 30, "one")
    headers = cors_rules.storage_headers(rules)
    assert len(headers) == cors_rules.SLOTS and all(len(v) <= cors_rules.CHUNK
                                                    for v in headers.values())
    sysmeta = {name[len("x-container-sysmeta-"):]: value for name, value in headers.items()
               if value}
    assert cors_rules.stored_rules(sysmeta) == rules
    assert cors_rules.stored_rules({}) == []
    assert not any(cors_rules.storage_headers([]).values())


def test_the_largest_configuration_fits_its_slots():
    rule = ("<AllowedOrigin>https://" + "o" * 200 + "</AllowedOrigin>"
            "<AllowedMethod>GET</AllowedMethod>")
    body = doc(*[rule] * 100)
    assert len(body) < cors_rules.MAX_CONFIG_BYTES
    headers = cors_rules.storage_headers(cors_rules.parse_configuration(body))
    assert sum(len(v) for v in headers.values()) > 20000


def test_invalid_documents():
    assert code(b"<CORSConfiguration/>") == "MalformedXML"
    assert code(b"<Other><CORSRule/></Other>") == "MalformedXML"
    assert code(doc("<AllowedMethod>GET</AllowedMethod>")) == "MalformedXML"
    assert code(doc("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>get</AllowedMethod>")) \
        == "InvalidRequest"
    assert code(doc("<AllowedOrigin>**</AllowedOrigin><AllowedMethod>GET</AllowedMethod>")) \
        == "InvalidRequest"
    assert code(doc("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
                    "<MaxAgeSeconds>soon</MaxAgeSeconds>")) == "MalformedXML"
    assert code(doc(*["<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"]
                    * 101)) == "InvalidRequest"
    assert code(b"<CORSConfiguration>" + b" " * cors_rules.MAX_CONFIG_BYTES
                + b"</CORSConfiguration>") == "MaxMessageLengthExceeded"
