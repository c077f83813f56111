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
"""
from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING
from urllib.parse import unquote

from auth.swauth import keys, tokens
from auth.swauth.names import BadName, check_name
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
    life = min(life, auth.max_token_life)
    try:
        check_name(account, "account")
        check_name(user, "user")
    except BadName:
        keys.waste_time_like_a_check(key)
        return auth.login_failed(environ)
    record = auth.store.get_user(account, user)
    seal_key = None
    if record is not None:
        seal_key = keys.verify_key(key, str(record.get("auth", "")), str(record.get("key_id", "")))
    else:
        keys.waste_time_like_a_check(key)
    found_account = auth.store.get_account(account) if seal_key is not None else None
    if seal_key is None or found_account is None:
        return auth.login_failed(environ)
    renew = config_true_value(environ.get("HTTP_X_AUTH_NEW_TOKEN", "false"))
    token, expires = _current_token(auth, account, user, seal_key, renew)
    if token is None:
        token, expires = _new_token(auth, found_account, user, record, seal_key, life)
    services = auth.store.get_services(account) or {}
    storage = services.get("storage") or {}
    url = storage.get(storage.get("default", ""), "") if isinstance(storage, dict) else ""
    return Response(200, {
        "content-type": "application/json; charset=utf-8",
        "x-auth-token": token, "x-storage-token": token,
        "x-auth-token-expires": str(max(0, int(expires - time.time()))),
        "x-storage-url": url}, json.dumps(services).encode("utf-8"))


def _current_token(auth: "Swauth", account: str, user: str, seal_key: bytes,
                   renew: bool) -> tuple[str | None, float]:
    """The user's token if it is still good (and not to be renewed); a renewed
    or expired one is revoked."""
    current = auth.store.get_user_token(account, user)
    if not current:
        return None, 0
    digest = str(current.get("hash", ""))
    expires = float(current.get("expires", 0))
    if not renew and expires > time.time() + 1:
        token = tokens.unseal(str(current.get("sealed", "")), digest, seal_key,
                              auth.reseller_prefix)
        if token is not None and auth.store.get_token(digest) is not None:
            return token, expires
    auth.revoke_token(digest)
    return None, 0


def _new_token(auth: "Swauth", account, user: str, record: dict, seal_key: bytes,
               life: int) -> tuple[str, float]:
    token = tokens.new_token(auth.reseller_prefix)
    digest = tokens.token_hash(token)
    expires = int(time.time() + life)
    auth.store.put_token(digest, {"account": account.name, "user": user,
                                  "account_id": account.account_id,
                                  "key_id": record.get("key_id", ""), "expires": expires})
    auth.store.put_user_token(account.name, user, {
        "hash": digest, "sealed": tokens.seal(token, seal_key), "expires": expires})
    return token, expires
