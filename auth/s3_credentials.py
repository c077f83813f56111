"""S3 secrets by access key: the one interface the S3 middleware asks, whatever the auth.

The S3 API signs each request with a secret the server must know in the
clear (SigV2/SigV4 are HMACs), so the S3 middleware needs "the secret and the
owner of access key X".  Every auth filter answers that through
``S3CredentialLookup`` (tempauth: access key ``account:user``, secret its
configured key, as Swift's s3api does; swauth: the access key / secret pairs
made with ``POST /auth/v2/<account>/<user>/.s3keys``).

The S3 middleware runs left of auth in the pipeline, so it cannot find the
lookup in the request; the auth filter registers its lookup when the
pipeline is built (``register_lookup``) and the S3 middleware calls
``lookup_s3_credential(access_key)`` per request.  A proxy worker builds one
pipeline, so one lookup is registered per worker::

    from auth.s3_credentials import lookup_s3_credential
    cred = lookup_s3_credential(access_key)      # None: unknown key (answer 403)
    if cred is None or not signature_matches(cred.secret): deny
    environ["REMOTE_USER"] = ",".join(cred.groups)  # then authorize as that user
    path = f"/v1/{cred.storage_account}/..."

A lookup may raise ``CredentialStoreError`` when its store cannot answer
(answer 503, not 403: the key may well be valid).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class S3Credential:
    access_key: str
    secret: str
    user: str                 # "test:tester"
    storage_account: str      # the account the user's requests go to ("AUTH_test")
    groups: tuple[str, ...]   # the user's REMOTE_USER groups, as its token would give


class CredentialStoreError(Exception):
    """The credential store could not be asked (not: the key is unknown)."""


class S3CredentialLookup(Protocol):
    def s3_credential(self, access_key: str) -> S3Credential | None:
        """The credential of ``access_key``, or None if there is none."""


_registered: S3CredentialLookup | None = None


def register_lookup(lookup: S3CredentialLookup) -> None:
    """Called by the auth filter of this worker's pipeline (the last one built wins)."""
    global _registered
    _registered = lookup


def lookup_s3_credential(access_key: str) -> S3Credential | None:
    """The registered auth filter's answer; None if no auth filter knows S3 keys."""
    if _registered is None or not access_key:
        return None
    return _registered.s3_credential(access_key)
