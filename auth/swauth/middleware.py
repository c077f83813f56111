"""The swauth filter: Swauth's login and admin API, and a Keystone v3 token API
(``auth.swauth.keystone``), over the store in the cluster.

::

    [pipeline:main]
    pipeline = catch_errors gatekeeper healthcheck swauth dlo slo copy proxy-server

    [filter:swauth]
    # use = auth.swauth.middleware:filter_factory   (the default for "swauth")
    reseller_prefix = AUTH            # or "AUTH, SERVICE" with SERVICE_require_group
    super_admin_key = <secret>        # the admin API is off without it
    token_life = 86400                # seconds a new token lives
    max_token_life = 86400            # cap for X-Auth-Token-Lifetime
    token_cache_life = 10             # seconds a worker trusts a checked token:
                                      # the revocation bound
    key_hash = scrypt                 # or pbkdf2, for keys set from now on
    default_swift_cluster = local#https://objects.example.com/v1   (optional;
                                      # default: the URL the admin request came to)
    keystone_api = true               # the Keystone v3 token API at /auth/v3 and /v3
    keystone_domain_id = default      # its one domain
    keystone_domain_name = Default
    keystone_region = RegionOne       # the catalog's region

Requests other than ``/auth/...`` get Swift's authorization rules
(``auth.authorize.AuthMiddleware``) with the identity a token stands for.
A token is checked against the store (its object, then its user: still
there, same ``key_id``) at most once per ``token_cache_life`` per worker.
"""
from __future__ import annotations

import configparser
import time
from typing import Callable, Iterable

from auth.authorize import AuthMiddleware, Identity, parse_reseller_prefixes, user_groups
from auth.s3_credentials import CredentialStoreError, S3Credential, register_lookup
from auth.swauth import tokens
from auth.swauth.admin import AdminAPI, group_names
from auth.swauth.keys import KDF_SCHEMES
from auth.swauth.keystone.api import KeystoneAPI
from auth.swauth.keystone.documents import Named
from auth.swauth.login import handle_login
from auth.swauth.names import BadName, check_name
from auth.swauth.store import AuthStore, StoreError
from auth.tempauth import register_account_acls_info
from objstore.common.config import ConfigError, config_true_value, get_float, get_int, section
from objstore.common.http import Response, error_response, host_url
from objstore.common.wsgi import WSGIApp
from proxy.internal.client import InternalClient

SECTION = "filter:swauth"
REDACTED_TOKEN_PATH = "/auth/v2/.token/<token>"


