"""Request handling shared by the container and account servers.

Both serve ``/<device>/<partition>/<names...>`` where the first names
address a database (``a`` for accounts, ``a/c`` for containers) and one more
name addresses a record in it.  This module does, once for both: path and
header validation, the device/mount check, PUT/POST/DELETE of a database
(timestamps and metadata), HEAD/GET with stats headers and listings, and
error handling (4xx with a text body; 500 with a generic body and a logged
traceback).  Subclasses add their record verbs and a few hooks.
"""
from __future__ import annotations

import configparser
import dataclasses
import logging
import os
import random
from typing import Any, Callable, Iterable

import eventlet
import eventlet.greenthread
from webob import Request

from objstore.common import listing
from objstore.common.checks import (InputError, device_error, listing_limit, metadata_error,
                                    metadata_totals_error, name_error, parse_int)
from objstore.common.config import config_true_value, get_float, get_int, hash_path_affixes, section
from objstore.common.constraints import load_constraints, str_to_wsgi, wsgi_to_str
from objstore.common.hashing import hash_path
from objstore.common.http import (TEXT_PLAIN, HTTPError, Response, empty_response,
                                  error_response, header_dict)
from objstore.common.paths import split_path
from objstore.common.policies import load_policies
from objstore.common.timestamp import Timestamp
from objstore.db import replication
from objstore.db.broker import Broker, Info
from objstore.db.maintenance import DEFAULT_RECLAIM_AGE, partitions, reclaim
from objstore.db.query import ListingParams
from objstore.db.schema import RecordKind
from objstore.db.store import DEFAULT_MAP_SIZE, ListingStore, StoreCache


@dataclasses.dataclass
class Target:
    device: str
    partition: int
    names: list[str]      # the database's names: [account] or [account, container]
    record: str | None    # the record name (container or object), if any


