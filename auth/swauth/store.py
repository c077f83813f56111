"""The auth data in the cluster itself, in the hidden account ``<reseller_prefix>.auth``.

Layout (as Swauth's, plus the S3 key index; names starting with ``.`` are
never accounts or users, which may not start with one)::

    AUTH_.auth/
      <account>/                 one container per account; X-Container-Meta-Account-Id
        <user>                   JSON: key hash, groups, key_id, S3 keys
        .services                JSON: {"storage": {"default": "local", "local": "<url>"}}
        .token.<user>            JSON: the user's current token, sealed (tokens.seal)
      .account_id/<account_id>   body: the account name (the reverse map)
      .token_0 ... .token_f/     <sha256 of a token>: JSON account, user, account_id,
                                 key_id, expires
      .s3_access_keys/<key>      JSON: account, user (who an S3 access key belongs to)

Every request is a pre-authorized system request through ``InternalClient``
to the pipeline right of the auth filter; no client request reaches this
account (``auth.authorize``).  A failing store raises StoreError, which the
middleware answers with 503.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterator

from proxy.internal.client import OK, InternalClient, UnexpectedResponse
from auth.swauth.tokens import TOKEN_CONTAINERS, token_container

MAX_RECORD_BYTES = 1 << 20
S3_INDEX = ".s3_access_keys"
ACCOUNT_ID_MAP = ".account_id"
SERVICES = ".services"
ACCOUNT_ID_META = "x-container-meta-account-id"
FOUND_OR_MISSING = OK | {404}


class StoreError(Exception):
    """The auth store did not answer as it should (the cluster is in trouble)."""


@dataclass(frozen=True)
class Account:
    name: str
    account_id: str  # the storage account, e.g. AUTH_2a9f...


def user_token_object(user: str) -> str:
    return f".token.{user}"


class AuthStore:
    """Accounts, users, tokens and S3 keys as containers and JSON objects."""

    def __init__(self, client: InternalClient, reseller_prefix: str) -> None:
        self.client = client
        self.account = f"{reseller_prefix}.auth"

    # ---- plumbing ---------------------------------------------------------------------
    def _call(self, method: str, container: str | None = None, obj: str | None = None,
              **kwargs):
        try:
            return getattr(self.client, method)(self.account, container, obj, **kwargs)
        except UnexpectedResponse as err:
            raise StoreError(f"auth store: {err.method} {err.status}") from None

    def _read_json(self, container: str, obj: str) -> dict | None:
        with self._call("get", container, obj, acceptable=FOUND_OR_MISSING) as resp:
            if resp.status_int == 404:
                return None
            try:
                body = resp.read(MAX_RECORD_BYTES)
                record = json.loads(body)
            except ValueError:
                raise StoreError("auth store: an unreadable record") from None
        if not isinstance(record, dict):
            raise StoreError("auth store: a record is not a JSON object")
        return record

    def _write_json(self, container: str, obj: str, record: dict) -> bool:
        """False if the container is gone (404)."""
        body = json.dumps(record, separators=(",", ":")).encode("utf-8")
        resp = self._call("put", container, obj, body=body, acceptable=FOUND_OR_MISSING,
                          headers={"Content-Type": "application/json"})
        return resp.status_int != 404

    def _delete(self, container: str, obj: str | None = None) -> None:
        self._call("delete", container, obj, acceptable=FOUND_OR_MISSING)

    def _names(self, container: str | None = None) -> Iterator[str]:
        try:
            for item in self.client.iter_listing(self.account, container,
                                                 acceptable=FOUND_OR_MISSING):
                yield item["name"]
        except UnexpectedResponse as err:
            raise StoreError(f"auth store: listing {err.status}") from None

    # ---- the store as a whole --------------------------------------------------------
    def prep(self) -> None:
        """Create the shared containers (idempotent)."""
        for container in (ACCOUNT_ID_MAP, S3_INDEX, *TOKEN_CONTAINERS):
            self._call("put", container)

    def is_prepared(self) -> bool:
        return self._call("head", ACCOUNT_ID_MAP, acceptable=FOUND_OR_MISSING).status_int != 404

    # ---- accounts ---------------------------------------------------------------------
    def list_accounts(self) -> list[str]:
        return [name for name in self._names() if not name.startswith(".")]

    def get_account(self, name: str) -> Account | None:
        """None unless the account exists and was completely created."""
        resp = self._call("head", name, acceptable=FOUND_OR_MISSING)
        account_id = resp.header(ACCOUNT_ID_META) if resp.status_int != 404 else None
        return Account(name, account_id) if account_id else None

    def create_account(self, name: str, account_id: str, services: dict) -> None:
        """Container, reverse map, services, and last the account id on the
        container: an account whose creation broke off reads as absent."""
        self._call("put", name)
        self._call("put", ACCOUNT_ID_MAP, account_id, body=name.encode("utf-8"))
        self.put_services(name, services)
        self._call("post", name, headers={"X-Container-Meta-Account-Id": account_id})

    def account_of_id(self, account_id: str) -> str | None:
        with self._call("get", ACCOUNT_ID_MAP, account_id, acceptable=FOUND_OR_MISSING) as resp:
            return None if resp.status_int == 404 else resp.read(4096).decode("utf-8")

    def delete_account(self, account: Account) -> None:
        """Remove an account without users: its records, its id, its container."""
        for name in list(self._names(account.name)):
            self._delete(account.name, name)
        self._delete(ACCOUNT_ID_MAP, account.account_id)
        self._delete(account.name)

    def get_services(self, name: str) -> dict | None:
        return self._read_json(name, SERVICES)

    def put_services(self, name: str, services: dict) -> None:
        self._write_json(name, SERVICES, services)

    # ---- users ------------------------------------------------------------------------
    def list_users(self, account: str) -> list[str]:
        return [name for name in self._names(account) if not name.startswith(".")]

    def get_user(self, account: str, user: str) -> dict | None:
        return self._read_json(account, user)

    def put_user(self, account: str, user: str, record: dict) -> bool:
        """False if the account's container is gone."""
        return self._write_json(account, user, record)

    def delete_user(self, account: str, user: str) -> None:
        self._delete(account, user_token_object(user))
        self._delete(account, user)

    def get_user_token(self, account: str, user: str) -> dict | None:
        return self._read_json(account, user_token_object(user))

    def put_user_token(self, account: str, user: str, record: dict) -> None:
        self._write_json(account, user_token_object(user), record)

    # ---- tokens -----------------------------------------------------------------------
    def get_token(self, digest: str) -> dict | None:
        return self._read_json(token_container(digest), digest)

    def put_token(self, digest: str, record: dict) -> None:
        if not self._write_json(token_container(digest), digest, record):
            raise StoreError("auth store is not prepared (POST /auth/v2/.prep)")

    def delete_token(self, digest: str) -> None:
        self._delete(token_container(digest), digest)

    def token_names(self, container: str) -> Iterator[str]:
        return self._names(container)

    # ---- S3 access keys ---------------------------------------------------------------
    def get_s3_owner(self, access_key: str) -> dict | None:
        return self._read_json(S3_INDEX, access_key)

    def put_s3_owner(self, access_key: str, account: str, user: str) -> None:
        if not self._write_json(S3_INDEX, access_key, {"account": account, "user": user}):
            raise StoreError("auth store is not prepared (POST /auth/v2/.prep)")

    def delete_s3_owner(self, access_key: str) -> None:
        self._delete(S3_INDEX, access_key)
