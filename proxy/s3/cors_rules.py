"""A bucket's CORS configuration: the ``CORSConfiguration`` document, its rules, how a
request is matched against them, and how they are stored.

S3's rules are richer than the Swift API's container CORS (``proxy/cors.py``: one
origin list for every method): each rule has its own origins (one ``*`` wildcard
each), methods, allowed request headers (wildcards too), exposed headers and max
age, and the first rule matching origin, method and headers decides.  The rules
are stored as compact JSON split over container sysmeta headers
(``X-Container-Sysmeta-S3-Cors-<n>``), each well under the 8 KiB header line; a
write sets every slot (empty ones are removed), so two writes never mix.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Mapping

from proxy.s3.errors import S3Error
from proxy.s3.xmlio import XMLError, element, parse

MAX_RULES = 100
MAX_CONFIG_BYTES = 64 * 1024          # S3's limit on the document
METHODS = ("GET", "PUT", "HEAD", "POST", "DELETE")
SYSMETA_PREFIX = "x-container-sysmeta-s3-cors-"
CHUNK = 4000
SLOTS = 24                            # CHUNK * SLOTS holds the JSON of any 64 KiB document


@dataclass(frozen=True)
class CORSRule:
    origins: tuple[str, ...]
    methods: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    rule_id: str | None = None

    def allows(self, origin: str, method: str, request_headers: list[str]) -> bool:
        """Whether this rule lets ``origin`` send ``method`` with ``request_headers``."""
        return (method in self.methods
                and any(wildcard_match(pattern, origin) for pattern in self.origins)
                and all(any(wildcard_match(pattern.lower(), header.lower())
                            for pattern in self.allowed_headers)
                        for header in request_headers))

    def allow_origin(self, origin: str) -> str:
        """``Access-Control-Allow-Origin``: ``*`` for a rule open to every origin."""
        return "*" if "*" in self.origins else origin


def wildcard_match(pattern: str, text: str) -> bool:
    """``pattern`` with at most one ``*`` (any run of characters) matches ``text``."""
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == text
    return len(text) >= len(head) + len(tail) and text.startswith(head) and text.endswith(tail)


def matching_rule(rules: list[CORSRule], origin: str, method: str,
                  request_headers: list[str] = ()) -> CORSRule | None:  # type: ignore[assignment]
    return next((rule for rule in rules if rule.allows(origin, method, list(request_headers))),
                None)


# ---- the document -----------------------------------------------------------------------

def _texts(node, tag: str) -> tuple[str, ...]:
    return tuple((child.text or "").strip() for child in node.findall(tag))


def _one_wildcard(values: tuple[str, ...], what: str) -> None:
    for value in values:
        if value.count("*") > 1:
            raise S3Error("InvalidRequest", f'{what} "{value}" can not have more than one '
                                            f'wildcard.')


def parse_configuration(body: bytes) -> list[CORSRule]:
    """The rules of a PutBucketCors body, or the S3 error saying what is wrong."""
    if len(body) > MAX_CONFIG_BYTES:
        raise S3Error("MaxMessageLengthExceeded", f"The CORS configuration is over "
                                                  f"{MAX_CONFIG_BYTES} bytes")
    try:
        root = parse(body)
    except XMLError:
        raise S3Error("MalformedXML") from None
    nodes = root.findall("CORSRule")
    if root.tag != "CORSConfiguration" or not nodes:
        raise S3Error("MalformedXML")
    if len(nodes) > MAX_RULES:
        raise S3Error("InvalidRequest", f"The number of CORS rules should not exceed allowed "
                                        f"limit of {MAX_RULES} rules.")
    rules = []
    for node in nodes:
        origins, methods = _texts(node, "AllowedOrigin"), _texts(node, "AllowedMethod")
        if not origins or not methods:
            raise S3Error("MalformedXML", "Each CORSRule needs an AllowedOrigin and an "
                                          "AllowedMethod")
        for method in methods:
            if method not in METHODS:
                raise S3Error("InvalidRequest", f"Found unsupported HTTP method in CORS "
                                                f"config. Unsupported method is {method}")
        allowed = _texts(node, "AllowedHeader")
        _one_wildcard(origins, "AllowedOrigin")
        _one_wildcard(allowed, "AllowedHeader")
        max_age = node.findtext("MaxAgeSeconds")
        if max_age is not None and not max_age.strip().isdigit():
            raise S3Error("MalformedXML", "MaxAgeSeconds must be a whole number")
        rule_id = node.findtext("ID")
        if rule_id is not None and len(rule_id) > 255:
            raise S3Error("InvalidArgument", "A rule ID is at most 255 characters")
        rules.append(CORSRule(origins, methods, allowed, _texts(node, "ExposeHeader"),
                              int(max_age) if max_age is not None else None, rule_id))
    return rules


def configuration_element(rules: list[CORSRule]):
    """The ``CORSConfiguration`` element GetBucketCors answers with."""
    def rule_element(rule: CORSRule):
        children = [element("ID", rule.rule_id)] if rule.rule_id is not None else []
        children += [element("AllowedHeader", h) for h in rule.allowed_headers]
        children += [element("AllowedMethod", m) for m in rule.methods]
        children += [element("AllowedOrigin", o) for o in rule.origins]
        children += [element("ExposeHeader", h) for h in rule.expose_headers]
        if rule.max_age is not None:
            children.append(element("MaxAgeSeconds", rule.max_age))
        return element("CORSRule", children)
    return element("CORSConfiguration", [rule_element(rule) for rule in rules])


# ---- storage ----------------------------------------------------------------------------

def storage_headers(rules: list[CORSRule]) -> dict[str, str]:
    """Container sysmeta for ``rules`` (none: every slot emptied, which deletes them)."""
    text = json.dumps([asdict(rule) for rule in rules], separators=(",", ":")) if rules else ""
    chunks = [text[start:start + CHUNK] for start in range(0, len(text), CHUNK)]
    if len(chunks) > SLOTS:
        raise S3Error("MaxMessageLengthExceeded", "The CORS configuration is too large")
    return {f"{SYSMETA_PREFIX}{index}": chunks[index] if index < len(chunks) else ""
            for index in range(SLOTS)}


def stored_rules(sysmeta: Mapping[str, str]) -> list[CORSRule]:
    """The rules in container sysmeta (``{"s3-cors-0": ...}``, as container info holds it,
    names without ``x-container-sysmeta-``); [] when there are none."""
    short = SYSMETA_PREFIX[len("x-container-sysmeta-"):]
    text = "".join(sysmeta.get(f"{short}{index}", "") for index in range(SLOTS))
    if not text:
        return []
    return [CORSRule(**{**item, **{name: tuple(item[name]) for name in
                                   ("origins", "methods", "allowed_headers", "expose_headers")}})
            for item in json.loads(text)]
