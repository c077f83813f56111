"""``GET /auth/v1.0`` (also ``/auth/v1/<account>/auth``, ``/auth/auth``): a key for a token.

With ``X-Auth-User: account:user`` + ``X-Auth-Key`` (URL-encoded values are
decoded, as in Swauth) or ``X-Storage-User`` + ``X-Storage-Pass``: 200 with
``X-Auth-Token``/``X-Storage-Token``, ``X-Auth-Token-Expires`` (seconds left),
``X-Storage-Url`` and the account's services JSON as the body.

- The user's current token is handed out again until it expires;
  ``X-Auth-New-Token: true`` revokes it and issues a new one.
- ``X-Auth-Token-Lifetime: <seconds>`` asks for a shorter life for a new
  token; it is capped by ``max_token_life``.
- Every failure (unknown account or user, wrong key, malformed name) is the
  same 401 and takes the same time: a key is checked even for a user that
  does not exist.

``authenticate`` and ``issue_token`` are that check and that token, shared with
the Keystone v3 login (``auth.swauth.keystone``).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

from auth.swauth import keys, tokens
from auth.swauth.names import BadName, check_name
from auth.swauth.store import Account
from objstore.common.checks import InputError, parse_int
from objstore.common.config import config_true_value
from objstore.common.constraints import wsgi_to_str
from objstore.common.http import Response, error_response

if TYPE_CHECKING:
    from auth.swauth.middleware import Swauth

LOGIN_VERSIONS = ("v1.0", "auth")


def _header(environ: dict, name: str, decode: bool) -> str:
    value = wsgi_to_str(environ.get(name, "")) or ""
    return unquote(value) if decode else value


def credentials(environ: dict, segments: list[str]) -> tuple[str, str, str] | Response:
    """(account, user, key) named by a login request, or the answer to give."""
    if len(segments) == 3 and segments[0] == "v1" and segments[2] == "auth":
        account = segments[1]
        user = _header(environ, "HTTP_X_STORAGE_USER", False)
        if not user:
            full = _header(environ, "HTTP_X_AUTH_USER", True)
            named, _, user = full.partition(":")
            if named != account:
                user = ""
        elif ":" in user:
            named, _, user = user.partition(":")
            if named != account:
                user = ""
        key = _header(environ, "HTTP_X_STORAGE_PASS", False) or \
            _header(environ, "HTTP_X_AUTH_KEY", True)
    elif len(segments) == 1 and segments[0] in LOGIN_VERSIONS:
        full = _header(environ, "HTTP_X_AUTH_USER", True) or \
            _header(environ, "HTTP_X_STORAGE_USER", False)
        account, _, user = full.partition(":")
        key = _header(environ, "HTTP_X_AUTH_KEY", True) or \
            _header(environ, "HTTP_X_STORAGE_PASS", False)
    else:
        return error_response(400, "Unknown auth path; use GET /auth/v1.0")
    return account, user, key


@dataclass(frozen=True)
class IssuedToken:
    token: str
    issued: float
    expires: float


def authenticate(auth: "Swauth", account: str, user: str, key: str
                 ) -> tuple[Account, dict, bytes] | None:
    """(account, user record, seal key) if ``key`` is the user's, else None; as much
    work (a key check) whether or not the names are valid and the user exists."""
    try:
        check_name(account, "account")
        check_name(user, "user")
    except BadName:
        keys.waste_time_like_a_check(key)
        return None
    record = auth.store.get_user(account, user)
    if record is None:
        keys.waste_time_like_a_check(key)
        return None
    seal_key = keys.verify_key(key, str(record.get("auth", "")), str(record.get("key_id", "")))
    found = auth.store.get_account(account) if seal_key is not None else None
    return (found, record, seal_key) if found is not None and seal_key is not None else None


def issue_token(auth: "Swauth", account: Account, user: str, record: dict, seal_key: bytes,
                life: int, renew: bool = False) -> IssuedToken:
    """The user's current token while it is good (and not to be ``renew``ed), else a
    new one living ``life`` seconds: every login, v1.0 or Keystone v3, shares it."""
    return _current_token(auth, account.name, user, seal_key, renew) or \
        _new_token(auth, account, user, record, seal_key, life)


def storage_url(services: dict) -> str:
    """The default storage URL of an account's services JSON ("" if it has none)."""
    storage = services.get("storage") or {}
    return storage.get(storage.get("default", ""), "") if isinstance(storage, dict) else ""


def handle_login(auth: "Swauth", environ: dict, segments: list[str]) -> Response:
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return error_response(400, "Auth requests are GETs")
    found = credentials(environ, segments)
    if isinstance(found, Response):
        return found
    account, user, key = found
    lifetime = environ.get("HTTP_X_AUTH_TOKEN_LIFETIME")
    try:
        life = auth.token_life if lifetime is None else \
            parse_int(lifetime, "X-Auth-Token-Lifetime", minimum=1)
    except InputError as err:
        return error_response(400, str(err))
    checked = authenticate(auth, account, user, key)
    if checked is None:
        return auth.login_failed(environ)
    found_account, record, seal_key = checked
    renew = config_true_value(environ.get("HTTP_X_AUTH_NEW_TOKEN", "false"))
    issued = issue_token(auth, found_account, user, record, seal_key,
                         min(life, auth.max_token_life), renew)
    services = auth.store.get_services(account) or {}
    return Response(200, {
        "content-type": "application/json; charset=utf-8",
        "x-auth-token": issued.token, "x-storage-token": issued.token,
        "x-auth-token-expires": str(max(0, int(issued.expires - time.time()))),
        "x-storage-url": storage_url(services)}, json.dumps(services).encode("utf-8"))


def _current_token(auth: "Swauth", account: str, user: str, seal_key: bytes,
                   renew: bool) -> IssuedToken | None:
    """The user's token if it is still good (and not to be renewed); a renewed
    or expired one is revoked."""
    current = auth.store.get_user_token(account, user)
    if not current:
        return None
    digest = str(current.get("hash", ""))
    expires = float(current.get("expires", 0))
    if not renew and expires > time.time() + 1:
        token = tokens.unseal(str(current.get("sealed", "")), digest, seal_key,
                              auth.reseller_prefix)
        record = auth.store.get_token(digest) if token is not None else None
        if token is not None and record is not None:
            return IssuedToken(token, tokens.issued_at(record, auth.token_life), expires)
    auth.revoke_token(digest)
    return None


def _new_token(auth: "Swauth", account: Account, user: str, record: dict, seal_key: bytes,
               life: int) -> IssuedToken:
    token = tokens.new_token(auth.reseller_prefix)
    digest = tokens.token_hash(token)
    issued = int(time.time())
    expires = issued + life
    auth.store.put_token(digest, {"account": account.name, "user": user,
                                  "account_id": account.account_id,
                                  "key_id": record.get("key_id", ""), "issued": issued,
                                  "expires": expires})
    auth.store.put_user_token(account.name, user, {
        "hash": digest, "sealed": tokens.seal(token, seal_key), "expires": expires})
    return IssuedToken(token, issued, expires)
