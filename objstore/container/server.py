"""The container server: container DBs (object listings) in LMDB.

``/<dev>/<part>/<a>/<c>`` is a container DB (PUT/POST/DELETE/HEAD/GET, see
objstore.db.server); ``/<dev>/<part>/<a>/<c>/<o>`` PUT/DELETE is an object
record update sent by the object servers (``X-Timestamp``, ``X-Size``,
``X-Content-Type``, ``X-Etag``).  Account stats are kept fresh by
``account_update.AccountUpdater``.
"""
from __future__ import annotations

import configparser
import logging
from typing import Any

from webob import Request

from objstore.common import listing
from objstore.common.http import HTTPError, Response
from objstore.common.checks import is_whole_number
from objstore.common.config import get_float, section
from objstore.common.constraints import wsgi_to_str
from objstore.common.wsgi_daemon import run_wsgi_daemon
from objstore.common.healthcheck import HealthCheck, server_healthcheck
from objstore.common.recon import server_recon
from objstore.container.account_update import AccountUpdater, HTTPSender, parse_account_hosts
from objstore.db.broker import Broker, Info
from objstore.db.schema import OBJECTS
from objstore.db.server import DBServer, Target

DEFAULT_PORT = 6201


def listing_bytes_and_type(size: int, content_type: str) -> tuple[int, str]:
    """Swift's ``swift_bytes=N`` content-type parameter (set for SLO manifests)
    overrides the listed size and is not shown."""
    if "swift_bytes=" not in content_type:
        return size, content_type
    kept = []
    for param in content_type.split(";"):
        key, _, value = param.strip().partition("=")
        if key == "swift_bytes" and is_whole_number(value):
            size = int(value)
        else:
            kept.append(param)
    return size, ";".join(kept)


def listing_etags(etag: str) -> tuple[str, str | None]:
    """An SLO manifest's record etag is ``<manifest md5>; slo_etag=<slo etag>``
    (the container-update override its PUT sets): listings show the manifest's
    MD5 as ``hash`` and, like Swift, the quoted SLO ETag as ``slo_etag``."""
    if ";" not in etag:
        return etag, None
    base, *params = etag.split(";")
    slo, kept = None, []
    for param in params:
        key, _, value = param.strip().partition("=")
        if key == "slo_etag":
            slo = f'"{value}"'
        else:
            kept.append(param.strip())
    return base.strip() + "".join(f"; {p}" for p in kept), slo


class ContainerServer(DBServer):
    server_type = "container"
    section_name = "container-server"
    store_subdir = "containers"
    kind = OBJECTS
    name_kinds = ("Account", "Container", "Object")
    meta_prefixes = ("x-container-meta-", "x-container-sysmeta-")
    meta_headers = ("x-container-read", "x-container-write", "x-container-sync-key",
                    "x-container-sync-to", "x-versions-location", "x-history-location")
    user_meta_prefix = "x-container-meta-"
    stat_headers = ("x-container-object-count", "x-container-bytes-used")
    listing_root = "container"
    listing_item = "object"
    delete_needs_empty = True
    track_dirty = True
    post_updates_put_timestamp = True
    xml_fields = frozenset({"name", "hash", "bytes", "content_type", "last_modified"})

    def __init__(self, conf: configparser.ConfigParser, logger: logging.Logger,
                 account_ring: Any = None, sender: Any = None) -> None:
        super().__init__(conf, logger)
        options = section(conf, self.section_name)
        self._account_ring = account_ring
        self.updater = AccountUpdater(
            self.stores, self.devices, logger, self.account_ring,
            sender or HTTPSender(get_float(options, "conn_timeout", 0.5),
                                 get_float(options, "node_timeout", 3.0)),
            interval=get_float(options, "account_update_interval", 1.0))

    def account_ring(self) -> Any:
        """The account ring, loaded on first use (it reloads itself)."""
        if self._account_ring is None:
            from ring.ring import load_ring
            self._account_ring = load_ring(self.conf, "account")
        return self._account_ring

    def start_background(self) -> None:
        super().start_background()
        self.updater.ensure_running()

    def close(self) -> None:
        self.updater.stop()
        super().close()

    def check_existing_put(self, info: Info, deleted: bool, policy: int | None) -> None:
        if not deleted and policy is not None and policy != info["storage_policy_index"]:
            raise HTTPError(409, "Container exists with a different storage policy",
                 {"x-backend-storage-policy-index": str(info["storage_policy_index"])})

    def after_db_change(self, req: Request, target: Target, broker: Broker) -> None:
        hosts = parse_account_hosts(req.headers)
        if hosts:
            self.updater.update_now(broker.get_info(), hosts)
        else:
            self.updater.poke()

    def listing_entry(self, rec: dict[str, Any]) -> dict[str, Any]:
        size, content_type = listing_bytes_and_type(rec["size"], rec["content_type"])
        etag, slo = listing_etags(rec["etag"])
        entry = {"name": rec["name"], "hash": etag, "bytes": size, "content_type": content_type,
                 "last_modified": listing.last_modified(rec["meta_timestamp"])}
        if slo is not None:
            entry["slo_etag"] = slo
        return entry

    # -- object records ----------------------------------------------------
    def put_record(self, req: Request, target: Target) -> Response:
        content_type = wsgi_to_str(req.headers.get("X-Content-Type", ""))
        etag = wsgi_to_str(req.headers.get("X-Etag", ""))
        if content_type is None or etag is None:
            raise HTTPError(400, "X-Content-Type and X-Etag must be valid UTF-8")
        record = {"name": target.record, "created_at": self.timestamp(req),
                  "size": self.int_header(req, "X-Size"), "content_type": content_type,
                  "etag": etag, "deleted": False,
                  # an object POST's update: when the type and metadata changed
                  "ctype_timestamp": self.timestamp(req, "X-Content-Type-Timestamp", required=False),
                  "meta_timestamp": self.timestamp(req, "X-Meta-Timestamp", required=False)}
        return self._merge_record(req, target, record, 201)

    def delete_record(self, req: Request, target: Target) -> Response:
        record = {"name": target.record, "created_at": self.timestamp(req), "deleted": True}
        return self._merge_record(req, target, record, 204)

    def _merge_record(self, req: Request, target: Target, record: dict[str, Any],
                      status: int) -> Response:
        policy = self.requested_policy(req)
        broker = self.broker(target)

        def op(txn, store):
            info = broker.info_txn(txn)
            if info is None and self.may_autocreate(target):
                info = broker.create_txn(txn, record["created_at"],
                                         self.policies.default.index if policy is None else policy,
                                         target.partition)
            if broker.is_deleted(info):
                raise HTTPError(404, "Container not found", self.backend_headers(info))
            record["storage_policy_index"] = info["storage_policy_index"] if policy is None else policy
            broker.merge_items_txn(txn, info, [record])

        broker.store.write(op)
        return self.ok(status)


def app_factory(conf: configparser.ConfigParser, logger: logging.Logger) -> HealthCheck:
    server = ContainerServer(conf, logger)
    recon = server_recon(server, conf, ContainerServer.section_name, server.recon_partitions)
    return server_healthcheck(recon, conf, ContainerServer.section_name)


def main(argv: list[str] | None = None) -> int:
    run_wsgi_daemon("container-server", app_factory, DEFAULT_PORT, argv=argv)
    return 0
