"""The Identity API v3 token endpoint, answered from the Swauth-style store.

=====================================  ==============================================
``GET /auth/``                         300, the versions (``{"versions": {"values"}}``)
``GET /auth/v3`` (and ``/v3``)         200, this version (``{"version": ...}``)
``POST /auth/v3/auth/tokens``          201, ``X-Subject-Token`` and ``{"token": ...}``
``GET`` / ``HEAD .../auth/tokens``     200: ``X-Subject-Token`` shown to its own user
                                       or a reseller admin (``X-Auth-Token``)
``DELETE .../auth/tokens``             204: ``X-Subject-Token`` revoked (same callers)
=====================================  ==============================================

Mapping: a project is an account of the store, its id the storage account
without the reseller prefix (``AUTH_test`` -> ``test``), so the ``object-store``
endpoints are ``.../v1/AUTH_<project id>`` as with Keystone and Swift; a user
is ``<account>:<user>`` (its id, and the name clients may send; a bare user
name is looked up in the scope's project); one domain, from the config.
Roles: ``admin`` for ``.admin``, ``ResellerAdmin`` for ``.reseller_admin``,
``member`` and ``reader`` for everyone, extra groups (``service``) by name.

A token is the user's Swauth token, the one ``/auth/v1.0`` hands out: same
expiry, same revocation, and it acts for the user's account whatever scope it
was asked for (the scope decides the catalog; a user may scope only to its own
account, a reseller admin to any).  So validation shows a token scoped to its
user's project.  Every failed login is the same 401 after the same work.
"""
from __future__ import annotations

import base64
import hashlib
import json
from typing import TYPE_CHECKING, Callable
from urllib.parse import parse_qs

from auth.swauth.keystone.documents import (
    Named, TokenFacts, error_document, service, token_document, version_document,
    versions_document)
from auth.swauth.keystone.request import AuthRequest, KeystoneError, Ref, parse_auth_request
from auth.swauth.login import authenticate, issue_token, storage_url
from auth.swauth.names import BadName, check_name
from auth.swauth.store import Account, StoreError
from auth.swauth.tokens import CheckedToken, token_hash
from objstore.common.checks import InputError, read_json_body
from objstore.common.http import Response, host_url

if TYPE_CHECKING:
    from auth.authorize import Identity
    from auth.swauth.middleware import Swauth

MAX_BODY_BYTES = 65536
RESELLER_ADMIN_ROLE = "ResellerAdmin"  # the name Swift's keystoneauth gives it
NEEDS_AUTH = "The request you have made requires authentication."
JSON = "application/json"


def json_response(status: int, document: dict, headers: dict[str, str] | None = None
                  ) -> Response:
    return Response(status, {"content-type": JSON, **(headers or {})},
                    json.dumps(document).encode("utf-8"))


def audit_id(digest: str) -> str:
    """Keystone's per-token audit id, derived from the token's hash (never the token)."""
    raw = hashlib.sha256(b"audit:" + digest.encode("ascii")).digest()[:16]
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


