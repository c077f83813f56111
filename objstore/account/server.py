"""The account server: account DBs (container listings) in LMDB.

``/<dev>/<part>/<a>`` is an account DB (PUT/POST/DELETE/HEAD/GET, see
objstore.db.server); ``PUT /<dev>/<part>/<a>/<c>`` is a container record
sent by the container servers (``X-Put-Timestamp``, ``X-Delete-Timestamp``,
``X-Object-Count``, ``X-Bytes-Used``, ``X-Backend-Storage-Policy-Index``
and optionally ``X-Timestamp``: when the reporting container replica last
changed, which orders its counters against other reports).
"""
from __future__ import annotations

import configparser
import logging
from typing import Any

from webob import Request

from objstore.common import listing
from objstore.common.http import HTTPError, Response
from objstore.common.wsgi_daemon import run_wsgi_daemon
from objstore.common.healthcheck import HealthCheck, server_healthcheck
from objstore.common.recon import server_recon
from objstore.db.broker import Info
from objstore.db.schema import CONTAINERS, ZERO_TS
from objstore.db.server import DBServer, Target

DEFAULT_PORT = 6202


class AccountServer(DBServer):
    server_type = "account"
    section_name = "account-server"
    store_subdir = "accounts"
    kind = CONTAINERS
    name_kinds = ("Account", "Container")
    meta_prefixes = ("x-account-meta-", "x-account-sysmeta-")
    meta_headers = ("x-account-access-control",)
    user_meta_prefix = "x-account-meta-"
    stat_headers = ("x-account-container-count", "x-account-object-count", "x-account-bytes-used")
    listing_root = "account"
    listing_item = "container"
    delete_needs_empty = False

    def check_existing_put(self, info: Info, deleted: bool, policy: int | None) -> None:
        if deleted:
            raise HTTPError(403, "Recently deleted", self.backend_headers(info))

    def backend_headers(self, info: Info | None) -> dict[str, str]:
        headers = super().backend_headers(info)
        if info is not None and info["delete_timestamp"] > info["put_timestamp"]:
            headers["x-account-status"] = "Deleted"
        return headers

    def info_headers(self, info: Info, metadata: dict[str, str]) -> dict[str, str]:
        headers = super().info_headers(info, metadata)
        for index, (containers, objects, size) in sorted(info["policy_stats"].items()):
            policy = self.policies.get_by_index(index)
            if policy is None or not containers:
                continue
            base = f"x-account-storage-policy-{policy.name.lower()}-"
            headers[base + "container-count"] = str(containers)
            headers[base + "object-count"] = str(objects)
            headers[base + "bytes-used"] = str(size)
        return headers

    def listing_entry(self, rec: dict[str, Any]) -> dict[str, Any]:
        entry = {"name": rec["name"], "count": rec["object_count"], "bytes": rec["bytes_used"],
                 "last_modified": listing.last_modified(rec["put_timestamp"])}
        policy = self.policies.get_by_index(rec["storage_policy_index"])
        if policy is not None:  # Swift lists the policy unless it is unknown
            entry["storage_policy"] = policy.name
        return entry

    # -- container records -------------------------------------------------
    def put_record(self, req: Request, target: Target) -> Response:
        put_ts = self.timestamp(req, "X-Put-Timestamp", required=False) or ZERO_TS
        delete_ts = self.timestamp(req, "X-Delete-Timestamp", required=False) or ZERO_TS
        stats_ts = self.timestamp(req, "X-Timestamp", required=False) or max(put_ts, delete_ts)
        policy = self.requested_policy(req)
        record = {"name": target.record, "put_timestamp": put_ts, "delete_timestamp": delete_ts,
                  "object_count": self.int_header(req, "X-Object-Count", 0),
                  "bytes_used": self.int_header(req, "X-Bytes-Used", 0),
                  "storage_policy_index": self.policies.default.index if policy is None else policy,
                  "stats_timestamp": stats_ts}
        broker = self.broker(target)

        def op(txn, store):
            info = broker.info_txn(txn)
            if info is None and self.may_autocreate(target):
                info = broker.create_txn(txn, max(put_ts, stats_ts), self.policies.default.index,
                                         target.partition)
            if broker.is_deleted(info):
                raise HTTPError(404, "Account not found", self.backend_headers(info))
            broker.merge_items_txn(txn, info, [record])

        broker.store.write(op)
        return self.ok(204 if delete_ts > put_ts else 201)

    def delete_record(self, req: Request, target: Target) -> Response:
        raise HTTPError(405, "Container records are deleted with PUT and X-Delete-Timestamp",
                        {"allow": "PUT"})


def app_factory(conf: configparser.ConfigParser, logger: logging.Logger) -> HealthCheck:
    server = AccountServer(conf, logger)
    recon = server_recon(server, conf, AccountServer.section_name, server.recon_partitions)
    return server_healthcheck(recon, conf, AccountServer.section_name)


def main(argv: list[str] | None = None) -> int:
    run_wsgi_daemon("account-server", app_factory, DEFAULT_PORT, argv=argv)
    return 0
