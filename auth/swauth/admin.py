"""Swauth's admin API, ``/auth/v2/...``, with ``X-Auth-Admin-User`` / ``X-Auth-Admin-Key``.

=========================================  ==================  =====================================
request                                    who may             answers
=========================================  ==================  =====================================
``POST /auth/v2/.prep``                    super admin         204 (creates the store's containers)
``GET /auth/v2/``                          reseller admin      200 ``{"accounts": [{"name": ..}]}``
``PUT /auth/v2/<account>``                 reseller admin      201 created, 202 existed
                                                               (``X-Account-Suffix``: the storage
                                                               account's name after the prefix;
                                                               default a UUID)
``GET /auth/v2/<account>``                 account admin       200 ``account_id``, ``services``,
                                                               ``users``
``DELETE /auth/v2/<account>``              reseller admin      204; 409 while it has users
``GET /auth/v2/<account>/.groups``         account admin       200 ``{"groups": [{"name": ..}]}``
``POST /auth/v2/<account>/.services``      reseller admin      200 the merged services JSON
``PUT /auth/v2/<account>/<user>``          account admin, or   201; ``X-Auth-User-Key`` or
                                           the user itself     ``X-Auth-User-Key-Hash``,
                                           (its key only)      ``X-Auth-User-Admin: true``,
                                                               ``X-Auth-User-Reseller-Admin: true``
                                                               (super admin only),
                                                               ``X-Auth-User-Groups: service``
                                                               (reseller admin; an extension)
``GET /auth/v2/<account>/<user>``          account admin,      200 ``{"groups": [...]}`` (never the
                                           the user itself     key or its hash)
``DELETE /auth/v2/<account>/<user>``       account admin       204
``POST /auth/v2/<account>/<user>/.s3keys`` account admin,      201 ``{"access_key", "secret_key"}``
                                           the user itself     (``X-Auth-S3-Access-Key`` /
                                                               ``X-Auth-S3-Secret-Key`` to give
                                                               them; the secret is shown once)
``GET .../<user>/.s3keys``                 same                200 ``{"s3_keys": [{"access_key"}]}``
``DELETE .../<user>/.s3keys/<access_key>`` same                204
``GET /auth/v2/.token/<token>``            reseller admin      204 ``X-Auth-TTL``, ``X-Auth-Groups``
``POST /auth/v2/.cleanup_tokens``          super admin         200 ``{"checked", "removed",
                                                               "failed"}`` (an extension)
=========================================  ==================  =====================================

Rights, as in Swauth: super admin (``.super_admin`` with ``super_admin_key``) >
reseller admin (``.reseller_admin``: every account) > account admin (``.admin``:
its own account's users) > user; an account admin may not touch a reseller
admin, and nobody raises their own rights.  Bad or missing credentials are
401, insufficient rights 403, malformed requests 400 with the reason; the
caller is authenticated (the same 401, the same work, whether the admin user
exists or not) and its rights checked before anything about the target is
looked up.  Changing a user's key or deleting the user revokes its token.
"""
from __future__ import annotations

import hmac
import json
import secrets
import string
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable
from urllib.parse import unquote

from auth.swauth import keys
from auth.swauth.cleanup import remove_expired_tokens
from auth.swauth.names import BadName, check_name
from auth.swauth.store import Account
from objstore.common.checks import InputError, read_json_body
from objstore.common.constraints import wsgi_to_str
from objstore.common.http import Response, empty_response, error_response

if TYPE_CHECKING:
    from auth.swauth.middleware import Swauth

MAX_BODY_BYTES = 65536
MAX_S3_KEYS_PER_USER = 16
ACCESS_KEY_CHARS = string.ascii_uppercase + string.digits
S3_KEY_ALLOWED = set(string.ascii_letters + string.digits + ":_-.+=@")
SUFFIX_ALLOWED = set(string.ascii_letters + string.digits + "_-.")