class KeystoneAPI:
    def __init__(self, auth: "Swauth", domain: Named, region: str) -> None:
        self.auth = auth
        self.store = auth.store
        self.domain = domain
        self.region = region

    # ---- routing --------------------------------------------------------------------
    def mount(self, path: str) -> tuple[str, str | None] | None:
        """(mount point, path below ``/v3``; None for the auth root) if ``path`` is ours."""
        root = self.auth.auth_prefix.rstrip("/")
        if path in (root, root + "/"):
            return root, None
        for prefix in (root, ""):
            v3 = prefix + "/v3"
            if path == v3 or path.startswith(v3 + "/"):
                return prefix, path[len(v3):]
        return None

    def handle(self, environ: dict, prefix: str, rest: str | None) -> Response:
        root_url = host_url(environ) + prefix
        try:
            return self._route(environ, root_url, rest)
        except KeystoneError as err:
            return self.error(err.status, err.message, root_url)
        except StoreError:
            return self.error(503, "The auth store is unavailable; try again", root_url)

    def error(self, status: int, message: str, root_url: str,
              headers: dict[str, str] | None = None) -> Response:
        extra = dict(headers or {})
        if status == 401:
            extra["www-authenticate"] = f'Keystone uri="{root_url}"'
        return json_response(status, error_document(status, message), extra)

    def _route(self, environ: dict, root_url: str, rest: str | None) -> Response:
        method = environ.get("REQUEST_METHOD", "")
        v3_url = root_url + "/v3"
        if rest is None or rest in ("", "/"):
            if method not in ("GET", "HEAD"):
                return self._not_allowed("GET, HEAD", root_url)
            if rest is None:
                return json_response(300, versions_document(v3_url))
            return json_response(200, version_document(v3_url))
        if rest.rstrip("/") != "/auth/tokens":
            raise KeystoneError(404, "The resource could not be found.")
        handlers: dict[str, Callable[[dict, str], Response]] = {
            "POST": self.issue, "GET": self.show, "HEAD": self.show, "DELETE": self.revoke}
        handler = handlers.get(method)
        if handler is None:
            return self._not_allowed(", ".join(handlers), root_url)
        return handler(environ, v3_url)

    def _not_allowed(self, allowed: str, root_url: str) -> Response:
        return self.error(405, f"The method is not allowed here; use {allowed}", root_url,
                          {"allow": allowed})

    # ---- POST: a token for a password or a token ---------------------------------------
    def issue(self, environ: dict, v3_url: str) -> Response:
        content_type = (environ.get("CONTENT_TYPE") or JSON).split(";")[0].strip().lower()
        if content_type != JSON:
            raise KeystoneError(400, "Expecting application/json in the Content-Type header")
        try:
            body = read_json_body(environ, "Request body", MAX_BODY_BYTES)
        except InputError as err:
            raise KeystoneError(err.status, str(err)) from None
        request = parse_auth_request(body)
        if request.method == "password":
            token, checked = self._password_login(request)
        else:
            token, checked = request.token, self._checked(request.token)
        project = self._project(checked.identity, request.project)
        document = self._document(request.method, checked, project, v3_url,
                                  with_catalog=not _nocatalog(environ))
        return json_response(201, document, {"x-subject-token": token})

    def _password_login(self, request: AuthRequest) -> tuple[str, CheckedToken]:
        account, user = self._user_names(request)
        found = authenticate(self.auth, account, user, request.password)
        if found is None:
            raise KeystoneError(401, NEEDS_AUTH)
        found_account, record, seal_key = found
        issued = issue_token(self.auth, found_account, user, record, seal_key,
                             self.auth.token_life)
        identity = self.auth.identity_of(found_account.name, user, found_account.account_id,
                                         record)
        return issued.token, CheckedToken(identity, issued.issued, issued.expires,
                                          token_hash(issued.token))

    def _user_names(self, request: AuthRequest) -> tuple[str, str]:
        """(account, user) the password request names; ("", "") when it names none
        here (the login then fails after the same work)."""
        ref = request.user or Ref()
        if ref.id is None and not self._in_domain(ref.domain):
            return "", ""
        full = ref.id if ref.id is not None else ref.name or ""
        account, sep, user = full.partition(":")
        if sep:
            return account, user
        project = self._project_account_name(request.project) if request.project else None
        return (project, full) if project else ("", "")

    def _in_domain(self, ref: Ref | None) -> bool:
        if ref is None:
            return False
        return ref.id == self.domain.id if ref.id is not None else ref.name == self.domain.name

    def _checked(self, token: str) -> CheckedToken:
        checked = self.auth.check_token(token) if token else None
        if checked is None:
            raise KeystoneError(401, NEEDS_AUTH)
        return checked

    # ---- scope ------------------------------------------------------------------------
    def project_id(self, account: Account) -> str:
        prefix = self.auth.reseller_prefix
        return account.account_id[len(prefix):] if account.account_id.startswith(prefix) \
            else account.account_id

    def _project_account_name(self, ref: Ref) -> str | None:
        """The store's account a project ref names, if it is a valid name (not yet
        whether it exists)."""
        try:
            if ref.id is not None:
                check_name(ref.id, "account")
                name = self.store.account_of_id(self.auth.reseller_prefix + ref.id)
                return check_name(name, "account") if name else None
            return check_name(ref.name or "", "account") if self._in_domain(ref.domain) else None
        except BadName:
            return None

    def _project(self, identity: "Identity", ref: Ref | None) -> Account | None:
        """The account a scope names, if the identity may scope to it (401 if not)."""
        if ref is None:
            return None
        name = self._project_account_name(ref)
        account = self.store.get_account(name) if name else None
        if account is not None and ref.id is not None and self.project_id(account) != ref.id:
            account = None
        if account is None or not (account.name == identity.account
                                   or ".reseller_admin" in identity.groups):
            raise KeystoneError(401, "The user has no access to the requested project, "
                                     "or there is no such project")
        return account

    def roles(self, identity: "Identity", account: Account) -> tuple[str, ...]:
        names = ["admin"] if account.account_id in identity.groups else []
        names += ["member", "reader"]
        if ".reseller_admin" in identity.groups:
            names.append(RESELLER_ADMIN_ROLE)
        names += [group for group in identity.groups[2:] if not group.startswith(".")
                  and self.auth.account_prefix(group) is None and group not in names]
        return tuple(names)

    def catalog(self, account: Account, v3_url: str) -> list[dict]:
        url = storage_url(self.store.get_services(account.name) or {})
        entries = [service("object-store", "swift", url, self.region)] if url else []
        return entries + [service("identity", "keystone", v3_url, self.region)]

    def _document(self, method: str, checked: CheckedToken, project: Account | None,
                  v3_url: str, with_catalog: bool) -> dict:
        identity = checked.identity
        facts = TokenFacts((method,), Named(identity.user, identity.user.partition(":")[2]),
                           self.domain, checked.issued, checked.expires, audit_id(checked.digest))
        if project is None:
            return token_document(facts)
        return token_document(facts, Named(self.project_id(project), project.name),
                              self.roles(identity, project),
                              self.catalog(project, v3_url) if with_catalog else None)

    # ---- GET / HEAD / DELETE: an existing token --------------------------------------
    def _subject(self, environ: dict) -> CheckedToken:
        """The X-Subject-Token, if the X-Auth-Token's user may see it."""
        caller = self._checked(environ.get("HTTP_X_AUTH_TOKEN", ""))
        token = environ.get("HTTP_X_SUBJECT_TOKEN", "")
        if not token:
            raise KeystoneError(400, "Expecting to find X-Subject-Token in the request headers")
        subject = self.auth.check_token(token)
        if subject is None:
            raise KeystoneError(404, "Could not find token (expired, revoked or never issued)")
        if subject.identity.user != caller.identity.user \
                and ".reseller_admin" not in caller.identity.groups:
            raise KeystoneError(403, "You are not authorized to perform the requested action: "
                                     "only the token's user or a reseller admin may")
        return subject

    def show(self, environ: dict, v3_url: str) -> Response:
        subject = self._subject(environ)
        account = self.store.get_account(subject.identity.account)
        document = self._document("password", subject, account, v3_url,
                                  with_catalog=not _nocatalog(environ))
        return json_response(200, document,
                             {"x-subject-token": environ["HTTP_X_SUBJECT_TOKEN"]})

    def revoke(self, environ: dict, v3_url: str) -> Response:
        self.auth.revoke_token(self._subject(environ).digest)
        return Response(204)


def _nocatalog(environ: dict) -> bool:
    return "nocatalog" in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
