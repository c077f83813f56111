"""tempauth: static users from the config, signed tokens, Swift's authorization rules.

Users are ``[filter:tempauth]`` lines in Swift's format::

    user_<account>_<user> = <key> [.admin] [.reseller_admin] [<storage url>]
    user64_<b64 account>_<b64 user> = ...      (names with underscores)

``GET /auth/v1.0`` with ``X-Auth-User: account:user`` and ``X-Auth-Key`` answers
with ``X-Storage-Url`` and ``X-Auth-Token``.  Tokens are self-validating
(``AUTH_tk`` + hex payload + HMAC) so that any proxy worker or proxy host with
the same config accepts them; nothing is kept in process memory.  The signing
secret is ``token_secret`` or, by default, derived from the user lines and the
cluster hash salt, so changing a user's key revokes that config's tokens.
"""
from __future__ import annotations

import base64
import binascii
import configparser
import hashlib
import hmac
import os
import time
from dataclasses import dataclass
from typing import Callable, Iterable
from urllib.parse import quote

from auth.acl import (
    ACLError, clean_acl, format_account_acl, parse_account_acl, parse_acl, referrer_allowed)
from objstore.common.config import CLUSTER_SECTION, ConfigError, get_int, section
from objstore.common.constraints import wsgi_to_str
from objstore.common.http import Response, error_response
from objstore.common.paths import split_api_path
from objstore.common.wsgi import WSGIApp
from proxy.infocache import get_account_info
from proxy.internal.subrequest import is_system_request

SIG_HEX_LEN = 32
VERIFIED_CACHE_SIZE = 10000
AUTH_VERSIONS = ("v1.0", "v1", "auth")
ACCOUNT_ACL_SYSMETA = "x-account-sysmeta-core-access-control"
ACCOUNT_ACL_ENV = "HTTP_X_ACCOUNT_SYSMETA_CORE_ACCESS_CONTROL"


@dataclass(frozen=True)
class User:
    account: str            # name without the reseller prefix ("test")
    name: str               # "test:tester"
    key: str
    groups: tuple[str, ...]  # REMOTE_USER groups, Swift's order: user, account, extras
    storage_url: str | None


def parse_users(options: dict[str, str], reseller_prefix: str) -> dict[str, User]:
    """``user_*`` / ``user64_*`` config lines -> {"account:user": User}."""
    users: dict[str, User] = {}
    for option, value in options.items():
        if option.startswith("user64_"):
            account_b64, sep, user_b64 = option[len("user64_"):].partition("_")
            try:
                account = base64.b64decode(_pad_b64(account_b64)).decode("utf-8")
                username = base64.b64decode(_pad_b64(user_b64)).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise ConfigError(f"[filter:tempauth] {option}: bad base64 names") from None
        elif option.startswith("user_"):
            account, sep, username = option[len("user_"):].partition("_")
        else:
            continue
        if not sep or not account or not username:
            raise ConfigError(f"[filter:tempauth] {option}: expected user_<account>_<user>")
        words = value.split()
        if not words:
            raise ConfigError(f"[filter:tempauth] {option}: missing key")
        key, extras = words[0], words[1:]
        storage_url = None
        if extras and not extras[-1].startswith("."):
            storage_url = extras.pop()
        name = f"{account}:{username}"
        groups = [name, account]
        for group in extras:
            groups.append(reseller_prefix + account if group == ".admin" else group)
        users[name] = User(account, name, key, tuple(groups), storage_url)
    return users


def _pad_b64(text: str) -> str:
    return text + "=" * (-len(text) % 4)


