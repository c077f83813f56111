"""Temporary URLs (Swift's ``tempurl``): time-limited access to objects without a token.

A client that knows one of the account's or container's keys
(``X-Account-Meta-Temp-URL-Key``, ``-Key-2``, ``X-Container-Meta-Temp-URL-Key``,
``-Key-2``) signs a method, an expiry and a path
(``objstore.common.tempurl_signature``) and hands out
``/v1/AUTH_a/c/o?temp_url_sig=<sig>&temp_url_expires=<unix or ISO 8601>``,
optionally with ``temp_url_prefix`` (the signature covers every object whose
name starts with it), ``temp_url_ip_range`` (only clients from that address or
network), ``filename`` and ``inline`` (the download's ``Content-Disposition``).

A valid signature makes the request pre-authorized: this filter installs its
own ``swift.authorize`` (same account for an account key, same container for
a container key, so a DLO's segments elsewhere are refused) with
``swift.authorize_override``, which tells the auth filter right of it to look
for no token.  Anything invalid is ``401 Temp URL invalid``.  As in Swift,
writes may not carry ``X-Object-Manifest``, ``X-Symlink-Target`` or
``X-Copy-From`` (400), other query parameters are dropped, configured request
headers (``x-timestamp``...) are removed, and responses lose object metadata
but ``X-Object-Meta-Public-*``.
"""
from __future__ import annotations

import configparser
import hmac
import ipaddress
import os.path
import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Callable, Iterable
from urllib.parse import parse_qs, quote, urlencode

from auth.authorize import AUTHORIZE_OVERRIDE, unauthorized
from objstore.common.config import ConfigError, section
from objstore.common.constraints import wsgi_to_str
from objstore.common.http import error_response
from objstore.common.paths import split_api_path
from objstore.common.tempurl_signature import (
    DIGESTS, parse_expires, parse_signature, sign, temp_url_body)
from objstore.common.wsgi import WSGIApp
from proxy.info import register_capability
from proxy.infocache import get_account_info, get_container_info
from proxy.internal.subrequest import call_app
from proxy.middleware.header_rules import HeaderRemoval

SOURCE = "TU"
INVALID = "401 Unauthorized: Temp URL invalid"
# a write with one of these could point at data the URL does not grant
DISALLOWED_HEADERS = ("x-object-manifest", "x-symlink-target", "x-copy-from")
DEFAULTS = {
    "methods": "GET HEAD PUT POST DELETE",
    "incoming_remove_headers": "x-timestamp x-open-expired",
    "incoming_allow_headers": "",
    "outgoing_remove_headers": "x-object-meta-*",
    "outgoing_allow_headers": "x-object-meta-public-*",
    "allowed_digests": "sha256 sha512",
}
KEY_NAMES = ("temp-url-key", "temp-url-key-2")
# a HEAD may use a URL signed for any of these
HEAD_GRANTING_METHODS = ("HEAD", "GET", "POST", "PUT")
# what a response made by staticweb (a listing at a container root) says about itself
CONTENT_GENERATOR = "x-backend-content-generator"


def temp_url_keys(meta: dict[str, str]) -> list[bytes]:
    """The non-empty temp URL keys in account or container metadata, as raw bytes."""
    return [meta[name].encode("latin-1", "replace") for name in KEY_NAMES if meta.get(name)]


def signing_keys(environ: dict, app: WSGIApp, source: str) -> list[tuple[bytes, str]]:
    """(key, scope) of every key of the request's account and container; scope is
    ``account`` or ``container`` (what the key may reach)."""
    account = get_account_info(environ, app, swift_source=source)
    keys = [(key, "account") for key in temp_url_keys(account.get("meta") or {})]
    container = get_container_info(environ, app, swift_source=source)
    if 200 <= container.get("status", 404) < 300:
        keys += [(key, "container") for key in temp_url_keys(container.get("meta") or {})]
    return keys


def matching_scope(signature: str, bodies: Iterable[str], keys: list[tuple[bytes, str]],
                   digest: str) -> str | None:
    """The scope of the key that signed one of ``bodies``, or None; every candidate
    is computed and compared in constant time."""
    found = None
    for body in bodies:
        for key, scope in keys:
            if hmac.compare_digest(sign(key, body, digest), signature) and found is None:
                found = scope
    return found


