"""Swift's "V1" container ACL strings: parsing, cleaning and referrer matching.

A container ACL (``X-Container-Read`` / ``X-Container-Write``) is a comma
separated list of elements: group names (``account:user`` or ``account``),
referrer designations ``.r:<host>`` / ``.r:-<host>`` (read ACL only) and
``.rlistings`` (lets referrer-allowed clients list the container).
An account ACL (``X-Account-Access-Control``) is JSON naming the users/groups
with ``admin``, ``read-write`` or ``read-only`` rights on the whole account.
"""
from __future__ import annotations

import json
from urllib.parse import urlsplit

from objstore.common.checks import InputError, load_json

REFERRER_ALIASES = (".r", ".ref", ".referer", ".referrer")


class ACLError(ValueError):
    """An ACL header that cannot be stored; the message is for the client."""


def clean_acl(name: str, value: str) -> str:
    """Validate and normalise an ACL header value (raises ACLError).

    Referrer designations are shortened to ``.r:``; ``.r:*.example.com`` becomes
    ``.r:.example.com``; referrers are refused in write ACLs.
    """
    write = name.lower() in ("x-container-write", "write")
    cleaned = []
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        if not item.startswith(".") or item == ".rlistings":
            cleaned.append(item)
            continue
        kind, sep, host = item.partition(":")
        kind, host = kind.strip(), host.strip()
        if kind not in REFERRER_ALIASES:
            raise ACLError(f"Unknown designator {kind!r} in ACL {value!r}")
        if write:
            raise ACLError(f"Referrers not allowed in write ACL: {value!r}")
        if not sep or not host or host == "-":
            raise ACLError(f"No host/domain value after referrer designation in ACL: {value!r}")
        negate = host.startswith("-")
        if negate:
            host = host[1:].strip()
        if host.startswith("*") and host != "*":
            host = host[1:]
        if not host or host == ".":
            raise ACLError(f"No host/domain value after referrer designation in ACL: {value!r}")
        cleaned.append(f".r:{'-' if negate else ''}{host}")
    return ",".join(cleaned)


def parse_acl(value: str | None) -> tuple[list[str], list[str]]:
    """Split a stored (cleaned) ACL into (referrers, groups)."""
    referrers: list[str] = []
    groups: list[str] = []
    for raw in (value or "").split(","):
        item = raw.strip()
        if not item:
            continue
        if item.startswith(".r:"):
            referrers.append(item[3:])
        else:
            groups.append(item)
    return referrers, groups


def referrer_allowed(referrer: str | None, referrers: list[str]) -> bool:
    """Apply ``.r:`` rules in order; the last matching rule wins.

    ``*`` matches any client (even without a Referer header); other rules
    match the host of the Referer URL exactly, or by domain when they start
    with a dot.
    """
    allowed = False
    host = (urlsplit(referrer).hostname or "") if referrer else ""
    for rule in referrers:
        negate = rule.startswith("-")
        pattern = rule[1:] if negate else rule
        if pattern == "*" or (host and (host == pattern or
                                        (pattern.startswith(".") and host.endswith(pattern)))):
            allowed = not negate
    return allowed


ACCOUNT_ACL_KEYS = ("admin", "read-write", "read-only")
MAX_ACCOUNT_ACL_BYTES = 8192  # one header's worth (Swift's max_header_size)


def parse_account_acl(value: str) -> dict[str, list[str]]:
    """Validate an ``X-Account-Access-Control`` JSON value (raises ACLError).

    The result has every level (``admin``, ``read-write``, ``read-only``) as a
    list of user/group names; an empty value means "no account ACL".
    """
    if not value.strip():
        return {key: [] for key in ACCOUNT_ACL_KEYS}
    try:
        parsed = load_json(value, "X-Account-Access-Control", MAX_ACCOUNT_ACL_BYTES)
    except InputError as err:
        raise ACLError(f"X-Account-Access-Control must be a JSON object: {err}") from None
    if not isinstance(parsed, dict):
        raise ACLError("X-Account-Access-Control must be a JSON object")
    unknown = set(parsed) - set(ACCOUNT_ACL_KEYS)
    if unknown:
        raise ACLError(f"X-Account-Access-Control: unknown keys {sorted(unknown)}; "
                       f"allowed: {', '.join(ACCOUNT_ACL_KEYS)}")
    for key, names in parsed.items():
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise ACLError(f"X-Account-Access-Control: {key!r} must be a list of names")
    return {key: list(parsed.get(key, [])) for key in ACCOUNT_ACL_KEYS}


def format_account_acl(acl: dict[str, list[str]]) -> str:
    """Compact JSON of the non-empty levels ("" when there are none)."""
    present = {key: acl[key] for key in ACCOUNT_ACL_KEYS if acl.get(key)}
    return json.dumps(present, separators=(",", ":")) if present else ""
