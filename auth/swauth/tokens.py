"""Tokens: their form, where they are stored, and each worker's validation cache.

A token is ``<reseller_prefix>tk<32 hex>`` (Swauth's form), 128 random bits.
The store never holds one in a usable form: a token object is named by
SHA-256 of the token (``.token_<last hex digit>/<hash>``: 16 containers, as
Swauth), so neither object names in logs nor a listing give a token away
(Swauth's CVE-2017-16613), and the user's current token is kept *sealed*
(XOR with a pad derived from the user's key, ``keys``) so that a login with
the key can hand the same token out again until it expires.

``ValidationCache`` keeps, per proxy worker, what a token's check found for at
most ``cache_life`` seconds (and never past the token's expiry).  That is the
revocation bound: a deleted user or a changed key is refused by the worker
that made the change at once, and by every other worker at most
``cache_life`` seconds later (default 10 s).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

from auth.authorize import Identity

TOKEN_HEX = 32
TOKEN_CONTAINERS = tuple(f".token_{digit:x}" for digit in range(16))
T = TypeVar("T")


@dataclass(frozen=True)
class CheckedToken:
    """What a token's check found: whose it is, when it was issued and expires
    (epoch seconds), and the name it is stored under (its hash)."""
    identity: Identity
    issued: float
    expires: float
    digest: str


def new_token(reseller_prefix: str) -> str:
    return f"{reseller_prefix}tk{secrets.token_hex(TOKEN_HEX // 2)}"


def is_well_formed(token: str, reseller_prefix: str) -> bool:
    """Whether ``token`` could be one of ours (checked before any store lookup)."""
    body = token[len(reseller_prefix) + 2:]
    return (token.startswith(reseller_prefix + "tk") and len(body) == TOKEN_HEX
            and all(c in "0123456789abcdef" for c in body))


def token_hash(token: str) -> str:
    """The name a token is stored under (hex SHA-256)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issued_at(record: dict, token_life: int) -> float:
    """When a stored token was issued; records written before the issue time was
    kept say only their expiry, so: that less ``token_life``."""
    expires = float(record.get("expires", 0))
    return float(record.get("issued", expires - token_life))


def token_container(digest: str) -> str:
    return f".token_{digest[-1]}"


def _pad(seal_key: bytes, digest: str) -> bytes:
    return hmac.new(seal_key, b"token:" + digest.encode("ascii"), hashlib.sha256).digest()[:TOKEN_HEX // 2]


def seal(token: str, seal_key: bytes) -> str:
    """The random part of ``token`` encrypted under ``seal_key`` (hex)."""
    digest = token_hash(token)
    raw = bytes.fromhex(token[-TOKEN_HEX:])
    return bytes(a ^ b for a, b in zip(raw, _pad(seal_key, digest))).hex()


def unseal(sealed: str, digest: str, seal_key: bytes, reseller_prefix: str) -> str | None:
    """The token back from ``seal``, or None if the key or the record does not fit."""
    try:
        raw = bytes.fromhex(sealed)
    except ValueError:
        return None
    if len(raw) != TOKEN_HEX // 2:
        return None
    token = f"{reseller_prefix}tk{bytes(a ^ b for a, b in zip(raw, _pad(seal_key, digest))).hex()}"
    return token if hmac.compare_digest(token_hash(token), digest) else None


class ValidationCache(Generic[T]):
    """token hash -> what its validation found, for at most ``life`` seconds
    and never past the token's own expiry; at most ``size`` entries (the
    least recently used go first)."""

    def __init__(self, life: float, size: int = 10000,
                 clock: Callable[[], float] = time.time) -> None:
        self.life = life
        self.size = size
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, T]] = OrderedDict()

    def get(self, digest: str) -> T | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if entry[0] <= self.clock():
            del self._entries[digest]
            return None
        self._entries.move_to_end(digest)
        return entry[1]

    def put(self, digest: str, value: T, token_expires: float) -> None:
        if self.life <= 0:
            return
        self._entries[digest] = (min(self.clock() + self.life, token_expires), value)
        self._entries.move_to_end(digest)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget(self, digest: str) -> None:
        self._entries.pop(digest, None)
