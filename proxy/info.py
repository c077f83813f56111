"""Capabilities shown at ``GET /info``, registered by middleware.

The proxy fills the ``swift`` section itself (version, constraints, policies);
each middleware's ``filter_factory`` calls ``register_capability("slo",
{"max_manifest_segments": 1000})`` so that clients can discover what this
cluster supports, like Swift's ``/info``.
"""
from __future__ import annotations

import copy

_registry: dict[str, dict] = {}


def register_capability(name: str, info: dict | None = None) -> None:
    """Publish (or extend) the ``name`` section of ``/info``."""
    _registry.setdefault(name, {}).update(info or {})


def capabilities() -> dict[str, dict]:
    """A copy of every registered section (the proxy merges its own ``swift``)."""
    return copy.deepcopy(_registry)
