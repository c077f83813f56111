"""Listing output formats (Swift v1): ``format=json|xml|plain`` and Accept.

``format`` in the query string wins; otherwise the Accept header is matched
against text/plain (the default), application/json, application/xml and
text/xml; nothing acceptable -> 406.  Shared by the container and account
servers (and usable by the proxy when it builds listings itself).

Bodies:
- plain: one name per line (subdirs included);
- json: a list of objects, ``{"subdir": "dir/"}`` for pseudo-directories;
- xml: ``<container name="c"><object><name>..</name>..</object>
  <subdir name="d/"><name>d/</name></subdir></container>`` (``account`` /
  ``container`` elements for account listings).
"""
from __future__ import annotations

import functools
import json
import time
from typing import Any, Iterable, Mapping
from xml.sax.saxutils import escape, quoteattr

PLAIN, JSON, XML, TEXT_XML = "text/plain", "application/json", "application/xml", "text/xml"
FORMATS = {"plain": PLAIN, "json": JSON, "xml": XML}
OFFERED = (PLAIN, JSON, XML, TEXT_XML)  # order breaks ties: plain is the default
XML_HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n'

Entry = Mapping[str, Any]


def _parse_accept(header: str) -> list[tuple[str, float, int]]:
    """(media range, q, specificity) for each element of an Accept header."""
    ranges = []
    for element in header.split(","):
        parts = [p.strip() for p in element.split(";")]
        media = parts[0].lower()
        if not media:
            continue
        if "/" not in media:
            raise ValueError(f"bad media range {media!r}")
        q = 1.0
        for param in parts[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    raise ValueError(f"bad quality value {value!r}") from None
        main, _, sub = media.partition("/")
        specificity = 0 if main == "*" else 1 if sub == "*" else 2
        ranges.append((media, q, specificity))
    return ranges


def _quality(offer: str, ranges: list[tuple[str, float, int]]) -> float:
    """q of the most specific range matching ``offer`` (0 if none matches)."""
    main = offer.split("/")[0]
    best = (-1, 0.0)
    for media, q, specificity in ranges:
        if media in (offer, f"{main}/*", "*/*") and specificity > best[0]:
            best = (specificity, q)
    return best[1]


def negotiate(format_param: str | None, accept: str | None) -> str | None:
    """The listing content type to answer with, or None for 406 Not Acceptable.

    ValueError if the Accept header cannot be parsed (answer 400).
    """
    if format_param:
        return FORMATS.get(format_param.lower(), PLAIN)
    if not accept:
        return PLAIN
    ranges = _parse_accept(accept)
    if not ranges:
        return PLAIN
    scored = [(_quality(offer, ranges), -i, offer) for i, offer in enumerate(OFFERED)]
    q, _, offer = max(scored)
    return offer if q > 0 else None


@functools.lru_cache(maxsize=4096)
def _iso_seconds(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def last_modified(internal_ts: str) -> str:
    """``Timestamp.isoformat`` of a stored ``Timestamp.internal`` string
    (``SSSSSSSSSS.FFFFF[_offset]``), without parsing it: listings format
    thousands of these per page."""
    return f"{_iso_seconds(int(internal_ts[:10]))}.{internal_ts[11:16]}0"


def content_type_header(content_type: str) -> str:
    return f"{content_type}; charset=utf-8"


def render(content_type: str, root_tag: str, root_name: str, item_tag: str,
           entries: Iterable[Entry], xml_fields: frozenset[str] | None = None) -> bytes:
    """The body of a listing.  Each entry is an ordered mapping of output
    fields starting with ``name``, or ``{"subdir": name}``; ``xml_fields``
    limits the XML elements (JSON-only extras such as ``slo_etag``)."""
    if content_type == JSON:
        return json.dumps(list(entries), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if content_type in (XML, TEXT_XML):
        return _render_xml(root_tag, root_name, item_tag, entries, xml_fields)
    lines = [entry.get("subdir") or entry["name"] for entry in entries]
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def _render_xml(root_tag: str, root_name: str, item_tag: str, entries: Iterable[Entry],
                fields: frozenset[str] | None) -> bytes:
    out = [XML_HEADER, f"<{root_tag} name={quoteattr(root_name)}>"]
    for entry in entries:
        subdir = entry.get("subdir")
        if subdir is not None:
            out.append(f"<subdir name={quoteattr(subdir)}><name>{escape(subdir)}</name></subdir>")
            continue
        out.append(f"<{item_tag}>")
        out.extend(f"<{field}>{escape(str(value))}</{field}>" for field, value in entry.items()
                   if fields is None or field in fields)
        out.append(f"</{item_tag}>")
    out.append(f"</{root_tag}>")
    return "".join(out).encode("utf-8")
