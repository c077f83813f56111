"""Swift's authorization rules, shared by every auth middleware (tempauth, swauth).

An auth middleware only *authenticates*: it answers its own endpoints and turns
a token into an ``Identity`` (``validate_token``).  ``AuthMiddleware`` does the
rest, the same way for all of them, as Swift's tempauth does:

- groups: ``account:user``, ``account``, the user's extra groups; ``.admin``
  becomes the storage accounts the user owns (one per reseller prefix,
  ``AUTH_test`` and ``SERVICE_test``), see ``user_groups``;
- ``.reseller_admin`` owns every account of our prefixes but the hidden ones;
- an account's owner may do anything in it but create or delete it;
- container ACLs (``X-Container-Read``/``-Write``: groups, ``.r:`` referrers,
  ``.rlistings``; ``auth.acl``) and account ACLs (``X-Account-Access-Control``:
  ``admin`` / ``read-write`` / ``read-only``, kept in account sysmeta);
- service tokens: ``X-Service-Token`` adds the groups of a second user, and a
  reseller prefix with ``<PREFIX>_require_group = <group>`` in the config
  (say ``SERVICE_require_group = service``) makes its accounts owned only by
  requests carrying a token of that group too (so a user alone cannot change
  what a service keeps in ``SERVICE_<account>``);
- hidden accounts (``<prefix>.<name>``, e.g. the auth store ``AUTH_.auth``)
  are denied to every client request (403 with a valid token, even a
  reseller admin's; 401 without); only the cluster's own pre-authorized
  system requests reach them.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence
from urllib.parse import quote

from auth.acl import (
    ACLError, clean_acl, format_account_acl, parse_account_acl, parse_acl, referrer_allowed)
from objstore.common.constraints import wsgi_to_str
from objstore.common.http import Response, error_response
from objstore.common.paths import split_api_path
from objstore.common.wsgi import WSGIApp
from proxy.infocache import get_account_info
from proxy.internal.subrequest import is_system_request

ACCOUNT_ACL_SYSMETA = "x-account-sysmeta-core-access-control"
ACCOUNT_ACL_ENV = "HTTP_X_ACCOUNT_SYSMETA_CORE_ACCESS_CONTROL"
# set (to True, with its own ``swift.authorize``) by a middleware that authorized
# the request itself, from a signature rather than a token (Swift's name)
AUTHORIZE_OVERRIDE = "swift.authorize_override"
MAX_TOKEN_LENGTH = 4096  # swauth tokens are 39 characters, tempauth ones grow with the
# user name; a longer one is refused unread


@dataclass(frozen=True)
class Identity:
    """Who a token belongs to: ``user`` ("test:tester"), its auth ``account``
    ("test") and its groups in Swift's order (``REMOTE_USER``)."""
    user: str
    account: str
    groups: tuple[str, ...]


def parse_reseller_prefixes(conf: dict[str, str]) -> tuple[tuple[str, ...], dict[str, str]]:
    """``reseller_prefix = AUTH, SERVICE`` -> (("AUTH_", "SERVICE_"), {prefix: required group})
    from the ``<PREFIX>_require_group`` options."""
    prefixes = []
    for raw in (conf.get("reseller_prefix", "AUTH") or "AUTH").split(","):
        prefix = raw.strip()
        if prefix and not prefix.endswith("_"):
            prefix += "_"
        if prefix and prefix not in prefixes:
            prefixes.append(prefix)
    if not prefixes:
        prefixes = ["AUTH_"]
    required = {}
    for prefix in prefixes:
        group = conf.get(f"{prefix}require_group", "").strip()
        if group:
            required[prefix] = group
    return tuple(prefixes), required


def user_groups(account: str, user: str, extras: Iterable[str],
                owned_accounts: Sequence[str]) -> tuple[str, ...]:
    """Swift's group list: ``account:user``, ``account``, the extra groups with
    ``.admin`` replaced by the storage accounts the user then owns."""
    groups = [f"{account}:{user}", account]
    for group in extras:
        if group == ".admin":
            groups.extend(name for name in owned_accounts if name not in groups)
        elif group not in groups:
            groups.append(group)
    return tuple(groups)