class DBServer:
    """Base WSGI app of the container and account servers."""
    server_type = ""                      # "container" | "account"
    section_name = ""
    store_subdir = ""                     # per-device directory of the LMDB environment
    kind: RecordKind
    name_kinds: tuple[str, ...] = ()      # name_error kinds: db names then the record's
    meta_prefixes: tuple[str, ...] = ()   # lower-case header prefixes stored as metadata
    meta_headers: tuple[str, ...] = ()    # lower-case exact header names stored as metadata
    user_meta_prefix = ""
    stat_headers: tuple[str, ...] = ()    # lower-case names aligned with kind.stat_names
    listing_root = ""                     # xml root element
    listing_item = ""                     # xml item element
    delete_needs_empty = True
    track_dirty = False
    post_updates_put_timestamp = False    # a POST moves the DB's Last-Modified (containers)
    xml_fields: frozenset[str] | None = None  # listing fields shown in XML (None: all)

    def __init__(self, conf: configparser.ConfigParser, logger: logging.Logger) -> None:
        options = section(conf, self.section_name)
        self.conf = conf
        self.logger = logger
        self.devices = options.get("devices", "/srv/node")
        self.mount_check = config_true_value(options.get("mount_check", "true"))
        self.hash_prefix, self.hash_suffix = hash_path_affixes(conf)
        self.constraints = load_constraints(conf)
        self.policies = load_policies(conf)
        self.auto_create_account_prefix = options.get("auto_create_account_prefix", ".")
        self.stores = StoreCache(self.store_subdir,
                                 get_int(options, "db_map_size", DEFAULT_MAP_SIZE),
                                 config_true_value(options.get("db_use_tpool", "true")))
        self.max_lengths = {"Account": self.constraints.max_account_name_length,
                            "Container": self.constraints.max_container_name_length,
                            "Object": self.constraints.max_object_name_length}
        self.listing_limit = (self.constraints.container_listing_limit if self.server_type == "container"
                              else self.constraints.account_listing_limit)
        self.reclaim_age = get_float(options, "reclaim_age", DEFAULT_RECLAIM_AGE)
        self.reclaim_interval = get_float(options, "reclaim_interval", 3600.0)
        self._reclaimer: eventlet.greenthread.GreenThread | None = None
        self._reclaimer_pid: int | None = None

    # -- background work ---------------------------------------------------
    def start_background(self) -> None:
        """Start this process's housekeeping greenthreads (after fork)."""
        if self.reclaim_interval > 0 and self._reclaimer_pid != os.getpid():
            self._reclaimer_pid = os.getpid()
            self._reclaimer = eventlet.spawn(self._reclaim_loop)

    def close(self) -> None:
        """Stop background work and close the LMDB environments."""
        if self._reclaimer is not None:
            self._reclaimer.kill()
            self._reclaimer = self._reclaimer_pid = None
        self.stores.close()

    def _reclaim_loop(self) -> None:
        while True:
            eventlet.sleep(self.reclaim_interval * random.uniform(0.5, 1.5))
            try:
                self.reclaim_all()
            except Exception:
                self.logger.exception("reclaim pass failed")

    def reclaim_all(self, now: float | None = None) -> tuple[int, int]:
        """Reclaim old tombstones and deleted DBs on every device."""
        total = [0, 0]
        for device in sorted(os.listdir(self.devices)):
            store = self.stores.existing(os.path.join(self.devices, device))
            if store is not None:
                found = reclaim(store, self.kind, self.reclaim_age, now)
                total = [a + b for a, b in zip(total, found)]
                if any(found):
                    self.logger.info("reclaimed %d tombstones and %d deleted DBs on %s",
                                     found[0], found[1], device)
        return total[0], total[1]

    def recon_partitions(self) -> dict[str, dict[str, list[int]]]:
        """``/recon/partitions``: per device, the partitions its store holds DBs
        of (``objstore-recon`` counts the handoffs among them)."""
        try:
            devices = sorted(os.listdir(self.devices))
        except FileNotFoundError:
            return {}
        found = {}
        for device in devices:
            store = self.stores.existing(os.path.join(self.devices, device))
            if store is not None:
                found[device] = {self.store_subdir: partitions(store)}
        return found

    # -- WSGI entry --------------------------------------------------------
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        req = Request(environ)
        try:
            resp = self.handle(req)
        except HTTPError as err:
            resp = err.response
        except Exception:
            self.logger.exception("error handling %s %s", req.method, req.path_info)
            resp = error_response(500, "An error occurred")
        return resp(environ, start_response)

    def handle(self, req: Request) -> Response:
        self.start_background()
        if req.method == "REPLICATE":
            return replication.replicate(self, req)
        target = self.parse_path(req)
        if target.record is None:
            handler = {"PUT": self.put_db, "POST": self.post_db, "DELETE": self.delete_db,
                       "HEAD": self.get_db, "GET": self.get_db}.get(req.method)
            allowed = "PUT, POST, DELETE, HEAD, GET"
        else:
            handler = {"PUT": self.put_record, "DELETE": self.delete_record}.get(req.method)
            allowed = "PUT, DELETE"
        if handler is None:
            raise HTTPError(405, f"{req.method} is not allowed here", {"allow": allowed})
        return handler(req, target)

    # -- parsing and validation --------------------------------------------
    def parse_path(self, req: Request) -> Target:
        path = wsgi_to_str(req.environ.get("PATH_INFO", ""))
        if path is None:
            raise HTTPError(412, "Invalid UTF8 or contains NULL")
        depth = len(self.name_kinds) - 1
        try:
            device, partition, *names = split_path(path, 2 + depth, 3 + depth, rest_with_last=True)
        except ValueError:
            raise HTTPError(400, f"Path must be /<device>/<partition>/{self._path_doc()}") from None
        if names[-1] is None:
            names.pop()
        for kind, name in zip(self.name_kinds, names):
            problem = name_error(name, kind, self.max_lengths[kind])
            if problem:
                raise HTTPError(400, problem)
        part = self.check_device(device, partition)
        return Target(device, part, names[:depth], names[depth] if len(names) > depth else None)

    def check_device(self, device: str, partition: str) -> int:
        """Validate the device (400, or 507 if absent/unmounted) and return the partition."""
        error = device_error(device, partition)
        if error:
            raise HTTPError(400, error)
        device_path = os.path.join(self.devices, device)
        if self.mount_check and not os.path.ismount(device_path):
            raise HTTPError(507, f"{device} is not mounted")
        if not os.path.isdir(device_path):
            raise HTTPError(507, f"{device} does not exist")
        return int(partition)

    def _path_doc(self) -> str:
        return "/".join(f"<{k.lower()}>" for k in self.name_kinds[:-1]) + f"[/<{self.name_kinds[-1].lower()}>]"

    def store(self, device: str) -> ListingStore:
        """The (validated) device's LMDB environment."""
        return self.stores.get(os.path.join(self.devices, device))

    def broker(self, target: Target) -> Broker:
        store = self.store(target.device)
        db_hash = hash_path(*target.names, prefix=self.hash_prefix, suffix=self.hash_suffix)
        container = target.names[1] if len(target.names) > 1 else None
        return Broker(store, self.kind, db_hash, target.names[0], container, self.track_dirty)

    @staticmethod
    def timestamp(req: Request, header: str = "X-Timestamp", required: bool = True) -> str | None:
        raw = req.headers.get(header)
        if raw is None and not required:
            return None
        try:
            return Timestamp(raw).internal
        except (TypeError, ValueError):
            raise HTTPError(400, f"Missing or invalid {header} header") from None

    @staticmethod
    def int_header(req: Request, header: str, default: int | None = None) -> int:
        raw = req.headers.get(header)
        if raw is None and default is not None:
            return default
        try:
            return parse_int(raw, header)
        except InputError:
            raise HTTPError(400, f"Missing or invalid {header} header") from None

    def requested_policy(self, req: Request) -> int | None:
        raw = req.headers.get("X-Backend-Storage-Policy-Index")
        if raw is None:
            return None
        policy = self.policies.get_by_index(raw)
        if policy is None:
            raise HTTPError(400, f"Invalid X-Backend-Storage-Policy-Index {raw!r}")
        return policy.index

    def metadata_updates(self, req: Request, ts: str) -> dict[str, tuple[str, str]]:
        """Metadata headers of the request as {key: (value, timestamp)},
        checked against the metadata constraints (400 when over)."""
        updates: dict[str, tuple[str, str]] = {}
        user_meta: list[tuple[str, str]] = []
        for key, value in req.headers.items():
            lower = key.lower()
            if lower not in self.meta_headers and not lower.startswith(self.meta_prefixes):
                continue
            decoded = wsgi_to_str(value)
            if decoded is None:
                raise HTTPError(400, f"Metadata header {key} is not valid UTF-8")
            if lower.startswith(self.user_meta_prefix):
                user_meta.append((key[len(self.user_meta_prefix):], value))
            updates[key.title()] = (decoded.strip(), ts)
        error = metadata_error(user_meta, self.user_meta_prefix.title(), self.constraints,
                               utf8_only=True)
        if error:
            raise HTTPError(400, error)
        return updates

    def merge_metadata_txn(self, txn, broker: Broker, meta: dict[str, tuple[str, str]]) -> None:
        """Merge the request's metadata; 400 (and nothing merged) if the
        database's user metadata as a whole ends up over the limits."""
        if not broker.merge_metadata_txn(txn, meta):
            return
        count = size = 0
        for key, (value, _ts) in broker.metadata_txn(txn).items():
            if value and key.lower().startswith(self.user_meta_prefix):
                count += 1
                size += len(key) - len(self.user_meta_prefix) + len(value.encode("utf-8"))
        error = metadata_totals_error(count, size, self.constraints)
        if error:
            raise HTTPError(400, error)

    # -- database verbs ----------------------------------------------------
    def check_existing_put(self, info: Info, deleted: bool, policy: int | None) -> None:
        """Hook: raise to refuse a PUT of a database that exists (or did)."""

    def after_db_change(self, req: Request, target: Target, broker: Broker) -> None:
        """Hook: called after a database PUT or DELETE was committed."""

    def put_db(self, req: Request, target: Target) -> Response:
        ts = self.timestamp(req)
        policy = self.requested_policy(req)
        meta = self.metadata_updates(req, ts)
        broker = self.broker(target)
        default_policy = self.policies.default.index if policy is None else policy

        def op(txn, store):
            info = broker.info_txn(txn)
            if info is None:
                broker.create_txn(txn, ts, default_policy, target.partition)
                self.merge_metadata_txn(txn, broker, meta)
                return 201
            was_deleted = broker.is_deleted(info)
            self.check_existing_put(info, was_deleted, policy)
            broker.set_timestamps_txn(txn, info, put_timestamp=ts,
                                      storage_policy_index=default_policy if was_deleted else None)
            if broker.is_deleted(info):
                raise HTTPError(409, "A newer DELETE exists", self.backend_headers(info))
            self.merge_metadata_txn(txn, broker, meta)
            return 201 if was_deleted else 202

        status = broker.store.write(op)
        self.after_db_change(req, target, broker)
        return self.ok(status)

    def post_db(self, req: Request, target: Target) -> Response:
        ts = self.timestamp(req)
        meta = self.metadata_updates(req, ts)
        broker = self.broker(target)

        def op(txn, store):
            info = broker.info_txn(txn)
            if broker.is_deleted(info):
                raise HTTPError(404, "Not found", self.backend_headers(info))
            if self.post_updates_put_timestamp and not config_true_value(
                    req.headers.get("X-Backend-No-Timestamp-Update", "")):
                broker.set_timestamps_txn(txn, info, put_timestamp=ts)
            self.merge_metadata_txn(txn, broker, meta)

        broker.store.write(op)
        return self.ok(204)

    def delete_db(self, req: Request, target: Target) -> Response:
        ts = self.timestamp(req)
        broker = self.broker(target)

        def op(txn, store):
            info = broker.info_txn(txn)
            if broker.is_deleted(info):
                raise HTTPError(404, "Not found", self.backend_headers(info))
            if self.delete_needs_empty and info["stats"][0] > 0:
                raise HTTPError(409, f"The {self.server_type} is not empty")
            broker.set_timestamps_txn(txn, info, delete_timestamp=ts)
            if not broker.is_deleted(info):
                raise HTTPError(409, "A newer PUT exists", self.backend_headers(info))

        broker.store.write(op)
        self.after_db_change(req, target, broker)
        return self.ok(204)

    def backend_headers(self, info: Info | None) -> dict[str, str]:
        """X-Backend-* timestamps of what this server has (also on 404)."""
        if info is None:
            return {}
        return {"x-backend-timestamp": info["created_at"],
                "x-backend-put-timestamp": info["put_timestamp"],
                "x-backend-delete-timestamp": info["delete_timestamp"],
                "x-backend-status-changed-at": info["status_changed_at"],
                "x-backend-storage-policy-index": str(info["storage_policy_index"])}

    def info_headers(self, info: Info, metadata: dict[str, str]) -> dict[str, str]:
        """The database's stats, timestamps and metadata (lower-case names)."""
        headers = self.backend_headers(info)
        headers.update(zip(self.stat_headers, map(str, info["stats"])))
        headers["x-timestamp"] = Timestamp(info["created_at"]).normal
        headers["x-put-timestamp"] = Timestamp(info["put_timestamp"]).normal
        headers.update(header_dict((key, str_to_wsgi(value)) for key, value in metadata.items()))
        return headers

    def get_db(self, req: Request, target: Target) -> Response:
        try:
            content_type = listing.negotiate(req.GET.get("format"), req.headers.get("Accept"))
        except (UnicodeDecodeError, ValueError) as err:
            raise HTTPError(400, f"Invalid format or Accept header: {err}") from None
        params = self.listing_params(req) if req.method == "GET" else None
        broker = self.broker(target)
        info, metadata, records = broker.snapshot(params)
        if broker.is_deleted(info):
            raise HTTPError(404, "Not found", self.backend_headers(info))
        if content_type is None:
            raise HTTPError(406, "No acceptable listing format (text/plain, "
                                 "application/json, application/xml, text/xml)")
        headers = self.info_headers(info, metadata)
        headers["content-type"] = listing.content_type_header(content_type)
        if params is None:  # HEAD
            return Response(204, headers, [])
        entries = [e if "subdir" in e else self.listing_entry(e) for e in records]
        body = listing.render(content_type, self.listing_root, target.names[-1],
                              self.listing_item, entries, self.xml_fields)
        # an empty listing is a 204 without a Content-Length, as before
        return Response(200, headers, body) if body else Response(204, headers, [])

    def listing_params(self, req: Request) -> ListingParams:
        try:
            query = req.GET
            raw = {k: query.get(k) for k in ("limit", "marker", "end_marker", "prefix",
                                             "delimiter", "reverse", "path")}
        except UnicodeDecodeError:
            raise HTTPError(400, "Listing parameters must be valid UTF-8") from None
        try:
            limit = listing_limit(raw["limit"], self.listing_limit)
        except InputError as err:
            raise HTTPError(412, str(err)) from None
        for key in ("marker", "end_marker", "prefix", "delimiter", "path"):
            # NUL is fine: it sorts below every name (Swift lists with marker=<name>%00)
            value = raw[key]
            if value and len(value.encode()) > self.max_lengths["Object"] * 2:
                raise HTTPError(400, f"{key} is too long")
        enc = {k: (raw[k] or "").encode("utf-8") for k in ("marker", "end_marker", "prefix", "delimiter")}
        return ListingParams(limit=limit, reverse=config_true_value(raw["reverse"] or ""),
                             path=None if raw["path"] is None else raw["path"].encode("utf-8"), **enc)

    # -- records (subclasses) ----------------------------------------------
    def listing_entry(self, rec: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def put_record(self, req: Request, target: Target) -> Response:
        raise NotImplementedError

    def delete_record(self, req: Request, target: Target) -> Response:
        raise NotImplementedError

    @staticmethod
    def ok(status: int) -> Response:
        """A database or record change that succeeded: an empty text body, or
        for a 204 nothing at all (no type, no length), as these servers always sent."""
        if status == 204:
            return Response(204, {}, [])
        return empty_response(status, {"content-type": TEXT_PLAIN})

    def may_autocreate(self, target: Target) -> bool:
        return target.names[0].startswith(self.auto_create_account_prefix)
