"""Which account and user names the store takes.

Names become container and object names in the hidden account, so a name
that could address something else there is refused: empty, longer than
256 bytes, with a ``/``, a control character, or a leading ``.`` (the
store's own records: ``.services``, ``.token_*``...); an account name may not
hold a ``:`` either (``account:user`` is split at the first one).
"""
from __future__ import annotations

MAX_NAME_BYTES = 256


class BadName(ValueError):
    """A name the store will not take; the message says why."""


def check_name(name: str, kind: str) -> str:
    if not name:
        raise BadName(f"{kind} name is empty")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise BadName(f"{kind} name is longer than {MAX_NAME_BYTES} bytes")
    if name.startswith("."):
        raise BadName(f"{kind} name may not start with '.'")
    if "/" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise BadName(f"{kind} name may not contain '/' or control characters")
    if kind == "account" and ":" in name:
        raise BadName("account name may not contain ':'")
    return name
