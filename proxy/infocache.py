"""Account and container info: what middleware and object requests need to
know about the parent (existence, ACLs, storage policy, metadata) without a
backend HEAD per request.

Two levels: ``environ['swift.infocache']`` (one client request and all its
sub-requests share the dict) and a short-lived per-process cache of existing
items (``recheck_container_existence`` / ``recheck_account_existence``
seconds).  Middleware call ``get_container_info(env, app)`` /
``get_account_info(env, app)`` with their next app; on a miss these make a
HEAD sub-request through it, which the proxy answers and caches.
"""
from __future__ import annotations

import mmap
import struct
import time
import zlib
from typing import Callable, Mapping

from objstore.common.constraints import wsgi_to_str
from objstore.common.paths import ApiPath, split_api_path
from proxy.internal.subrequest import call_app, make_env

INFOCACHE = "swift.infocache"
# marks a HEAD that only wants the info: the proxy may answer it from its cache
INFO_REQUEST = "objstore.info_request"


class Generations:
    """Change counters shared by all forked workers of a proxy (an anonymous
    shared mapping made before the fork), one per hash slot of the cache keys.
    A write bumps its key's slot, and every worker's cached copy of the info
    fetched before that is stale from then on: an ACL granted or revoked
    through one worker holds in the others at once."""

    SLOTS = 4096
    _COUNTER = struct.Struct("Q")

    def __init__(self) -> None:
        self._map = mmap.mmap(-1, self.SLOTS * self._COUNTER.size)

    def _offset(self, key: str) -> int:
        return (zlib.crc32(key.encode("utf-8", "surrogateescape")) % self.SLOTS) * self._COUNTER.size

    def get(self, key: str) -> int:
        return self._COUNTER.unpack_from(self._map, self._offset(key))[0]

    def bump(self, key: str) -> None:
        offset = self._offset(key)
        value = self._COUNTER.unpack_from(self._map, offset)[0]
        self._COUNTER.pack_into(self._map, offset, (value + 1) & 0xFFFFFFFFFFFFFFFF)


class TTLCache:
    """Process-wide ``key -> info`` for ``ttl`` seconds (0 disables it);
    with ``generations``, an entry also ends when its key is bumped there."""

    def __init__(self, ttl: float, max_entries: int = 10000,
                 generations: Generations | None = None) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.generations = generations
        self._items: dict[str, tuple[float, int, dict]] = {}

    def generation(self, key: str) -> int:
        """Read before fetching what ``put`` will store."""
        return self.generations.get(key) if self.generations is not None else 0

    def get(self, key: str) -> dict | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] < time.monotonic() or item[1] != self.generation(key):
            self._items.pop(key, None)
            return None
        return item[2]

    def put(self, key: str, info: dict, generation: int | None = None) -> None:
        if self.ttl <= 0:
            return
        if len(self._items) >= self.max_entries:
            self._items.clear()  # crude but bounded; entries live seconds anyway
        if generation is None:
            generation = self.generation(key)
        self._items[key] = (time.monotonic() + self.ttl, generation, info)

    def pop(self, key: str) -> None:
        """Drop ``key`` here and, through the generations, in every worker."""
        self._items.pop(key, None)
        if self.generations is not None:
            self.generations.bump(key)


def container_key(account: str, container: str) -> str:
    return f"container/{account}/{container}"


def account_key(account: str) -> str:
    return f"account/{account}"


def _int(headers: Mapping[str, str], name: str) -> int:
    try:
        return int(headers.get(name, 0))
    except ValueError:
        return 0


def _prefixed(headers: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {k[len(prefix):]: v for k, v in headers.items() if k.startswith(prefix)}


def container_info_from(status: int, headers: Mapping[str, str]) -> dict:
    """Swift-shaped container info from a backend HEAD/GET's lower-case headers."""
    return {
        "status": status,
        "read_acl": headers.get("x-container-read"),
        "write_acl": headers.get("x-container-write"),
        "sync_key": headers.get("x-container-sync-key"),
        "object_count": _int(headers, "x-container-object-count"),
        "bytes": _int(headers, "x-container-bytes-used"),
        "versions": headers.get("x-versions-location"),
        "storage_policy": headers.get("x-backend-storage-policy-index", "0"),
        "meta": _prefixed(headers, "x-container-meta-"),
        "sysmeta": _prefixed(headers, "x-container-sysmeta-"),
    }


def account_info_from(status: int, headers: Mapping[str, str]) -> dict:
    """Swift-shaped account info from a backend HEAD/GET's lower-case headers."""
    return {
        "status": status,
        "container_count": _int(headers, "x-account-container-count"),
        "object_count": _int(headers, "x-account-object-count"),
        "bytes": _int(headers, "x-account-bytes-used"),
        "meta": _prefixed(headers, "x-account-meta-"),
        "sysmeta": _prefixed(headers, "x-account-sysmeta-"),
    }


def _api_path(env: dict, container: bool) -> tuple[ApiPath, str, str]:
    """The request's API path and its account and container names, decoded."""
    api = split_api_path(env.get("PATH_INFO", ""))
    account = wsgi_to_str(api.account) if api else None
    names = wsgi_to_str(api.container or "") if api else None
    if api is None or account is None or names is None or (container and not api.container):
        raise ValueError(f"not an {'container' if container else 'account'} path: "
                         f"{env.get('PATH_INFO')!r}")
    return api, account, names


def _head_info(env: dict, app: Callable, wsgi_path: str, key: str, source: str,
               from_headers: Callable[[int, Mapping[str, str]], dict]) -> dict:
    infocache = env.setdefault(INFOCACHE, {})
    if key in infocache:
        return infocache[key]
    # a system request: the caller's own auth already passed (or is what asks)
    head = make_env(env, "HEAD", wsgi_to_str(wsgi_path) or "", source=source, system=True)
    head[INFO_REQUEST] = True
    resp = call_app(app, head)
    resp.read()
    if key not in infocache:  # an app other than the proxy answered
        infocache[key] = from_headers(resp.status_int, {k.lower(): v for k, v in resp.headers})
    return infocache[key]


def get_container_info(env: dict, app: Callable, swift_source: str = "GET_INFO") -> dict:
    """Info of the container in ``env``'s path (``status`` 404 if it does not exist)."""
    api, account, container = _api_path(env, container=True)
    return _head_info(env, app, f"/{api.version}/{api.account}/{api.container}",
                      container_key(account, container),
                      swift_source, container_info_from)


def get_account_info(env: dict, app: Callable, swift_source: str = "GET_INFO") -> dict:
    """Info of the account in ``env``'s path (``status`` 404 if it does not exist)."""
    api, account, _ = _api_path(env, container=False)
    return _head_info(env, app, f"/{api.version}/{api.account}", account_key(account),
                      swift_source, account_info_from)
