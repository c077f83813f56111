"""User keys: stored salted and hashed with a slow KDF, compared in constant time.

New keys get ``scrypt:<n>:<r>:<p>:<salt>$<verifier>`` (or, with ``key_hash =
pbkdf2``, ``pbkdf2_sha256:<iterations>:<salt>$<verifier>``; salt and verifier
base64).  The KDF output ``dk`` is never stored: the verifier is
HMAC(dk, "verify"), and HMAC(dk, "seal") is the *seal key* that encrypts the
user's current token in the store (``tokens.seal``), so only someone who knows
the key can get a token back out (token reuse across logins).  scrypt with
n=2**14, r=8 takes about 85 ms here (pbkdf2 with 200,000 rounds about 110 ms):
a login, or an admin call made as ``account:user``, pays it once.

Hashes written by Swauth (``plaintext:<key>``, ``sha1:<salt>$<hex>``,
``sha512:<salt>$<hex>``, imported with ``X-Auth-User-Key-Hash``) still verify;
their seal key comes from pbkdf2 over the key and the user's ``key_id``.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass

SCRYPT = (2 ** 14, 8, 1)
PBKDF2_ITERATIONS = 200_000
SALT_BYTES = 16
MAX_KEY_BYTES = 1024
MAX_HASH_CHARS = 2048
LEGACY = ("plaintext", "sha1", "sha512")
KDF_SCHEMES = ("scrypt", "pbkdf2")
# what an unknown user's login is checked against, so it takes as long as a known one's
_DUMMY = None


class KeyHashError(ValueError):
    """An imported key hash that is not in a format we verify; the message says why."""


@dataclass(frozen=True)
class Hashed:
    stored: str      # what the user record keeps
    seal_key: bytes  # never stored


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _split_keys(dk: bytes) -> tuple[bytes, bytes]:
    return (hmac.new(dk, b"verify", hashlib.sha256).digest(),
            hmac.new(dk, b"seal", hashlib.sha256).digest())


def hash_key(key: str, scheme: str = "scrypt") -> Hashed:
    """A new salted hash of ``key`` and its seal key."""
    salt = os.urandom(SALT_BYTES)
    secret = key.encode("utf-8")
    if scheme == "scrypt":
        n, r, p = SCRYPT
        verifier, seal = _split_keys(hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, dklen=32))
        return Hashed(f"scrypt:{n}:{r}:{p}:{_b64(salt)}${_b64(verifier)}", seal)
    if scheme == "pbkdf2":
        verifier, seal = _split_keys(hashlib.pbkdf2_hmac("sha256", secret, salt, PBKDF2_ITERATIONS))
        return Hashed(f"pbkdf2_sha256:{PBKDF2_ITERATIONS}:{_b64(salt)}${_b64(verifier)}", seal)
    raise ValueError(f"unknown key hash scheme {scheme!r} (known: {', '.join(KDF_SCHEMES)})")


def check_key_hash(stored: str) -> str:
    """``stored`` if it is a hash ``verify_key`` understands, else KeyHashError."""
    if len(stored) > MAX_HASH_CHARS:
        raise KeyHashError(f"key hash longer than {MAX_HASH_CHARS} characters")
    kind, sep, rest = stored.partition(":")
    if not sep or not rest:
        raise KeyHashError("key hash must look like <type>:<hash>")
    if kind == "plaintext":
        return stored
    if kind in ("sha1", "sha512"):
        salt, sep, digest = rest.partition("$")
        length = 40 if kind == "sha1" else 128
        if not sep or len(digest) != length or any(c not in "0123456789abcdef" for c in digest):
            raise KeyHashError(f"{kind} key hash must be {kind}:<salt>$<{length} hex digits>")
        return stored
    try:
        _parse_kdf(kind, rest)
    except (ValueError, binascii.Error):
        raise KeyHashError(f"unknown or malformed key hash type {kind!r} "
                           f"(known: plaintext, sha1, sha512, scrypt, pbkdf2_sha256)") from None
    return stored


def _parse_kdf(kind: str, rest: str) -> tuple[tuple[int, ...], bytes, bytes]:
    params, _, verifier = rest.rpartition("$")
    fields = params.split(":")
    if kind == "scrypt" and len(fields) == 4:
        n, r, p = (int(x) for x in fields[:3])
        # bounded so that an imported hash cannot make each login take much memory or time
        if not (1 < n and n & (n - 1) == 0 and 0 < r and n * r <= 2 ** 19 and 0 < p <= 4):
            raise ValueError("scrypt parameters out of range")
        numbers: tuple[int, ...] = (n, r, p)
    elif kind == "pbkdf2_sha256" and len(fields) == 2:
        numbers = (int(fields[0]),)
        if not 0 < numbers[0] <= 2_000_000:
            raise ValueError("pbkdf2 iterations out of range")
    else:
        raise ValueError(f"not a KDF hash: {kind}")
    salt, check = _unb64(fields[-1]), _unb64(verifier)
    if len(check) != 32:
        raise ValueError("verifier must be 32 bytes")
    return numbers, salt, check


def verify_key(key: str, stored: str, key_id: str) -> bytes | None:
    """The seal key if ``key`` matches ``stored``, else None (constant-time compare)."""
    secret = key.encode("utf-8")
    if len(secret) > MAX_KEY_BYTES:
        return None
    kind, _, rest = stored.partition(":")
    if kind in LEGACY:
        if not _legacy_matches(kind, rest, secret):
            return None
        return hashlib.pbkdf2_hmac("sha256", secret, key_id.encode("utf-8"), PBKDF2_ITERATIONS)
    try:
        numbers, salt, check = _parse_kdf(kind, rest)
    except (ValueError, binascii.Error):
        return None
    if kind == "scrypt":
        n, r, p = numbers
        dk = hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, dklen=32,
                            maxmem=129 * n * r + 2 ** 20)
    else:
        dk = hashlib.pbkdf2_hmac("sha256", secret, salt, numbers[0])
    verifier, seal = _split_keys(dk)
    return seal if hmac.compare_digest(verifier, check) else None


def _legacy_matches(kind: str, rest: str, secret: bytes) -> bool:
    if kind == "plaintext":
        return hmac.compare_digest(rest.encode("utf-8"), secret)
    salt, _, digest = rest.partition("$")
    computed = hashlib.new(kind, salt.encode("utf-8") + secret).hexdigest()
    return hmac.compare_digest(computed.encode("ascii"), digest.encode("ascii", "replace"))


def waste_time_like_a_check(key: str) -> None:
    """Do the work of checking ``key`` against a real hash: an unknown user's
    login must take as long as a known user's wrong key."""
    global _DUMMY
    if _DUMMY is None:
        _DUMMY = hash_key("not a key").stored
    verify_key(key, _DUMMY, "")
