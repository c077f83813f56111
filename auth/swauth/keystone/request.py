"""What a ``POST /v3/auth/tokens`` body asks for, checked as Keystone checks it.

Two methods, one at a time: ``password`` (the user by ``id``, or by ``name``
with its ``domain`` by ``id`` or ``name``) and ``token`` (an existing token's
``id``).  The scope is a ``project`` (by ``id``, or by ``name`` with its
``domain``), ``"unscoped"``, or absent (unscoped too: a user has no default
project here).  A body of the wrong shape is 400 with the field that is wrong;
an unsupported method or a domain, system or trust scope is 401, as Keystone
answers them.
"""
from __future__ import annotations

from dataclasses import dataclass

MAX_FIELD_CHARS = 1024  # names and ids; a password is bounded by the key check
METHODS = ("password", "token")


class KeystoneError(Exception):
    """Answer with Keystone's error JSON: ``status`` and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Ref:
    """An entity named by ``id``, or by ``name`` within ``domain`` (itself by id or name)."""
    id: str | None = None
    name: str | None = None
    domain: Ref | None = None


@dataclass(frozen=True)
class AuthRequest:
    method: str               # "password" or "token"
    user: Ref | None          # password: who
    password: str             # password: the user's key
    token: str                # token: the token to rescope
    project: Ref | None       # None: unscoped


def _bad(message: str) -> KeystoneError:
    return KeystoneError(400, message)


def _object(parent: dict, key: str, where: str) -> dict:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise _bad(f"Expecting to find {key} (an object) in {where}")
    return value


def _string(parent: dict, key: str, where: str, limit: int | None = MAX_FIELD_CHARS
            ) -> str | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(f"Invalid input for field '{where}/{key}': it must be a string")
    if limit is not None and len(value) > limit:
        raise _bad(f"Invalid input for field '{where}/{key}': longer than {limit} characters")
    return value


def _ref(value: dict, where: str, needs_domain: bool) -> Ref:
    """An id, or a name (with a domain where ``needs_domain``)."""
    ident, name = _string(value, "id", where), _string(value, "name", where)
    if ident:
        return Ref(id=ident)
    if not name:
        raise _bad(f"Expecting to find id or name in {where}")
    if not needs_domain:
        return Ref(name=name)
    return Ref(name=name, domain=_ref(_object(value, "domain", where), f"{where}/domain", False))


def parse_auth_request(body: object) -> AuthRequest:
    """The request in ``body`` (parsed JSON); KeystoneError when it is not one we answer."""
    if not isinstance(body, dict):
        raise _bad("Expecting to find auth (an object) in the request body")
    auth = _object(body, "auth", "the request body")
    identity = _object(auth, "identity", "auth")
    methods = identity.get("methods")
    if not isinstance(methods, list) or not methods \
            or not all(isinstance(m, str) for m in methods):
        raise _bad("Expecting to find methods (a list of strings) in auth/identity")
    if any(m not in METHODS for m in methods):
        raise KeystoneError(401, "Attempted to authenticate with an unsupported method. "
                                 "Supported methods: password, token")
    if len(set(methods)) != 1:
        raise _bad("Give one authentication method at a time: password or token")
    method = methods[0]
    details = _object(identity, method, "auth/identity")
    user, password, token = None, "", ""
    if method == "password":
        user_value = _object(details, "user", "auth/identity/password")
        user = _ref(user_value, "auth/identity/password/user", True)
        password = _string(user_value, "password", "auth/identity/password/user", None) or ""
    else:
        token = _string(details, "id", "auth/identity/token") or ""
        if not token:
            raise _bad("Expecting to find id in auth/identity/token")
    return AuthRequest(method, user, password, token, _scope(auth.get("scope")))


def _scope(scope: object) -> Ref | None:
    if scope is None or scope == "unscoped":
        return None
    if not isinstance(scope, dict) or len(scope) != 1:
        raise _bad("auth/scope must be \"unscoped\" or an object naming one project")
    (kind, value), = scope.items()
    if kind in ("domain", "system", "OS-TRUST:trust"):
        raise KeystoneError(401, f"Tokens here are scoped to a project or unscoped, "
                                 f"never to a {kind.split(':')[-1]}")
    if kind != "project" or not isinstance(value, dict):
        raise _bad("auth/scope must be \"unscoped\" or an object naming one project")
    return _ref(value, "auth/scope/project", True)