class TempAuth:
    """The filter: serves the auth endpoint, identifies token holders, and is
    ``swift.authorize`` for requests to accounts with its reseller prefix."""

    def __init__(self, app: WSGIApp, conf: dict[str, str], hash_salt: str = "") -> None:
        self.app = app
        prefix = conf.get("reseller_prefix", "AUTH").strip()
        self.reseller_prefix = prefix + "_" if prefix and not prefix.endswith("_") else prefix
        auth_prefix = conf.get("auth_prefix", "/auth/").strip() or "/auth/"
        self.auth_prefix = "/" + auth_prefix.strip("/") + "/"
        self.token_life = get_int(conf, "token_life", 86400)
        self.storage_url_scheme = conf.get("storage_url_scheme", "default")
        self.users = parse_users(conf, self.reseller_prefix)
        secret = conf.get("token_secret", "")
        if not secret:
            material = "\n".join(f"{u.name}={u.key} {' '.join(u.groups)}"
                                 for u in sorted(self.users.values(), key=lambda u: u.name))
            secret = hashlib.sha256(f"{hash_salt}\n{material}".encode("utf-8")).hexdigest()
        self.secret = secret.encode("utf-8")
        self._hmac = hmac.new(self.secret, digestmod=hashlib.sha256)
        self.token_prefix = self.reseller_prefix + "tk"
        # token -> (expiry, user name) of tokens whose signature already checked out
        self._verified: dict[str, tuple[int, str]] = {}

    # ---- tokens -------------------------------------------------------------------
    def _sign(self, payload: bytes) -> str:
        mac = self._hmac.copy()
        mac.update(payload)
        return mac.hexdigest()[:SIG_HEX_LEN]

    def issue_token(self, user: User, now: float | None = None) -> tuple[str, int]:
        """A new signed token for ``user`` and its absolute expiry (epoch seconds)."""
        expires = int((now if now is not None else time.time()) + self.token_life)
        payload = f"{expires}:{os.urandom(8).hex()}:{user.name}".encode("utf-8")
        return self.token_prefix + payload.hex() + self._sign(payload), expires

    def validate_token(self, token: str, now: float | None = None) -> User | None:
        """The user a token belongs to, or None if forged, expired or the user is gone."""
        now = now if now is not None else time.time()
        known = self._verified.get(token)
        if known is None:
            known = self._verify_signature(token)
            if known is None:
                return None
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.clear()
            self._verified[token] = known
        expires, name = known
        return self.users.get(name) if expires > now else None

    def _verify_signature(self, token: str) -> tuple[int, str] | None:
        body = token[len(self.token_prefix):]
        if not token.startswith(self.token_prefix) or len(body) <= SIG_HEX_LEN:
            return None
        payload_hex, sig = body[:-SIG_HEX_LEN], body[-SIG_HEX_LEN:]
        try:
            payload = bytes.fromhex(payload_hex)
        except ValueError:
            return None
        if not hmac.compare_digest(self._sign(payload), sig):
            return None
        expires, _nonce, name = payload.decode("utf-8", "replace").split(":", 2)
        return int(expires), name

    # ---- WSGI ---------------------------------------------------------------------
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(self.auth_prefix) or path in ("/v1.0", "/v1.0/"):
            return self.handle_get_token(environ)(environ, start_response)
        token = environ.get("HTTP_X_AUTH_TOKEN") or environ.get("HTTP_X_STORAGE_TOKEN")
        if is_system_request(environ):
            environ["swift_owner"] = True  # pre-authorized by the cluster: no token, no callback
        elif token and token.startswith(self.reseller_prefix):
            user = self.validate_token(token)
            if user is None:
                return self._challenge(401, environ)(environ, start_response)
            environ["REMOTE_USER"] = ",".join(user.groups)
            environ["objstore.identity"] = {"user": user.name, "account": user.account,
                                            "groups": list(user.groups)}
            environ["swift.authorize"] = self.authorize
            environ["swift.clean_acl"] = clean_acl
        elif self._is_ours(path):
            # anonymous access to our accounts: referrer ACLs may allow it
            environ["swift.authorize"] = self.authorize
            environ["swift.clean_acl"] = clean_acl
        else:
            environ.setdefault("swift.authorize", self.denied_response)
        if self._account_name(path) is not None:
            return self._account_request(environ, start_response)
        return self.app(environ, start_response)

    def _account_name(self, path: str) -> str | None:
        """The account of an account-level path (``/v1/AUTH_x``) of ours, else None."""
        api = split_api_path(path)
        if api is None or api.container or not api.account.startswith(self.reseller_prefix):
            return None
        return api.account

    def _account_request(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Account ACLs live in account sysmeta: owners set them with
        ``X-Account-Access-Control`` (validated here) and see them on GET/HEAD."""
        method = environ.get("REQUEST_METHOD")
        if method in ("PUT", "POST") and "HTTP_X_ACCOUNT_ACCESS_CONTROL" in environ:
            value = wsgi_to_str(environ.pop("HTTP_X_ACCOUNT_ACCESS_CONTROL"))
            try:
                if value is None:  # not stored: the ACL in place stays
                    raise ACLError("X-Account-Access-Control must be valid UTF-8")
                acl = parse_account_acl(value)
            except ACLError as err:
                return error_response(400, str(err))(environ, start_response)
            if (is_system_request(environ) or self.authorize(environ) is None) \
                    and environ.get("swift_owner"):
                environ[ACCOUNT_ACL_ENV] = format_account_acl(acl)
            return self.app(environ, start_response)
        if method not in ("GET", "HEAD"):
            return self.app(environ, start_response)

        def acl_start_response(status, headers, exc_info=None):
            if environ.get("swift_owner"):
                value = next((v for k, v in headers if k.lower() == ACCOUNT_ACL_SYSMETA), None)
                if value:
                    headers = list(headers) + [("X-Account-Access-Control", value)]
            return start_response(status, headers, exc_info)
        return self.app(environ, acl_start_response)

    def _is_ours(self, path: str) -> bool:
        api = split_api_path(path)
        return api is not None and api.account.startswith(self.reseller_prefix)

    def handle_get_token(self, environ: dict) -> Response:
        """``GET <auth_prefix>v1.0`` (also ``auth``, ``v1``, bare ``/v1.0``) with
        ``X-Auth-User: account:user``; or ``GET <auth_prefix>v1/<account>/auth``
        where ``X-Storage-User`` may name just the user."""
        path = environ.get("PATH_INFO", "")
        if path.startswith(self.auth_prefix):
            path = path[len(self.auth_prefix):]
        segments = path.strip("/").split("/")
        name = environ.get("HTTP_X_AUTH_USER") or environ.get("HTTP_X_STORAGE_USER") or ""
        if len(segments) == 3 and segments[0] == "v1" and segments[2] == "auth":
            if ":" not in name:
                name = f"{segments[1]}:{name}"
            elif name.split(":", 1)[0] != segments[1]:
                return self._challenge(401, environ, "User is not in that account")
        elif len(segments) != 1 or segments[0] not in AUTH_VERSIONS:
            return error_response(400, "Unknown auth path; use GET /auth/v1.0")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return error_response(400, "Auth requests are GETs")
        key = environ.get("HTTP_X_AUTH_KEY") or environ.get("HTTP_X_STORAGE_PASS") or ""
        user = self.users.get(wsgi_to_str(name) or "")
        if user is None or not hmac.compare_digest(user.key.encode("utf-8"),
                                                    (wsgi_to_str(key) or "").encode("utf-8")):
            return self._challenge(401, environ, "Invalid user or key")
        token, expires = self.issue_token(user)
        return Response(200, {
            "content-type": "text/plain; charset=UTF-8",
            "x-storage-url": self._storage_url(user, environ),
            "x-auth-token": token, "x-storage-token": token,
            "x-auth-token-expires": str(max(0, int(expires - time.time())))})

    def _storage_url(self, user: User, environ: dict) -> str:
        """The user's configured URL (``$HOST`` becomes this request's scheme://host),
        else ``<scheme>://<host>/v1/<reseller_prefix><account>``."""
        scheme = environ.get("wsgi.url_scheme", "http")
        if self.storage_url_scheme != "default":
            scheme = self.storage_url_scheme
        host = environ.get("HTTP_HOST") or "%s:%s" % (environ.get("SERVER_NAME", "127.0.0.1"),
                                                      environ.get("SERVER_PORT", "8080"))
        template = user.storage_url or f"$HOST/v1/{self.reseller_prefix}{user.account}"
        return template.replace("$HOST", f"{scheme}://{host}")

    def _challenge(self, status: int, environ: dict, message: str | None = None) -> Response:
        if status == 403:
            return error_response(403, message)
        api = split_api_path(environ.get("PATH_INFO", ""))
        realm = api.account if api is not None else "unknown"
        # quoted as in the URL, so a crafted account name cannot break the header
        realm = quote(realm.encode("latin-1", "replace"), safe="/")
        return error_response(401, message, {"www-authenticate": f'Swift realm="{realm}"'})

    def denied_response(self, req) -> Response:
        """403 for an authenticated user, 401 for an anonymous one."""
        environ = _environ_of(req)
        return self._challenge(403 if environ.get("REMOTE_USER") else 401, environ)

    def authorize(self, req) -> Response | None:
        """Swift's ``swift.authorize``: None to allow, or the denial to send.

        ``req`` is a request object (``req.environ``, optional ``req.acl`` set by
        the proxy to the container's read or write ACL) or a bare environ (ACL
        in ``environ['swift.acl']``).
        """
        environ = _environ_of(req)
        acl = getattr(req, "acl", None) if not isinstance(req, dict) else None
        if acl is None:
            acl = environ.get("swift.acl")
        api = split_api_path(environ.get("PATH_INFO", ""))
        if api is None:
            return self.denied_response(environ)
        account = wsgi_to_str(api.account) or ""
        container = api.container or ""
        obj = api.obj or ""
        if not account.startswith(self.reseller_prefix):
            return self.denied_response(environ)
        groups = (environ.get("REMOTE_USER") or "").split(",") if environ.get("REMOTE_USER") else []
        method = environ.get("REQUEST_METHOD", "GET")
        if (".reseller_admin" in groups and account != self.reseller_prefix
                and not account[len(self.reseller_prefix):].startswith(".")):
            environ["swift_owner"] = True
            return None
        if account in groups and (method not in ("DELETE", "PUT") or container):
            # the account's admin, except creating/deleting the account itself
            environ["swift_owner"] = True
            return None
        if method == "OPTIONS":
            return None
        referrers, acl_groups = parse_acl(acl)
        if referrer_allowed(environ.get("HTTP_REFERER"), referrers):
            if obj or ".rlistings" in acl_groups:
                return None
            return self.denied_response(environ)
        if any(group in acl_groups for group in groups):
            return None
        if groups and self._account_acl_allows(environ, groups, method, container):
            return None
        return self.denied_response(environ)

    def _account_acl_allows(self, environ: dict, groups: list[str], method: str, container: str) -> bool:
        """Swift's account ACL levels: admin = owner; read-write = anything but
        account-level writes; read-only = GET/HEAD."""
        info = get_account_info(environ, self.app, swift_source="TA")
        raw = (info.get("sysmeta") or {}).get("core-access-control")
        if not raw:
            return False
        try:
            acl = parse_account_acl(wsgi_to_str(raw) or "")
        except ACLError:
            return False
        mine = set(groups)
        if mine & set(acl["admin"]):
            environ["swift_owner"] = True
            return True
        if mine & set(acl["read-write"]) and (container or method in ("GET", "HEAD")):
            return True
        return bool(mine & set(acl["read-only"])) and method in ("GET", "HEAD")


def _environ_of(req) -> dict:
    return req if isinstance(req, dict) else req.environ


def filter_factory(conf: configparser.ConfigParser, options: dict | None = None
                   ) -> Callable[[WSGIApp], WSGIApp]:
    """Pipeline entry: ``[filter:tempauth] use = auth.tempauth:filter_factory``."""
    settings = {**section(conf, "filter:tempauth"), **(options or {})}
    cluster = section(conf, CLUSTER_SECTION)
    salt = cluster.get("hash_path_prefix", "") + cluster.get("hash_path_suffix", "")
    _register_info(settings)

    def make(app: WSGIApp) -> TempAuth:
        return TempAuth(app, settings, hash_salt=salt)
    return make


def _register_info(settings: dict[str, str]) -> None:
    try:
        from proxy.info import register_capability  # the proxy's /info registry
    except ImportError:
        return
    register_capability("tempauth", {"account_acls": True})