class Refused(Exception):
    """Stop handling with ``response`` (raised from deep inside a handler)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def bad_request(message: str) -> Refused:
    return Refused(error_response(400, message))


@dataclass(frozen=True)
class Caller:
    """Who sent an admin request (already authenticated)."""
    super_admin: bool = False
    account: str = ""
    user: str = ""
    groups: frozenset[str] = field(default_factory=frozenset)

    @property
    def reseller_admin(self) -> bool:
        return self.super_admin or ".reseller_admin" in self.groups

    def admin_of(self, account: str) -> bool:
        return self.reseller_admin or (self.account == account and ".admin" in self.groups)

    def is_user(self, account: str, user: str) -> bool:
        return not self.super_admin and self.account == account and self.user == user


def json_response(status: int, value: object) -> Response:
    return Response(status, {"content-type": "application/json; charset=utf-8"},
                    json.dumps(value).encode("utf-8"))


def group_names(record: dict) -> list[str]:
    return [g["name"] for g in record.get("groups", []) if isinstance(g, dict) and "name" in g]


class AdminAPI:
    def __init__(self, auth: "Swauth") -> None:
        self.auth = auth
        self.store = auth.store

    # ---- entry ------------------------------------------------------------------------
    def handle(self, environ: dict, rest: str) -> Response:
        if not self.auth.super_admin_key:
            return error_response(404, "The admin API is off: no super_admin_key is set")
        try:
            segments = self._segments(rest)
            handler = self._route(environ.get("REQUEST_METHOD", ""), segments)
            caller = self._authenticate(environ)
            return handler(environ, caller, segments)
        except Refused as refused:
            return refused.response

    @staticmethod
    def _segments(rest: str) -> list[str]:
        decoded = wsgi_to_str(rest)
        if decoded is None:
            raise bad_request("The path is not valid UTF-8")
        segments = decoded.split("/")
        if segments and segments[-1] == "":
            segments.pop()  # a trailing slash
        if "" in segments:
            raise bad_request("Empty name in the path")
        return segments

    def _route(self, method: str, segments: list[str]) -> Callable:
        count = len(segments)
        first = segments[0] if segments else ""
        routes: dict[tuple[str, int], Callable] = {
            ("GET", 0): self.list_accounts,
            ("GET", 1): self.get_account, ("PUT", 1): self.put_account,
            ("DELETE", 1): self.delete_account,
            ("GET", 2): self.get_user, ("PUT", 2): self.put_user, ("DELETE", 2): self.delete_user,
            ("POST", 3): self.create_s3_key, ("GET", 3): self.list_s3_keys,
            ("DELETE", 4): self.delete_s3_key,
        }
        if first == ".prep" and count == 1:
            return self.prep if method == "POST" else self._not_allowed("POST")
        if first == ".cleanup_tokens" and count == 1:
            return self.cleanup_tokens if method == "POST" else self._not_allowed("POST")
        if first == ".token" and count == 2 and method == "GET":
            return self.validate_token
        if count == 2 and segments[1] == ".groups" and method == "GET":
            return self.list_groups
        if count == 2 and segments[1] == ".services" and method == "POST":
            return self.set_services
        if count >= 3 and segments[2] != ".s3keys":
            raise bad_request("Unknown admin path: below a user only .s3keys exists")
        handler = routes.get((method, count))
        if handler is None:
            raise bad_request(f"No admin request {method} with {count} path segment(s); "
                              f"see the Swauth v2 API")
        return handler

    @staticmethod
    def _not_allowed(allowed: str) -> Callable:
        def handler(*_args) -> Response:
            return error_response(405, f"Use {allowed} here", {"allow": allowed})
        return handler

    def _authenticate(self, environ: dict) -> Caller:
        name = wsgi_to_str(environ.get("HTTP_X_AUTH_ADMIN_USER", "")) or ""
        key = wsgi_to_str(environ.get("HTTP_X_AUTH_ADMIN_KEY", "")) or ""
        denied = Refused(error_response(401, "Invalid admin user or key"))
        if name == ".super_admin":
            if key and hmac.compare_digest(key.encode("utf-8"),
                                           self.auth.super_admin_key.encode("utf-8")):
                return Caller(super_admin=True)
            raise denied
        account, _, user = name.partition(":")
        try:
            check_name(account, "account")
            check_name(user, "user")
        except BadName:
            keys.waste_time_like_a_check(key)
            raise denied from None
        record = self.store.get_user(account, user)
        if record is None:
            keys.waste_time_like_a_check(key)
            raise denied
        if keys.verify_key(key, str(record.get("auth", "")), str(record.get("key_id", ""))) is None:
            raise denied
        return Caller(account=account, user=user, groups=frozenset(group_names(record)))

    # ---- helpers ------------------------------------------------------------------------
    @staticmethod
    def _forbidden() -> Refused:
        return Refused(error_response(403, "Insufficient rights for this request"))

    def _require(self, allowed: bool) -> None:
        if not allowed:
            raise self._forbidden()

    @staticmethod
    def _name(value: str, kind: str) -> str:
        try:
            return check_name(value, kind)
        except BadName as err:
            raise bad_request(str(err)) from None

    def _account(self, name: str) -> Account:
        account = self.store.get_account(name)
        if account is None:
            raise Refused(error_response(404, "No such account"))
        return account

    def _user(self, account: str, user: str) -> dict:
        record = self.store.get_user(account, user)
        if record is None:
            raise Refused(error_response(404, "No such user"))
        return record

    def _may_manage(self, caller: Caller, account: str, user: str, record: dict | None,
                    self_allowed: bool) -> None:
        """Account admins manage their account's users, but reseller admins only
        the super admin (or, where ``self_allowed``, the user itself)."""
        if caller.super_admin or (self_allowed and caller.is_user(account, user)):
            return
        if record is not None and ".reseller_admin" in group_names(record):
            raise self._forbidden()
        self._require(caller.admin_of(account))

    @staticmethod
    def _body_json(environ: dict) -> object:
        try:
            return read_json_body(environ, "Request body", MAX_BODY_BYTES)
        except InputError as err:
            raise Refused(error_response(err.status, str(err))) from None

    # ---- the store and accounts -------------------------------------------------------
    def prep(self, environ: dict, caller: Caller, segments: list[str]) -> Response:
        self._require(caller.super_admin)
        self.store.prep()
        return empty_response(204)

    def cleanup_tokens(self, environ: dict, caller: Caller, segments: list[str]) -> Response:
        self._require(caller.super_admin)
        return json_response(200, remove_expired_tokens(self.store))

    def list_accounts(self, environ: dict, caller: Caller, segments: list[str]) -> Response:
        self._require(caller.reseller_admin)
        return json_response(200, {"accounts": [{"name": n} for n in self.store.list_accounts()]})

    def get_account(self, environ: dict, caller: Caller, segments: list[str]) -> Response:
        name = self._name(segments[0], "account")
        self._require(caller.admin_of(name))
        account = self._account(name)
        return json_response(200, {
            "account_id": account.account_id, "services": self.store.get_services(name) or {},
            "users": [{"name": user} for user in self.store.list_users(name)]})

    def put_account(self, environ: dict, caller: Caller, segments: list[str]) -> Response:
        name = self._name(segments[0], "account")
        self._require(caller.reseller_admin)
        suffix = wsgi_to_str(environ.get("HTTP_X_ACCOUNT_SUFFIX", "")) or ""
        if suffix and (len(suffix) > 128 or suffix.startswith(".")
                       or not set(suffix) <= SUFFIX_ALLOWED):
            raise bad_request("X-Account-Suffix: up to 128 letters, digits, '_', '-' or '.', "
                              "not starting with '.'")
        if self.store.get_account(name) is not None:
            return empty_response(202)
        if not self.store.is_prepared():
            return error_response(409, "The auth store is not prepared: POST /auth/v2/.prep first")
        account_id = self.auth.reseller_prefix + (suffix or str(uuid.uuid4()))
        owner = self.store.account_of_id(account_id)
        if owner is not None and owner != name:
            return error_response(409, f"Storage account {account_id} belongs to another account")
        cluster, url = self.auth.storage_cluster(environ)
        services = {"storage": {"default": cluster, cluster: f"{url}/{account_id}"}}
        self.store.create_account(name, account_id, services)
        return empty_response(201)

    def delete_account(self, environ: dict, caller: Caller, segments: list[str]) -> Response:
        name = self._name(segments[0], "account")
        self._require(caller.reseller_admin)
        account = self._account(name)
        if self.store.list_users(name):
            return error_response(409, "The account still has users: delete them first")
        self.store.delete_account(account)
        return empty_response(204)

    def list_groups(self, environ: dict, caller: Caller, segments: list[str]) -> Response:
        name = self._name(segments[0], "account")
        self._require(caller.admin_of(name))
        self._account(name)
        groups: set[str] = set()
        for user in self.store.list_users(name):
            record = self.store.get_user(name, user)
            if record is not None:
                groups.update(group_names(record))
        return json_response(200, {"groups": [{"name": g} for g in sorted(groups)]})

    def set_services(self, environ: dict, caller: Caller, segments: list[str]) -> Response:
        name = self._name(segments[0], "account")
        self._require(caller.reseller_admin)
        new = self._body_json(environ)
        if not isinstance(new, dict) or not all(
                isinstance(k, str) and isinstance(v, dict)
                and all(isinstance(a, str) and isinstance(b, str) for a, b in v.items())
                for k, v in new.items()):
            raise bad_request('The body must be {"<service>": {"<name>": "<value>"}}')
        self._account(name)
        services = self.store.get_services(name) or {}
        for service, endpoints in new.items():
            merged = services.get(service) if isinstance(services.get(service), dict) else {}
            services[service] = {**merged, **endpoints}
        self.store.put_services(name, services)
        return json_response(200, services)

    # ---- users --------------------------------------------------------------------------
    def get_user(self, environ: dict, caller: Caller, segments: list[str]) -> Response:
        account, user = self._name(segments[0], "account"), self._name(segments[1], "user")
        self._require(caller.admin_of(account) or caller.is_user(account, user))
        record = self._user(account, user)
        groups = group_names(record)
        if not caller.is_user(account, user) and (
                (".reseller_admin" in groups and not caller.super_admin)
                or (".admin" in groups and not caller.reseller_admin)):
            raise self._forbidden()  # as Swauth: admins are shown to those above them
        return json_response(200, {"groups": [{"name": g} for g in groups]})

    def put_user(self, environ: dict, caller: Caller, segments: list[str]) -> Response:
        account, user = self._name(segments[0], "account"), self._name(segments[1], "user")
        reseller = environ.get("HTTP_X_AUTH_USER_RESELLER_ADMIN", "").lower() == "true"
        admin = reseller or environ.get("HTTP_X_AUTH_USER_ADMIN", "").lower() == "true"
        myself = caller.is_user(account, user)
        self._require(caller.admin_of(account) or myself)
        if reseller:  # only the super admin makes reseller admins; one may keep being one
            self._require(caller.super_admin or (myself and caller.reseller_admin))
        if admin:
            self._require(caller.admin_of(account))
        extra = self._extra_groups(environ)
        if extra is not None:
            self._require(caller.reseller_admin)
        stored = self._key_hash(environ)
        self._account(account)
        old = self.store.get_user(account, user)
        self._may_manage(caller, account, user, old, self_allowed=True)
        if extra is None:  # a key change keeps the groups a reseller admin gave
            extra = [g for g in group_names(old or {})[2:] if not g.startswith(".")]
        groups = [f"{account}:{user}", account] + [".admin"] * admin + \
            [".reseller_admin"] * reseller + extra
        record = {"auth": stored, "groups": [{"name": g} for g in groups],
                  "key_id": secrets.token_hex(16), "s3_keys": (old or {}).get("s3_keys", [])}
        if not self.store.put_user(account, user, record):
            raise Refused(error_response(404, "No such account"))
        self.auth.revoke_user(account, user)
        return empty_response(201)

    def _extra_groups(self, environ: dict) -> list[str] | None:
        """``X-Auth-User-Groups: service,ops`` (an objstore extension, for service
        users): None when not given."""
        raw = environ.get("HTTP_X_AUTH_USER_GROUPS")
        if raw is None:
            return None
        groups = [g.strip() for g in (wsgi_to_str(raw) or "").split(",") if g.strip()]
        for group in groups:
            if (len(group) > 64 or group.startswith(".") or ":" in group
                    or self.auth.account_prefix(group) is not None
                    or not set(group) <= SUFFIX_ALLOWED):
                raise bad_request(f"X-Auth-User-Groups: {group!r} is not a group name (up to 64 "
                                  f"letters, digits, '_', '-', '.'; not a storage account)")
        return list(dict.fromkeys(groups))

    def _key_hash(self, environ: dict) -> str:
        key = environ.get("HTTP_X_AUTH_USER_KEY")
        given_hash = environ.get("HTTP_X_AUTH_USER_KEY_HASH")
        if (key is None) == (given_hash is None):
            raise bad_request("Give one of X-Auth-User-Key and X-Auth-User-Key-Hash")
        if key is not None:
            plain = unquote(wsgi_to_str(key) or "")
            if not plain or len(plain.encode("utf-8")) > keys.MAX_KEY_BYTES:
                raise bad_request(f"X-Auth-User-Key must be 1 to {keys.MAX_KEY_BYTES} bytes")
            return keys.hash_key(plain, self.auth.key_hash).stored
        try:
            return keys.check_key_hash(unquote(wsgi_to_str(given_hash) or ""))
        except keys.KeyHashError as err:
            raise bad_request(f"X-Auth-User-Key-Hash: {err}") from None

    def delete_user(self, environ: dict, caller: Caller, segments: list[str]) -> Response:
        account, user = self._name(segments[0], "account"), self._name(segments[1], "user")
        self._require(caller.admin_of(account))
        record = self._user(account, user)
        self._may_manage(caller, account, user, record, self_allowed=False)
        for item in record.get("s3_keys", []):
            self.store.delete_s3_owner(str(item.get("access_key", "")))
            self.auth.s3_cache.forget(str(item.get("access_key", "")))
        self.auth.revoke_user(account, user)
        self.store.delete_user(account, user)
        return empty_response(204)

    # ---- S3 keys --------------------------------------------------------------------------
    def _s3_target(self, caller: Caller, segments: list[str]) -> tuple[str, str, dict]:
        account, user = self._name(segments[0], "account"), self._name(segments[1], "user")
        self._require(caller.admin_of(account) or caller.is_user(account, user))
        record = self._user(account, user)
        self._may_manage(caller, account, user, record, self_allowed=True)
        return account, user, record

    def create_s3_key(self, environ: dict, caller: Caller, segments: list[str]) -> Response:
        account, user, record = self._s3_target(caller, segments)
        access = wsgi_to_str(environ.get("HTTP_X_AUTH_S3_ACCESS_KEY", "")) or \
            "".join(secrets.choice(ACCESS_KEY_CHARS) for _ in range(20))
        secret = wsgi_to_str(environ.get("HTTP_X_AUTH_S3_SECRET_KEY", "")) or \
            secrets.token_urlsafe(30)
        for value, what in ((access, "access key"), (secret, "secret key")):
            if not 1 <= len(value) <= 128 or not set(value) <= S3_KEY_ALLOWED:
                raise bad_request(f"S3 {what}: 1 to 128 letters, digits or ':_-.+=@'")
        if access.startswith("."):
            raise bad_request("S3 access key may not start with '.'")
        pairs = list(record.get("s3_keys", []))
        if len(pairs) >= MAX_S3_KEYS_PER_USER:
            return error_response(409, f"A user has at most {MAX_S3_KEYS_PER_USER} S3 keys")
        if self.store.get_s3_owner(access) is not None:
            return error_response(409, "That access key is taken")
        self.store.put_s3_owner(access, account, user)
        pairs.append({"access_key": access, "secret_key": secret})
        self.store.put_user(account, user, {**record, "s3_keys": pairs})
        return json_response(201, {"access_key": access, "secret_key": secret})

    def list_s3_keys(self, environ: dict, caller: Caller, segments: list[str]) -> Response:
        _, _, record = self._s3_target(caller, segments)
        return json_response(200, {"s3_keys": [{"access_key": item.get("access_key")}
                                               for item in record.get("s3_keys", [])]})

    def delete_s3_key(self, environ: dict, caller: Caller, segments: list[str]) -> Response:
        account, user, record = self._s3_target(caller, segments)
        access = segments[3]
        pairs = [item for item in record.get("s3_keys", []) if item.get("access_key") != access]
        if len(pairs) == len(record.get("s3_keys", [])):
            return error_response(404, "No such S3 access key for this user")
        self.store.put_user(account, user, {**record, "s3_keys": pairs})
        self.store.delete_s3_owner(access)
        self.auth.s3_cache.forget(access)
        return empty_response(204)

    # ---- tokens -----------------------------------------------------------------------------
    def validate_token(self, environ: dict, caller: Caller, segments: list[str]) -> Response:
        self._require(caller.reseller_admin)
        checked = self.auth.check_token(segments[1])
        if checked is None:
            return error_response(404, "No such token")
        return empty_response(204, {
            "x-auth-ttl": str(max(0, int(checked.expires - time.time()))),
            "x-auth-groups": ",".join(checked.identity.groups)})
