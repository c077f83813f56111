"""The JSON documents of the Identity API v3, in Keystone's shapes.

Version discovery (``{"versions": {"values": [...]}}`` at the auth root,
``{"version": {...}}`` at ``/v3``), tokens (``{"token": {...}}``: methods,
user, audit ids, issue and expiry times, and for a project scope the
project, roles and catalog) and errors (``{"error": {"code", "title",
"message"}}``).  Pure functions of their arguments.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone

from objstore.common.http import REASONS

API_VERSION = "v3.14"
API_UPDATED = "2020-04-07T00:00:00Z"
MEDIA_TYPE = "application/vnd.openstack.identity-v3+json"
INTERFACES = ("public", "internal", "admin")


@dataclass(frozen=True)
class Named:
    """Something Keystone shows as ``{"id", "name"}`` (a domain, project or user)."""
    id: str
    name: str

    def document(self) -> dict:
        return {"id": self.id, "name": self.name}


def error_document(status: int, message: str) -> dict:
    return {"error": {"code": status, "title": REASONS.get(status, "Error"), "message": message}}


def version_entry(v3_url: str) -> dict:
    return {"id": API_VERSION, "status": "stable", "updated": API_UPDATED,
            "links": [{"rel": "self", "href": v3_url.rstrip("/") + "/"}],
            "media-types": [{"base": "application/json", "type": MEDIA_TYPE}]}


def versions_document(v3_url: str) -> dict:
    """What the auth root answers (with 300 Multiple Choices, as Keystone's root)."""
    return {"versions": {"values": [version_entry(v3_url)]}}


def version_document(v3_url: str) -> dict:
    return {"version": version_entry(v3_url)}


def timestamp(epoch: float) -> str:
    """Keystone's time format: UTC, microseconds, ``Z``."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stable_id(*parts: str) -> str:
    """A 32-hex id that is the same for the same parts, in every proxy and worker."""
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:32]


def service(kind: str, name: str, url: str, region: str) -> dict:
    """A catalog entry whose public, internal and admin endpoints are ``url``."""
    return {"type": kind, "name": name, "id": stable_id("service", kind),
            "endpoints": [{"id": stable_id("endpoint", kind, interface, url),
                           "interface": interface, "region": region, "region_id": region,
                           "url": url} for interface in INTERFACES]}


@dataclass(frozen=True)
class TokenFacts:
    """Everything a token document says, but the scope."""
    methods: tuple[str, ...]
    user: Named
    domain: Named
    issued: float
    expires: float
    audit_id: str


def token_document(facts: TokenFacts, project: Named | None = None,
                   roles: tuple[str, ...] = (), catalog: list[dict] | None = None) -> dict:
    """``{"token": ...}``; a project scope adds the project, its roles and (unless
    ``catalog`` is None, for ``nocatalog``) the catalog."""
    token = {"methods": list(facts.methods),
             "user": {**facts.user.document(), "domain": facts.domain.document(),
                      "password_expires_at": None},
             "audit_ids": [facts.audit_id],
             "issued_at": timestamp(facts.issued), "expires_at": timestamp(facts.expires)}
    if project is not None:
        token["project"] = {**project.document(), "domain": facts.domain.document()}
        token["is_domain"] = False
        token["roles"] = [{"id": role, "name": role} for role in roles]
        if catalog is not None:
            token["catalog"] = catalog
    return {"token": token}
