"""XML in and out, safely.

Request bodies (DeleteObjects, CompleteMultipartUpload, ACLs, tagging...) are
parsed with the standard library's expat under two guards: a size limit, and
no document type declaration at all (so no entity can be declared, let alone
expanded: the "billion laughs" and external-entity attacks need one).  S3
bodies never carry one.  Tags are returned without their namespace.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.parsers import expat
from typing import Iterable

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
XML_CONTENT_TYPE = "application/xml"
# the largest request document we parse (a DeleteObjects of 1,000 long keys fits)
MAX_XML_BYTES = 2 * 1024 * 1024

Child = ET.Element


class XMLError(ValueError):
    """The body is not well-formed XML we accept."""


def element(tag: str, content: str | int | bool | Iterable[ET.Element] | None = None,
            **attributes: str) -> ET.Element:
    """An element with text (str/int/bool, booleans as ``true``/``false``) or children."""
    node = ET.Element(tag, attributes)
    if isinstance(content, bool):
        node.text = "true" if content else "false"
    elif isinstance(content, (str, int)):
        node.text = str(content)
    elif content is not None:
        node.extend(content)
    return node


def to_xml(root: ET.Element, namespace: bool = False) -> bytes:
    """The document, UTF-8 with its declaration; ``namespace`` adds S3's xmlns to the root."""
    if namespace:
        root.set("xmlns", S3_NAMESPACE)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8",
                                                                    xml_declaration=False)


def _refuse_doctype(*_args: object) -> None:
    raise XMLError("document type declarations are not allowed")


def parse(body: bytes, max_bytes: int = MAX_XML_BYTES) -> ET.Element:
    """The root element of ``body`` with namespaces stripped from every tag.

    Raises XMLError for a body that is too large, not well-formed, or that
    declares a document type (and so could declare entities).  expat feeds an
    ElementTree builder directly, so the guards sit on the parser itself.
    """
    if len(body) > max_bytes:
        raise XMLError(f"XML body larger than {max_bytes} bytes")
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_doctype
    parser.ExternalEntityRefHandler = _refuse_doctype
    parser.StartElementHandler = lambda tag, attrs: builder.start(_local(tag), attrs)
    parser.EndElementHandler = lambda tag: builder.end(_local(tag))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(body, True)
        return builder.close()
    except (expat.ExpatError, AssertionError) as err:
        raise XMLError(str(err)) from None


def _local(tag: str) -> str:
    """``namespace}Tag`` (expat's form with our separator) -> ``Tag``."""
    return tag.rsplit("}", 1)[-1]


def child_text(node: ET.Element, tag: str, default: str | None = None) -> str | None:
    """The text of ``node``'s first ``tag`` child ('' if empty), else ``default``."""
    found = node.find(tag)
    if found is None:
        return default
    return found.text or ""
