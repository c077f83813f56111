"""tempauth: static users from the config and signed tokens (the rules: ``auth.authorize``).

Users are ``[filter:tempauth]`` lines in Swift's format::

    user_<account>_<user> = <key> [.admin] [.reseller_admin] [<group>...] [<storage url>]
    user64_<b64 account>_<b64 user> = ...      (names with underscores)

``reseller_prefix = AUTH, SERVICE`` with ``SERVICE_require_group = service``
gives every ``.admin`` a ``SERVICE_<account>`` too, owned only with a service
token (``X-Service-Token``) of a user in group ``service``.

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

from auth.authorize import AuthMiddleware, Identity, parse_reseller_prefixes, user_groups
from auth.s3_credentials import S3Credential, register_lookup
from objstore.common.checks import InputError, parse_int
from objstore.common.config import CLUSTER_SECTION, ConfigError, get_int, section
from objstore.common.constraints import wsgi_to_str
from objstore.common.http import Response, error_response, host_url
from objstore.common.wsgi import WSGIApp

SIG_HEX_LEN = 32
VERIFIED_CACHE_SIZE = 10000
AUTH_VERSIONS = ("v1.0", "v1", "auth")


@dataclass(frozen=True)
class User(Identity):
    """A configured user: its identity (``user`` "test:tester", ``account``
    "test", REMOTE_USER ``groups``), key and optional storage URL."""
    key: str = ""
    storage_url: str | None = None


def parse_users(options: dict[str, str], reseller_prefixes: tuple[str, ...]) -> dict[str, User]:
    """``user_*`` / ``user64_*`` config lines -> {"account:user": User}; an
    ``.admin`` owns ``<prefix><account>`` for every reseller prefix."""
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
        if extras and ("://" in extras[-1] or "$HOST" in extras[-1]):
            storage_url = extras.pop()  # as in Swift: other words are groups ("service")
        name = f"{account}:{username}"
        groups = user_groups(account, username, extras,
                             [prefix + account for prefix in reseller_prefixes])
        users[name] = User(name, account, groups, key=key, storage_url=storage_url)
    return users


def _pad_b64(text: str) -> str:
    return text + "=" * (-len(text) % 4)


class TempAuth(AuthMiddleware):
    """The filter: serves the auth endpoint and identifies token holders; the
    authorization rules are ``AuthMiddleware``'s (``auth.authorize``)."""

    swift_source = "TA"

    def __init__(self, app: WSGIApp, conf: dict[str, str], hash_salt: str = "") -> None:
        super().__init__(app, *parse_reseller_prefixes(conf))
        auth_prefix = conf.get("auth_prefix", "/auth/").strip() or "/auth/"
        self.auth_prefix = "/" + auth_prefix.strip("/") + "/"
        self.token_life = get_int(conf, "token_life", 86400)
        self.storage_url_scheme = conf.get("storage_url_scheme", "default")
        self.users = parse_users(conf, self.reseller_prefixes)
        secret = conf.get("token_secret", "")
        if not secret:
            material = "\n".join(f"{u.user}={u.key} {' '.join(u.groups)}"
                                 for u in sorted(self.users.values(), key=lambda u: u.user))
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
        payload = f"{expires}:{os.urandom(8).hex()}:{user.user}".encode("utf-8")
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
        fields = payload.decode("utf-8", "replace").split(":", 2)
        try:  # signed by whoever holds the secret: still parsed as a stranger's input
            return parse_int(fields[0], "token expiry"), fields[2]
        except (IndexError, InputError):
            return None

    def s3_credential(self, access_key: str) -> S3Credential | None:
        """``auth.s3_credentials`` lookup: the access key is ``account:user``
        and the secret the user's key (as with Swift's s3api and tempauth)."""
        user = self.users.get(access_key)
        if user is None:
            return None
        account = (user.storage_url or "").rstrip("/").rsplit("/", 1)[-1] \
            if user.storage_url else self.reseller_prefix + user.account
        return S3Credential(access_key, user.key, user.user, account, user.groups)

    # ---- WSGI ---------------------------------------------------------------------
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(self.auth_prefix) or path in ("/v1.0", "/v1.0/"):
            return self.handle_get_token(environ)(environ, start_response)
        return self.serve(environ, start_response)

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
                return self.challenge(401, environ, "User is not in that account")
        elif len(segments) != 1 or segments[0] not in AUTH_VERSIONS:
            return error_response(400, "Unknown auth path; use GET /auth/v1.0")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return error_response(400, "Auth requests are GETs")
        key = environ.get("HTTP_X_AUTH_KEY") or environ.get("HTTP_X_STORAGE_PASS") or ""
        user = self.users.get(wsgi_to_str(name) or "")
        if user is None or not hmac.compare_digest(user.key.encode("utf-8"),
                                                    (wsgi_to_str(key) or "").encode("utf-8")):
            return self.challenge(401, environ, "Invalid user or key")
        token, expires = self.issue_token(user)
        return Response(200, {
            "content-type": "text/plain; charset=UTF-8",
            "x-storage-url": self._storage_url(user, environ),
            "x-auth-token": token, "x-storage-token": token,
            "x-auth-token-expires": str(max(0, int(expires - time.time())))})

    def _storage_url(self, user: User, environ: dict) -> str:
        """The user's configured URL (``$HOST`` becomes this request's scheme://host),
        else ``<scheme>://<host>/v1/<reseller_prefix><account>``."""
        scheme = self.storage_url_scheme if self.storage_url_scheme != "default" else None
        template = user.storage_url or f"$HOST/v1/{self.reseller_prefix}{user.account}"
        return template.replace("$HOST", host_url(environ, scheme))


def filter_factory(conf: configparser.ConfigParser, options: dict | None = None
                   ) -> Callable[[WSGIApp], WSGIApp]:
    """Pipeline entry: ``[filter:tempauth] use = auth.tempauth:filter_factory``."""
    settings = {**section(conf, "filter:tempauth"), **(options or {})}
    cluster = section(conf, CLUSTER_SECTION)
    salt = cluster.get("hash_path_prefix", "") + cluster.get("hash_path_suffix", "")
    register_account_acls_info()

    def make(app: WSGIApp) -> TempAuth:
        auth = TempAuth(app, settings, hash_salt=salt)
        register_lookup(auth)
        return auth
    return make


def register_account_acls_info() -> None:
    """/info says ``"tempauth": {"account_acls": true}``: where Swift's clients and
    functional tests look for account ACLs, which swauth has too (auth.authorize)."""
    try:
        from proxy.info import register_capability  # the proxy's /info registry
    except ImportError:
        return
    register_capability("tempauth", {"account_acls": True})