class AuthMiddleware(abc.ABC):
    """The authorization half of an auth filter: identify token holders,
    install ``swift.authorize`` for our accounts, and apply the rules above."""

    swift_source = "AUTH"

    def __init__(self, app: WSGIApp, reseller_prefixes: Sequence[str],
                 require_groups: dict[str, str] | None = None) -> None:
        self.app = app
        self.reseller_prefixes = tuple(reseller_prefixes)
        self.reseller_prefix = self.reseller_prefixes[0]
        self.require_groups = dict(require_groups or {})

    @abc.abstractmethod
    def validate_token(self, token: str) -> Identity | None:
        """The identity a token stands for, or None (forged, expired, revoked)."""

    # ---- names --------------------------------------------------------------------
    def account_prefix(self, account: str) -> str | None:
        """The reseller prefix ``account`` falls under, or None if not ours."""
        return next((p for p in self.reseller_prefixes if account.startswith(p)), None)

    def owned_accounts(self, suffix: str) -> tuple[str, ...]:
        """The storage accounts an ``.admin`` of ``suffix`` owns: one per prefix."""
        return tuple(prefix + suffix for prefix in self.reseller_prefixes)

    def is_hidden(self, account: str) -> bool:
        """``<prefix>`` itself or ``<prefix>.<name>``: the cluster's own accounts."""
        prefix = self.account_prefix(account)
        return prefix is not None and (account == prefix or account[len(prefix)] == ".")

    def _api_account(self, path: str) -> tuple[str, bool] | None:
        """(decoded account, whether the path is account-level) of an API path, else None."""
        api = split_api_path(path)
        if api is None:
            return None
        return wsgi_to_str(api.account) or "", not api.container

    # ---- the request path -----------------------------------------------------------
    def serve(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Everything but the middleware's own endpoints goes through here."""
        if environ.get(AUTHORIZE_OVERRIDE) is True:
            # a middleware left of us (tempurl, formpost) checked a signature and
            # installed its own swift.authorize: no token is needed or looked at
            return self.app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        api = self._api_account(path)
        token = environ.get("HTTP_X_AUTH_TOKEN") or environ.get("HTTP_X_STORAGE_TOKEN")
        if is_system_request(environ):
            environ["swift_owner"] = True  # pre-authorized by the cluster: no token, no callback
        elif token and self.account_prefix(token) is not None:
            identity = self._identify(token)
            if identity is None:
                return self.challenge(401, environ)(environ, start_response)
            self._install(environ, identity)
        elif api is not None and self.account_prefix(api[0]) is not None:
            # anonymous access to our accounts: referrer ACLs may allow it
            environ["swift.authorize"] = self.authorize
            environ["swift.clean_acl"] = clean_acl
        else:
            environ.setdefault("swift.authorize", self.denied_response)
        if api is not None and api[1] and self.account_prefix(api[0]) is not None:
            return self._account_request(environ, start_response)
        return self.app(environ, start_response)

    def _identify(self, token: str) -> Identity | None:
        if len(token) > MAX_TOKEN_LENGTH:
            return None
        return self.validate_token(token)

    def _install(self, environ: dict, identity: Identity) -> None:
        """Make the request the identity's, with a valid service token's groups added."""
        groups = list(identity.groups)
        service_token = environ.get("HTTP_X_SERVICE_TOKEN")
        if service_token and self.account_prefix(service_token) is not None:
            service = self._identify(service_token)
            if service is not None:  # an invalid one adds nothing (as in Swift)
                groups.extend(g for g in service.groups if g not in groups)
        environ["REMOTE_USER"] = ",".join(groups)
        environ["objstore.identity"] = {"user": identity.user, "account": identity.account,
                                        "groups": list(identity.groups)}
        environ["swift.authorize"] = self.authorize
        environ["swift.clean_acl"] = clean_acl
        if ".reseller_admin" in identity.groups:
            environ["reseller_request"] = True  # what account_quotas lets set quotas

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

    # ---- answers ------------------------------------------------------------------
    def challenge(self, status: int, environ: dict, message: str | None = None) -> Response:
        if status == 403:
            return error_response(403, message)
        return unauthorized(environ, message)

    def denied_response(self, req) -> Response:
        """403 for an authenticated user, 401 for an anonymous one."""
        environ = _environ_of(req)
        return self.challenge(403 if environ.get("REMOTE_USER") else 401, environ)

    # ---- the rules ------------------------------------------------------------------
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
        prefix = self.account_prefix(account)
        if prefix is None or self.is_hidden(account):
            return self.denied_response(environ)
        groups = (environ.get("REMOTE_USER") or "").split(",") if environ.get("REMOTE_USER") else []
        method = environ.get("REQUEST_METHOD", "GET")
        if ".reseller_admin" in groups:
            environ["swift_owner"] = True
            return None
        required = self.require_groups.get(prefix)
        if account in groups and (method not in ("DELETE", "PUT") or container) \
                and (required is None or required in groups):
            # the account's admin, except creating/deleting the account itself
            environ["swift_owner"] = True
            return None
        if method == "OPTIONS":
            return None
        referrers, acl_groups = parse_acl(acl)
        if referrer_allowed(environ.get("HTTP_REFERER"), referrers):
            if api.obj or ".rlistings" in acl_groups:
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
        info = get_account_info(environ, self.app, swift_source=self.swift_source)
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


def unauthorized(environ: dict, message: str | None = None, newline: bool = True) -> Response:
    """401 with Swift's ``WWW-Authenticate: Swift realm="<account>"``."""
    api = split_api_path(environ.get("PATH_INFO", ""))
    realm = api.account if api is not None else "unknown"
    # quoted as in the URL, so a crafted account name cannot break the header
    realm = quote(realm.encode("latin-1", "replace"), safe="/")
    return error_response(401, message, {"www-authenticate": f'Swift realm="{realm}"'}, newline)


def _environ_of(req) -> dict:
    return req if isinstance(req, dict) else req.environ
