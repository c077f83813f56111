"""A client for the auth admin API at ``/auth/v2/`` (Swauth's API, kept by objstore's ``auth/``).

Every call sends ``X-Auth-Admin-User`` / ``X-Auth-Admin-Key`` and turns an
unexpected status into a ``ClientError`` whose one-line message carries the
status and the reason the server's body gives.  The HTTP goes through a
``Transport`` so that tests can answer from memory instead of a socket.
"""
from __future__ import annotations

import dataclasses
import json
import urllib.parse
from typing import Callable

from client.connection import TIMEOUT, Body, ClientError, Headers, HTTPPool, error_message

DEFAULT_ADMIN_URL = "http://127.0.0.1:8080/auth/"
SUPER_ADMIN = ".super_admin"


@dataclasses.dataclass(frozen=True)
class Reply:
    status: int
    reason: str
    headers: dict[str, str]  # lower-case names
    body: bytes


Transport = Callable[[str, str, Headers, Body], Reply]


def http_transport(timeout: float = TIMEOUT) -> Transport:
    """Requests over kept-alive sockets, each answer read whole (admin answers are small)."""
    pool = HTTPPool(timeout)

    def send(method: str, url: str, headers: Headers, body: Body) -> Reply:
        # http.client sends str headers as latin-1: a key beyond ASCII goes as UTF-8,
        # which is what the server decodes
        encoded = {name: value if value.isascii() else value.encode("utf-8")
                   for name, value in headers.items()}
        _, raw = pool.send(method, url, encoded, body)
        data = raw.read()
        return Reply(raw.status, raw.reason, {k.lower(): v for k, v in raw.getheaders()}, data)
    return send