def scope_authorizer(account: str, container: str | None) -> Callable:
    """A ``swift.authorize`` allowing requests in ``account`` (and ``container``
    if given): a temp URL's sub-requests (DLO segments...) stay where its key reaches."""
    def authorize(req):
        environ = getattr(req, "environ", req)
        api = split_api_path(environ.get("PATH_INFO", ""))
        if api is not None and wsgi_to_str(api.account) == account and (
                container is None or (api.container and wsgi_to_str(api.container) == container)):
            return None
        return unauthorized(environ)
    return authorize


def content_disposition(kind: str, filename: str) -> str:
    """RFC 6266: a quoted ASCII ``filename`` and the UTF-8 ``filename*``."""
    return f"{kind}; filename=\"{quote(filename, safe=' /')}\"; filename*=UTF-8''{quote(filename)}"


def allowed_digests(options: dict[str, str], filter_name: str) -> tuple[str, ...]:
    """``allowed_digests`` of a filter section (Swift's default: sha256 sha512)."""
    digests = tuple(sorted(set(options.get("allowed_digests", DEFAULTS["allowed_digests"]).split())))
    unknown = [d for d in digests if d not in DIGESTS]
    if unknown or not digests:
        raise ConfigError(f"[filter:{filter_name}] allowed_digests: {' '.join(unknown) or '(none)'} "
                          f"is not one of {' '.join(DIGESTS)}")
    return digests


def digests_info(digests: tuple[str, ...]) -> dict:
    """The digest keys of Swift's ``/info`` sections (SHA-1 is deprecated there)."""
    info: dict = {"allowed_digests": list(digests)}
    if "sha1" in digests:
        info["deprecated_digests"] = ["sha1"]
    return info


@dataclass(frozen=True)
class Settings:
    methods: tuple[str, ...]
    allowed_digests: tuple[str, ...]
    incoming: HeaderRemoval
    outgoing: HeaderRemoval

    @classmethod
    def from_options(cls, options: dict[str, str]) -> "Settings":
        get = {name: options.get(name, default) for name, default in DEFAULTS.items()}
        return cls(tuple(get["methods"].upper().split()), allowed_digests(options, "tempurl"),
                   HeaderRemoval(get["incoming_remove_headers"], get["incoming_allow_headers"]),
                   HeaderRemoval(get["outgoing_remove_headers"], get["outgoing_allow_headers"]))

    def info(self) -> dict:
        """The ``/info`` section, with Swift's keys."""
        info = {"methods": list(self.methods),
                "incoming_remove_headers": self.incoming.remove.words,
                "incoming_allow_headers": self.incoming.allow.words,
                "outgoing_remove_headers": self.outgoing.remove.words,
                "outgoing_allow_headers": self.outgoing.allow.words}
        info.update(digests_info(self.allowed_digests))
        return info


@dataclass(frozen=True)
class Grant:
    """What a valid temp URL allows."""
    account: str
    container: str
    obj: str
    scope: str
    expires: int


