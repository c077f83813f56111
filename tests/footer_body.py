"""Bodies of a multipart-MIME object PUT with a metadata footer, byte for byte
as OpenStack Swift's proxy (MIMEPutter) sends them."""
from __future__ import annotations

import hashlib
import json


def footer_part(meta: object, checksum: str | None = None) -> bytes:
    """The footer part: headers, blank line, JSON (Content-MD5 right unless given)."""
    body = json.dumps(meta).encode()
    checksum = hashlib.md5(body).hexdigest() if checksum is None else checksum
    return (b"X-Document: object metadata\r\nContent-MD5: " + checksum.encode() +
            b"\r\n\r\n" + body)


def mime_body(data: bytes, meta: dict, boundary: str, footer: bytes | None = None) -> bytes:
    """Object part then footer part (``footer`` replaces the one built from ``meta``)."""
    b = boundary.encode()
    return (b"--" + b + b"\r\nX-Document: object body\r\n\r\n" + data + b"\r\n--" + b +
            b"\r\n" + (footer_part(meta) if footer is None else footer) +
            b"\r\n--" + b + b"--\r\n")