def admin_base(url: str) -> str:
    """The ``.../auth/v2`` base of an admin URL.

    Accepts the proxy's ``/auth/`` URL as Swauth's tools take it, and also the
    login URL (``/auth/v1.0``) that every banner and client config already has.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ClientError(f"not an http(s) URL: {url!r} (e.g. {DEFAULT_ADMIN_URL})")
    path = parts.path.rstrip("/")
    for version in ("/v1.0", "/v2"):
        if path.endswith(version):
            path = path[:-len(version)]
    path = path or "/auth"
    if not path.endswith("/auth"):
        raise ClientError(f"the admin URL is the proxy's /auth/ URL, e.g. {DEFAULT_ADMIN_URL}; "
                          f"got {url}")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path + "/v2", "", ""))


def check_sendable(name: str, value: str) -> None:
    """ClientError (naming the header, never its value) if ``value`` cannot go in a header."""
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ClientError(f"{name}: a control character (newline, tab...) cannot be sent "
                          "in a header")


class AdminClient:
    """One admin identity (``.super_admin``, a reseller admin or an account admin) and its calls."""

    def __init__(self, admin_url: str, admin_user: str, admin_key: str,
                 transport: Transport | None = None) -> None:
        if not admin_key:
            raise ClientError(f"an admin key is needed (-K); {SUPER_ADMIN}'s is the proxy's "
                              "super_admin_key")
        self.base = admin_base(admin_url)
        self.admin_user = admin_user
        self.admin_key = admin_key
        self._send = transport or http_transport()

    def call(self, method: str, *names: str, headers: Headers | None = None,
             body: bytes | None = None, ok: tuple[int, ...] = (200, 201, 202, 204)) -> Reply:
        """``METHOD /auth/v2/<names...>``; a status outside ``ok`` raises ClientError."""
        url = self.base + "/" + "/".join(urllib.parse.quote(name, safe="") for name in names)
        sent = {"X-Auth-Admin-User": self.admin_user, "X-Auth-Admin-Key": self.admin_key,
                **(headers or {})}
        for name, value in sent.items():
            check_sendable(name, value)
        if method in ("PUT", "POST"):
            sent.setdefault("Content-Length", str(len(body or b"")))
        reply = self._send(method, url, sent, body)
        if reply.status not in ok:
            raise ClientError(error_message(method, url, reply.status, reply.reason, reply.body),
                              reply.status)
        return reply

    def call_json(self, method: str, *names: str, **kwargs) -> dict:
        reply = self.call(method, *names, **kwargs)
        try:
            found = json.loads(reply.body)
        except ValueError:
            found = None
        if not isinstance(found, dict):
            raise ClientError(f"{method} {urllib.parse.urlsplit(self.base).path}/{'/'.join(names)}: "
                              f"{reply.status} {reply.reason}, but the body is not a JSON object")
        return found

    # -- the store -------------------------------------------------------------
    def prep(self) -> None:
        """Create the hidden auth account and its containers (super admin only)."""
        self.call("POST", ".prep")

    # -- accounts --------------------------------------------------------------
    def list_accounts(self) -> dict:
        """``{"accounts": [{"name": ...}, ...]}``"""
        return self.call_json("GET", "")

    def get_account(self, account: str) -> dict:
        """``{"account_id": ..., "services": {...}, "users": [{"name": ...}, ...]}``"""
        return self.call_json("GET", account)

    def add_account(self, account: str, suffix: str | None = None) -> bool:
        """True if the account was created, False if it existed (202)."""
        reply = self.call("PUT", account, headers={"X-Account-Suffix": suffix} if suffix else None)
        return reply.status == 201

    def delete_account(self, account: str) -> None:
        """Refused with 409 while the account has users."""
        self.call("DELETE", account)

    def groups(self, account: str) -> dict:
        """``{"groups": [{"name": ...}, ...]}``: every group of the account's users."""
        return self.call_json("GET", account, ".groups")

    def set_services(self, account: str, services: dict) -> dict:
        """Merge endpoints into the account's services; the merged services come back."""
        return self.call_json("POST", account, ".services",
                              body=json.dumps(services).encode())

    # -- users -----------------------------------------------------------------
    def get_user(self, account: str, user: str) -> dict:
        """``{"groups": [{"name": "account:user"}, {"name": "account"}, ...]}``: never the key."""
        return self.call_json("GET", account, user)

    def put_user(self, account: str, user: str, key: str, admin: bool = False,
                 reseller_admin: bool = False, groups: list[str] | None = None) -> None:
        """Create the user, or replace its key and rights (a PUT is idempotent).

        ``groups`` (objstore's ``X-Auth-User-Groups``, reseller admins only) are
        more groups, e.g. ``service`` for a service user; None keeps those it has.
        """
        headers = {"X-Auth-User-Key": key}
        if admin:
            headers["X-Auth-User-Admin"] = "true"
        if reseller_admin:
            headers["X-Auth-User-Reseller-Admin"] = "true"
        if groups is not None:
            headers["X-Auth-User-Groups"] = ",".join(groups)
        self.call("PUT", account, user, headers=headers)

    def add_user(self, account: str, user: str, key: str, admin: bool = False,
                 reseller_admin: bool = False, groups: list[str] | None = None,
                 suffix: str | None = None, if_missing: bool = False) -> bool:
        """As Swauth's add-user: create the account first when it is missing.

        A user changing its own key skips that step, and an account admin may not
        look at other accounts (403): the PUT of the user says why it is refused.
        With ``if_missing`` an existing user is left as it is (its key, rights
        and tokens); returns whether the user was written.
        """
        check_sendable("X-Auth-User-Key", key)  # before the account is made
        if if_missing and self.call("GET", account, user, ok=(200, 404)).status == 200:
            return False
        if self.admin_user != f"{account}:{user}" and \
                self.call("GET", account, ok=(200, 403, 404)).status == 404:
            self.add_account(account, suffix)
        self.put_user(account, user, key, admin, reseller_admin, groups)
        return True

    def set_key(self, account: str, user: str, key: str) -> None:
        """A new key for the user; its rights stay as they are.

        A PUT replaces the rights too, so they are read first (the server keeps
        the extra groups by itself).  Where the caller may not read the record but
        sets its own key, it has no rights to keep.
        """
        try:
            groups = self.get_user(account, user).get("groups", [])
        except ClientError as err:
            if err.status != 403 or self.admin_user != f"{account}:{user}":
                raise
            groups = []
        names = {group.get("name") for group in groups if isinstance(group, dict)}
        self.put_user(account, user, key, admin=".admin" in names,
                      reseller_admin=".reseller_admin" in names)

    def delete_user(self, account: str, user: str) -> None:
        self.call("DELETE", account, user)

    # -- S3 access keys ----------------------------------------------------------
    def add_s3_key(self, account: str, user: str, access_key: str | None = None,
                   secret_key: str | None = None, if_missing: bool = False) -> dict | None:
        """A new pair, ``{"access_key", "secret_key"}``: generated unless given.
        The secret is shown this once.  With ``if_missing`` (and ``access_key``),
        a key the user has already is left as it is: None."""
        if if_missing and access_key and any(
                item.get("access_key") == access_key
                for item in self.list_s3_keys(account, user).get("s3_keys", [])):
            return None
        headers = {}
        if access_key:
            headers["X-Auth-S3-Access-Key"] = access_key
        if secret_key:
            headers["X-Auth-S3-Secret-Key"] = secret_key
        return self.call_json("POST", account, user, ".s3keys", headers=headers)

    def list_s3_keys(self, account: str, user: str) -> dict:
        """``{"s3_keys": [{"access_key": ...}, ...]}``: never the secrets."""
        return self.call_json("GET", account, user, ".s3keys")

    def delete_s3_key(self, account: str, user: str, access_key: str) -> None:
        self.call("DELETE", account, user, ".s3keys", access_key)

    # -- tokens --------------------------------------------------------------------
    def cleanup_tokens(self) -> dict:
        """One pass removing expired tokens: ``{"checked", "removed", "failed"}`` (super admin)."""
        return self.call_json("POST", ".cleanup_tokens")