class TempURL:
    """The filter; sits left of the auth filter."""

    def __init__(self, app: WSGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        params = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if method == "OPTIONS" or ("temp_url_sig" not in params and "temp_url_expires" not in params):
            return self.app(environ, start_response)
        query = {name: values[0] for name, values in params.items()}
        grant = self.check(environ, method, query)
        if grant is None:
            return unauthorized(environ, INVALID)(environ, start_response)
        if method not in ("GET", "HEAD"):
            for name in DISALLOWED_HEADERS:
                if "HTTP_" + name.upper().replace("-", "_") in environ:
                    title = "-".join(part.capitalize() for part in name.split("-"))
                    return error_response(400, f"The header {title!r} is not allowed in this tempurl",
                                          newline=False)(environ, start_response)
        self.settings.incoming.clean_environ(environ)
        environ["swift.authorize"] = scope_authorizer(
            grant.account, grant.container if grant.scope == "container" else None)
        environ[AUTHORIZE_OVERRIDE] = True
        environ["REMOTE_USER"] = ".wsgi.tempurl"
        kept = {name: query[name] for name in ("temp_url_sig", "temp_url_expires", "temp_url_prefix")
                if name in query}
        if query.get("filename"):
            kept["filename"] = query["filename"]
        if "inline" in query:
            kept["inline"] = ""  # staticweb keeps it on the links it makes
        environ["QUERY_STRING"] = urlencode(kept)
        resp = call_app(self.app, environ)
        headers = self.settings.outgoing.clean_headers(resp.headers)
        if method in ("GET", "HEAD") and resp.ok:
            headers = self.download_headers(environ, grant, query, headers)
            if headers is None:
                resp.close()
                return unauthorized(environ, INVALID)(environ, start_response)
        return resp.forward(start_response, headers)

    def check(self, environ: dict, method: str, query: dict[str, str]) -> Grant | None:
        """The grant of a valid temp URL, or None."""
        signature = query.get("temp_url_sig")
        expires = parse_expires(query.get("temp_url_expires", ""))
        if not signature or expires is None or expires < time.time():
            return None
        try:
            digest, signature = parse_signature(signature)
        except ValueError:
            return None
        if digest not in self.settings.allowed_digests or method not in self.settings.methods:
            return None
        prefix = query.get("temp_url_prefix")
        names = self.target(environ, container_root=method in ("GET", "HEAD") and prefix == "")
        if names is None:
            return None
        account, container, obj = names
        ip_range = query.get("temp_url_ip_range")
        if ip_range and not self.client_in(environ.get("REMOTE_ADDR"), ip_range):
            return None
        if prefix is None:
            path = f"/v1/{account}/{container}/{obj}"
        elif obj.startswith(prefix):
            path = f"prefix:/v1/{account}/{container}/{prefix}"
        else:
            return None
        keys = signing_keys(environ, self.app, SOURCE)
        methods = HEAD_GRANTING_METHODS if method == "HEAD" else (method,)
        bodies = [temp_url_body(m, expires, path, ip_range) for m in methods]
        scope = matching_scope(signature, bodies, keys, digest)
        if scope is None:
            return None
        return Grant(account, container, obj, scope, expires)

    @staticmethod
    def target(environ: dict, container_root: bool) -> tuple[str, str, str] | None:
        """Decoded (account, container, object) of a ``/v1/`` object path; the
        container root (object "") only if ``container_root``."""
        api = split_api_path(environ.get("PATH_INFO", ""))
        if api is None or api.version != "v1" or not api.container:
            return None
        names = [wsgi_to_str(api.account), wsgi_to_str(api.container), wsgi_to_str(api.obj or "")]
        if None in names or not (container_root or (names[2] or "").strip("/")):
            return None
        return names[0], names[1], names[2]  # type: ignore[return-value]

    @staticmethod
    def client_in(address: str | None, ip_range: str) -> bool:
        try:
            return address is not None and \
                ipaddress.ip_address(address) in ipaddress.ip_network(ip_range)
        except ValueError:
            return False

    @staticmethod
    def download_headers(environ: dict, grant: Grant, query: dict[str, str],
                         headers: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
        """A GET/HEAD answer's headers with ``Content-Disposition`` and ``Expires``;
        None when a container root was answered by anything but staticweb."""
        existing = next((v for k, v in headers if k.lower() == "content-disposition"), None)
        generator = next((v for k, v in headers if k.lower() == CONTENT_GENERATOR), None)
        inline = "inline" in query or generator == "staticweb"
        if not grant.obj and generator != "staticweb":
            return None
        filename = query.get("filename")
        if inline:
            value = content_disposition("inline", filename) if filename else "inline"
        elif filename:
            value = content_disposition("attachment", filename)
        elif existing:
            value = existing
        else:
            name = os.path.basename((wsgi_to_str(environ.get("PATH_INFO", "")) or "").rstrip("/"))
            value = content_disposition("attachment", name)
        kept = [(k, v) for k, v in headers if k.lower() != "content-disposition"]
        return kept + [("Content-Disposition", value.replace("\n", "%0A")),
                       ("Expires", formatdate(grant.expires, usegmt=True))]


def filter_factory(conf: configparser.ConfigParser, options: dict | None = None
                   ) -> Callable[[WSGIApp], WSGIApp]:
    """Pipeline entry: ``[filter:tempurl] use = proxy.middleware.tempurl:filter_factory``."""
    settings = Settings.from_options({**(section(conf, "filter:tempurl") if conf is not None else {}),
                                      **(options or {})})
    register_capability("tempurl", settings.info())
    return lambda app: TempURL(app, settings)
