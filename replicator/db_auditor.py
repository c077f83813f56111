"""The container and account auditors: check every database of this node.

One class for both kinds (``DBAuditor(conf, logger, ContainerServer)`` or
``AccountServer``): the server class says where its LMDB environment lives
on a device and what its records hold.  One pass, per local device, opens
the environment and checks each database (``objstore.db.integrity``: info,
metadata and every record decode) at most ``databases_per_second`` a second:

- a broken database is moved aside (its keys copied to
  ``<dev>/quarantined/<containers|accounts>/<hash>-<timestamp>.msgpack``
  and removed from the store), so the DB replicator restores it from a peer;
- an environment LMDB itself cannot open or read is renamed to
  ``<dev>/quarantined/<containers|accounts>/lmdb-<timestamp>``: every
  database of the device then comes back from its peers.  A server that
  still has the old environment open keeps using it until it restarts.
"""
from __future__ import annotations

import configparser
import logging
import os
import time
from typing import Callable

import lmdb

from objstore.account.server import AccountServer
from objstore.common.background import BackgroundDaemon, PassProgress, run_background_daemon
from objstore.common.config import get_float, get_int, section
from objstore.common.timestamp import Timestamp
from objstore.container.server import ContainerServer
from objstore.db import integrity
from objstore.db.server import DBServer
from objstore.db.store import DEFAULT_MAP_SIZE, ListingStore
from replicator.devices import device_settings, local_devices
from replicator.rate_limit import RateLimiter

DEFAULT_DATABASES_PER_SECOND = 200.0
STORE_DIR = "lmdb"


class DBAuditor(BackgroundDaemon):
    """One pass over every container (or account) database of this node."""

    unit = "databases"

    def __init__(self, conf: configparser.ConfigParser, logger: logging.Logger,
                 server: type[DBServer], *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], object] = time.sleep) -> None:
        self.section_name = f"{server.server_type}-auditor"
        options = section(conf, self.section_name)
        self.logger = logger
        self.kind = server.kind
        self.store_subdir = server.store_subdir
        self.devices, self.mount_check = device_settings(conf, self.section_name,
                                                         server.section_name)
        self.map_size = get_int(section(conf, server.section_name), "db_map_size",
                                DEFAULT_MAP_SIZE)
        self.limiter = RateLimiter(
            get_float(options, "databases_per_second", DEFAULT_DATABASES_PER_SECOND),
            clock=clock, sleep=sleep)

    def run_once(self, progress: PassProgress) -> dict[str, int]:
        stats = {"checked": 0, "quarantined": 0, "quarantined_stores": 0}
        for _, dev_path in local_devices(self.devices, self.mount_check, self.logger):
            if progress.stopping:
                break
            store_dir = os.path.join(dev_path, self.store_subdir, STORE_DIR)
            if os.path.isdir(store_dir):
                try:
                    self.audit_store(dev_path, store_dir, stats, progress)
                except lmdb.Error as err:
                    self._quarantine_store(dev_path, store_dir, err)
                    stats["quarantined_stores"] += 1
        return stats

    def audit_store(self, dev_path: str, store_dir: str, stats: dict[str, int],
                    progress: PassProgress) -> None:
        """Check each database of one device's environment (LMDB errors propagate)."""
        store = ListingStore(store_dir, self.map_size, use_tpool=False)
        try:
            with store.read() as txn:
                db_hashes = list(txn.cursor(db=store.db["info"]).iternext(values=False))
            for db_hash in db_hashes:
                if progress.stopping:
                    return
                self.limiter.spend()
                with store.read() as txn:
                    raw_info = txn.get(db_hash, db=store.db["info"])
                    if raw_info is None:  # dropped since the listing
                        continue
                    reason = integrity.problem(txn, store, self.kind, db_hash, raw_info)
                stats["checked"] += 1
                if reason is not None:
                    path = integrity.move_aside(store, db_hash, self._quarantine_dir(dev_path))
                    stats["quarantined"] += 1
                    self.logger.warning("quarantined database %s in %s to %s: %s",
                                        db_hash.hex(), store_dir, path, reason)
                progress.advance()
        finally:
            store.close()

    def _quarantine_dir(self, dev_path: str) -> str:
        return os.path.join(dev_path, "quarantined", self.store_subdir)

    def _quarantine_store(self, dev_path: str, store_dir: str, err: Exception) -> None:
        target_dir = self._quarantine_dir(dev_path)
        os.makedirs(target_dir, exist_ok=True)
        target = os.path.join(target_dir, f"{STORE_DIR}-{Timestamp.now().internal}")
        os.rename(store_dir, target)
        self.logger.error("quarantined the whole store %s to %s: %s", store_dir, target, err)


def container_auditor(conf: configparser.ConfigParser, logger: logging.Logger) -> DBAuditor:
    return DBAuditor(conf, logger, ContainerServer)


def account_auditor(conf: configparser.ConfigParser, logger: logging.Logger) -> DBAuditor:
    return DBAuditor(conf, logger, AccountServer)


def main_container_auditor(argv: list[str] | None = None) -> int:
    return run_background_daemon("container-auditor", container_auditor, argv)


def main_account_auditor(argv: list[str] | None = None) -> int:
    return run_background_daemon("account-auditor", account_auditor, argv)
