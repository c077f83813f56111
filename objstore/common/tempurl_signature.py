"""Temp URL and form POST signatures, as Swift computes them, for the proxy's checks.

A signature is an HMAC of a few newline-joined fields with one of the account's
or container's ``Temp-URL-Key`` values:

- temp URL: ``[ip=<range>\\n]<METHOD>\\n<expires>\\n<path>``, where ``path`` is
  ``/v1/<account>/<container>/<object>`` or, for a prefix-based URL,
  ``prefix:/v1/<account>/<container>/<prefix>``;
- form POST: ``<path>\\n<redirect>\\n<max_file_size>\\n<max_file_count>\\n<expires>``.

Signatures travel as hex (the digest is told by the length: 40 SHA-1, 64
SHA-256, 128 SHA-512) or as ``<digest>:<base64>`` (standard or URL-safe
alphabet, padding optional), which SHA-512 needs to stay short.
"""
from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import hmac
import time

DIGESTS = ("sha1", "sha256", "sha512")
HEX_LENGTHS = {40: "sha1", 64: "sha256", 128: "sha512"}
ISO8601_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def temp_url_body(method: str, expires: int, path: str, ip_range: str | None = None) -> str:
    """The text a temp URL signs."""
    body = f"{method}\n{expires}\n{path}"
    return f"ip={ip_range}\n{body}" if ip_range else body


def form_post_body(path: str, redirect: str, max_file_size: int | str,
                   max_file_count: int | str, expires: int | str) -> str:
    """The text a form POST signs (the form's fields as sent)."""
    return f"{path}\n{redirect}\n{max_file_size}\n{max_file_count}\n{expires}"


def sign(key: bytes, body: str, digest: str = "sha256") -> str:
    """The hex HMAC of ``body`` (UTF-8) with ``key``."""
    if digest not in DIGESTS:
        raise ValueError(f"unknown digest {digest!r} (known: {', '.join(DIGESTS)})")
    return hmac.new(key, body.encode("utf-8"), getattr(hashlib, digest)).hexdigest()


def parse_signature(signature: str) -> tuple[str, str]:
    """(digest name, hex digest) of a signature as a client sends it; ValueError if
    it is neither a hex digest of a known length nor ``<digest>:<base64>``."""
    if ":" in signature:
        digest, _, encoded = signature.partition(":")
        if digest not in DIGESTS:
            raise ValueError(f"unknown digest {digest!r}")
        encoded = encoded.replace("-", "+").replace("_", "/")
        encoded += "=" * (-len(encoded) % 4)
        try:
            raw = base64.b64decode(encoded.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise ValueError("signature is not valid base64") from None
        if len(raw) != getattr(hashlib, digest)().digest_size:
            raise ValueError(f"signature has the wrong length for {digest}")
        return digest, raw.hex()
    digest = HEX_LENGTHS.get(len(signature))
    if digest is None:
        raise ValueError("signature has no digest prefix and no known hex length")
    return digest, signature.lower()


def parse_expires(value: str) -> int | None:
    """A temp URL's ``temp_url_expires``: unix seconds or ISO 8601 UTC
    (``2030-01-02T03:04:05Z``); None if it is neither."""
    if value.isascii() and value.isdigit():
        return int(value) if len(value) <= 20 else None
    try:
        return calendar.timegm(time.strptime(value, ISO8601_FORMAT))
    except ValueError:
        return None