class Swauth(AuthMiddleware):
    swift_source = "SWTH"

    def __init__(self, app: WSGIApp, conf: dict[str, str],
                 store: AuthStore | None = None) -> None:
        super().__init__(app, *parse_reseller_prefixes(conf))
        auth_prefix = conf.get("auth_prefix", "/auth/").strip() or "/auth/"
        self.auth_prefix = "/" + auth_prefix.strip("/") + "/"
        self.super_admin_key = conf.get("super_admin_key", "")
        self.token_life = get_int(conf, "token_life", 86400)
        self.max_token_life = get_int(conf, "max_token_life", self.token_life)
        if self.token_life < 1 or self.max_token_life < 1:
            raise ConfigError(f"[{SECTION}] token_life and max_token_life must be at least 1")
        self.key_hash = conf.get("key_hash", "scrypt").strip()
        if self.key_hash not in KDF_SCHEMES:
            raise ConfigError(f"[{SECTION}] key_hash must be one of {', '.join(KDF_SCHEMES)}")
        cache_life = get_float(conf, "token_cache_life", 10.0)
        self.cache: tokens.ValidationCache[tokens.CheckedToken] = tokens.ValidationCache(cache_life)
        self.s3_cache: tokens.ValidationCache[S3Credential] = tokens.ValidationCache(cache_life)
        self.default_cluster = self._cluster(conf.get("default_swift_cluster", ""))
        self.store = store or AuthStore(InternalClient(app, source="swauth"), self.reseller_prefix)
        self.admin = AdminAPI(self)
        self.keystone = self._keystone(conf)

    def _keystone(self, conf: dict[str, str]) -> KeystoneAPI | None:
        if not config_true_value(conf.get("keystone_api", "true")):
            return None
        values = {}
        for option, default in (("keystone_domain_id", "default"),
                                ("keystone_domain_name", "Default"),
                                ("keystone_region", "RegionOne")):
            value = conf.get(option, default).strip()
            if not value or len(value) > 255 or any(ord(c) < 32 for c in value):
                raise ConfigError(f"[{SECTION}] {option} must be 1 to 255 printable characters")
            values[option] = value
        return KeystoneAPI(self, Named(values["keystone_domain_id"],
                                       values["keystone_domain_name"]),
                           values["keystone_region"])

    @staticmethod
    def _cluster(value: str) -> tuple[str, str] | None:
        if not value.strip():
            return None
        name, sep, url = value.strip().partition("#")
        if not sep or not name or not url.startswith(("http://", "https://")):
            raise ConfigError(f"[{SECTION}] default_swift_cluster must be <name>#<http(s) URL "
                              f"ending in /v1>, e.g. local#http://127.0.0.1:8080/v1")
        return name, url.rstrip("/")

    def storage_cluster(self, environ: dict) -> tuple[str, str]:
        """(cluster name, ``.../v1`` URL) a new account's storage URL starts with."""
        if self.default_cluster is not None:
            return self.default_cluster
        return "local", f"{host_url(environ)}/v1"

    # ---- WSGI -------------------------------------------------------------------------
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        mounted = self.keystone.mount(path) if self.keystone is not None else None
        if mounted is not None:
            return self.keystone.handle(environ, *mounted)(environ, start_response)
        try:
            if path.startswith(self.auth_prefix) or path in ("/v1.0", "/v1.0/"):
                return self._auth_request(environ, path)(environ, start_response)
            return self.serve(environ, start_response)
        except StoreError:
            return error_response(503, "The auth store is unavailable; try again")(
                environ, start_response)

    def _auth_request(self, environ: dict, path: str) -> Response:
        rest = path[len(self.auth_prefix):] if path.startswith(self.auth_prefix) else "v1.0"
        if rest == "v2" or rest.startswith("v2/"):
            if rest.startswith("v2/.token/"):
                # the access log prints the path: it must not print a usable token
                environ["PATH_INFO"] = environ["RAW_PATH_INFO"] = REDACTED_TOKEN_PATH
            return self.admin.handle(environ, rest[3:])
        return handle_login(self, environ, rest.strip("/").split("/"))

    def login_failed(self, environ: dict) -> Response:
        return self.challenge(401, environ, "Invalid user or key")

    # ---- tokens -----------------------------------------------------------------------
    def validate_token(self, token: str) -> Identity | None:
        checked = self.check_token(token)
        return checked.identity if checked is not None else None

    def check_token(self, token: str) -> tokens.CheckedToken | None:
        """A live token whose user still has the key it was issued for; from this
        worker's cache when checked within token_cache_life."""
        if not tokens.is_well_formed(token, self.reseller_prefix):
            return None
        digest = tokens.token_hash(token)
        cached = self.cache.get(digest)
        if cached is not None:
            return cached
        record = self.store.get_token(digest)
        if record is None:
            return None
        expires = float(record.get("expires", 0))
        if expires <= time.time():
            return None  # the cleanup pass removes it
        account, user = str(record.get("account", "")), str(record.get("user", ""))
        user_record = self.store.get_user(account, user)
        if user_record is None or user_record.get("key_id") != record.get("key_id"):
            return None
        found = tokens.CheckedToken(
            self.identity_of(account, user, str(record.get("account_id", "")), user_record),
            tokens.issued_at(record, self.token_life), expires, digest)
        self.cache.put(digest, found, expires)
        return found

    def identity_of(self, account: str, user: str, account_id: str, record: dict) -> Identity:
        suffix = account_id[len(self.reseller_prefix):] \
            if account_id.startswith(self.reseller_prefix) else account_id
        extras = [g for g in group_names(record) if g not in (f"{account}:{user}", account)]
        return Identity(f"{account}:{user}", account,
                        user_groups(account, user, extras, self.owned_accounts(suffix)))

    def revoke_token(self, digest: str) -> None:
        if digest:
            self.store.delete_token(digest)
            self.cache.forget(digest)

    def revoke_user(self, account: str, user: str) -> None:
        """Drop the user's current token (other workers: within token_cache_life;
        any token issued for an older key fails its key_id check anyway)."""
        current = self.store.get_user_token(account, user)
        if current:
            self.revoke_token(str(current.get("hash", "")))

    # ---- S3 ---------------------------------------------------------------------------
    def s3_credential(self, access_key: str) -> S3Credential | None:
        """``auth.s3_credentials`` lookup over the pairs made with ``.s3keys``."""
        cached = self.s3_cache.get(access_key)
        if cached is not None:
            return cached
        try:
            return self._find_s3_credential(access_key)
        except StoreError as err:
            raise CredentialStoreError(str(err)) from None

    def _find_s3_credential(self, access_key: str) -> S3Credential | None:
        if not access_key or access_key.startswith(".") or "/" in access_key:
            return None
        owner = self.store.get_s3_owner(access_key)
        if owner is None:
            return None
        try:
            account = check_name(str(owner.get("account", "")), "account")
            user = check_name(str(owner.get("user", "")), "user")
        except BadName:
            return None
        record = self.store.get_user(account, user)
        found = self.store.get_account(account) if record is not None else None
        pair = next((item for item in (record or {}).get("s3_keys", [])
                     if item.get("access_key") == access_key), None)
        if found is None or pair is None:
            return None
        identity = self.identity_of(account, user, found.account_id, record)
        credential = S3Credential(access_key, str(pair.get("secret_key", "")), identity.user,
                                  found.account_id, identity.groups)
        self.s3_cache.put(access_key, credential, float("inf"))
        return credential


def filter_factory(conf: configparser.ConfigParser, options: dict | None = None
                   ) -> Callable[[WSGIApp], WSGIApp]:
    """Pipeline entry: ``[filter:swauth]`` (see the module docstring)."""
    settings = {**section(conf, SECTION), **(options or {})}
    register_account_acls_info()

    def make(app: WSGIApp) -> Swauth:
        auth = Swauth(app, settings)
        register_lookup(auth)
        return auth
    return make
