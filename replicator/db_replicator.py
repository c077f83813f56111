"""The container and account replicators: one class, parametrised by the
server whose DBs it keeps whole (``ContainerServer`` or ``AccountServer``).

One pass, for each of this node's ring devices (an unmounted one is skipped):

- first ``objstore.db.maintenance.reclaim`` drops the tombstones and deleted
  DBs older than ``reclaim_age``; a deleted DB it had to keep (its account
  has not heard of the deletion yet) is not pushed either, since a peer that
  dropped it already would get it back;
- a DB whose device is one of its primaries is pushed to each other primary
  (``replicator.db_push``: the records changed since that peer's sync point,
  or a whole copy when the peer has none).  Every primary's replicator does
  the same, so once each has run a pass every replica holds every record.
  The records a replica received go back once to their senders in the next
  pass (a replica only knows how far it read each peer, not where its own
  records came from); that changes nothing there, and the pass after it
  sends nothing at all;
- a DB on a handoff (not a primary by the current ring: written while a
  primary was down, or left behind by a rebalance) is pushed to all its
  primaries and removed here once every one of them acknowledged it, and
  only if it did not change meanwhile.

A replica that receives records is marked dirty by the REPLICATE handler, so
a container server then reports the replicated container's new counters to
its account replicas, as it does after any change.
"""
from __future__ import annotations

import collections
import configparser
import dataclasses
import itertools
import logging
import time
from typing import Any, Iterable, Iterator

import eventlet

from objstore.account import server as account_server
from objstore.account.server import AccountServer
from objstore.common.background import BackgroundDaemon, PassProgress, run_background_daemon
from objstore.common.config import config_true_value, get_float, get_int, section
from objstore.common.error_limiter import ErrorLimiter
from objstore.common.fanout import NodeIter
from objstore.container import server as container_server
from objstore.container.server import ContainerServer
from objstore.db.broker import Broker
from objstore.db.maintenance import DEFAULT_RECLAIM_AGE, broker_for, databases, \
    is_reclaimable, reclaim, reclaim_cutoff
from objstore.db.replication import MAX_SYNC_MANY
from objstore.db.server import DBServer
from objstore.db.store import DEFAULT_MAP_SIZE, ListingStore, StoreCache
from replicator.db_peer import HTTPReplicate, Payload, PeerError, Replicate
from replicator.db_push import LocalDB, push, sync_many
from replicator.devices import device_settings, local_devices, ring_devices

# options a replicator takes from its server's section unless its own sets them
# (devices and mount_check too: replicator.devices.device_settings)
SERVER_OPTIONS = ("bind_ip", "bind_port", "reclaim_age", "db_map_size", "db_use_tpool")
# checked: DBs looked at; synced / in_sync: peer replicas brought up to date /
# already current; failures: peer replicas that could not be reached or refused
COUNTERS = ("checked", "synced", "in_sync", "records_sent", "whole_copies", "handoffs_removed",
            "reclaimed_dbs", "reclaimed_records", "failures", "devices_skipped")


Synced = tuple[int, Payload] | PeerError | eventlet.Timeout


@dataclasses.dataclass(frozen=True)
class Plan:
    """One DB of this node and the peers it goes to."""
    db: LocalDB
    names: list[str]
    device_id: int                   # the ring device of this node holding it
    primaries: list[dict[str, Any]]
    peers: list[dict[str, Any]]      # the other primaries (every primary, from a handoff)

    @property
    def is_primary(self) -> bool:
        return len(self.peers) < len(self.primaries)


class DBReplicator(BackgroundDaemon):
    """Keeps every replica of this node's container (or account) DBs whole."""
    unit = "dbs"

    def __init__(self, conf: configparser.ConfigParser, logger: logging.Logger,
                 server: type[DBServer], default_port: int, *, ring: Any = None,
                 replicate: Replicate | None = None, stores: StoreCache | None = None) -> None:
        self.name = f"{server.server_type}-replicator"
        self.server_type = server.server_type
        self.kind = server.kind
        self.logger = logger
        inherited = section(conf, server.section_name)
        options = {key: inherited[key] for key in SERVER_OPTIONS if key in inherited}
        options.update(section(conf, self.name))
        self.devices, self.mount_check = device_settings(conf, self.name, server.section_name)
        self.bind_ip = options.get("bind_ip", "127.0.0.1")
        self.bind_port = get_int(options, "bind_port", default_port)
        self.reclaim_age = get_float(options, "reclaim_age", DEFAULT_RECLAIM_AGE)
        self.concurrency = max(1, get_int(options, "concurrency", 8))
        self.batch_size = max(1, get_int(options, "batch_size", 1000))
        self.sync_batch = max(1, min(MAX_SYNC_MANY, get_int(options, "sync_batch", 1000)))
        self.stores = stores or StoreCache(server.store_subdir,
                                           get_int(options, "db_map_size", DEFAULT_MAP_SIZE),
                                           config_true_value(options.get("db_use_tpool", "true")))
        self.error_limiter = ErrorLimiter(get_int(options, "error_suppression_limit", 10),
                                          get_float(options, "error_suppression_interval", 60.0),
                                          logger)
        self._conf = conf
        self._ring = ring
        self.replicate = replicate or HTTPReplicate(get_float(options, "conn_timeout", 0.5),
                                                    get_float(options, "node_timeout", 10.0))

    @property
    def ring(self) -> Any:
        """The DB ring, loaded on first use (it reloads itself when the file changes)."""
        if self._ring is None:
            from ring.ring import load_ring
            self._ring = load_ring(self._conf, self.server_type)
        return self._ring

    # -- one pass ----------------------------------------------------------
    def run_once(self, progress: PassProgress) -> dict[str, int]:
        """Reclaim, then replicate every DB of every ready local device."""
        stats: collections.Counter[str] = collections.Counter({name: 0 for name in COUNTERS})
        work = []
        mine = ring_devices(self.ring.devs, self.bind_ip, self.bind_port)
        usable = dict(local_devices(self.devices, self.mount_check, self.logger))
        stats["devices_skipped"] = len(mine.keys() - usable.keys())
        for name in sorted(mine.keys() & usable.keys()):
            device = mine[name]
            store = self.stores.existing(usable[name])
            if store is not None:
                cutoff = self._reclaim(store, stats)
                work.append((device, store, list(databases(store)), cutoff))
        progress.set_total(sum(len(dbs) for _, _, dbs, _ in work))
        for device, store, dbs, cutoff in work:
            rows = _until_stopped(dbs, progress)
            while chunk := list(itertools.islice(rows, self.sync_batch)):
                for counts in self._replicate_chunk(device, store, chunk, cutoff):
                    stats.update(counts)
                    progress.advance()
        return dict(stats)

    def _reclaim(self, store: ListingStore, stats: collections.Counter[str]) -> str:
        """Drop what is older than ``reclaim_age`` before anything is pushed,
        so that no pass sends a peer what that peer's own pass, run earlier
        with an earlier cutoff, reclaimed already; the cutoff is returned to
        skip the deleted DBs that could not be dropped yet."""
        now = time.time()
        records, dropped = reclaim(store, self.kind, self.reclaim_age, now)
        stats["reclaimed_records"] += records
        stats["reclaimed_dbs"] += dropped
        return reclaim_cutoff(self.reclaim_age, now)

    def _replicate_chunk(self, device: dict[str, Any], store: ListingStore,
                         rows: list[tuple[bytes, dict[str, Any]]],
                         cutoff: str) -> Iterator[collections.Counter[str]]:
        """Replicate some DBs of a device: one ``sync_many`` per peer device
        for all of them, then pushes only where a peer lacks something."""
        plans: list[Plan] = []
        for db_hash, info in rows:
            try:
                plan = self._plan(device, store, db_hash, info, cutoff)
            except Exception:
                self.logger.exception("%s DB %s: cannot read it", self.server_type, db_hash.hex())
                yield collections.Counter(checked=1, failures=1)
                continue
            if plan is None:
                yield collections.Counter(checked=1)
            else:
                plans.append(plan)
        synced = self._sync_many(plans)
        pool = eventlet.GreenPool(self.concurrency)
        yield from pool.imap(lambda plan: self._replicate_safely(plan, synced), plans)

    def _plan(self, device: dict[str, Any], store: ListingStore, db_hash: bytes,
              info: dict[str, Any], cutoff: str) -> Plan | None:
        """Where one DB goes (None: nothing to do: gone meanwhile, or deleted
        long ago and kept only until its account has heard of it)."""
        broker = broker_for(store, self.kind, db_hash, info)
        names = [info["account"]] + ([info["container"]] if info["container"] else [])
        partition = self.ring.get_part(*names)
        db = LocalDB.read(broker, partition)
        if db is None or is_reclaimable(broker, db.info, cutoff):
            return None
        primaries = self.ring.get_part_nodes(partition)
        return Plan(db, names, device["id"], primaries,
                    [node for node in primaries if node["id"] != device["id"]])

    def _sync_many(self, plans: list[Plan]) -> dict[tuple[bytes, int], Synced]:
        """Every peer's sync answer for ``plans``' DBs, by (DB hash, peer
        device id): one request per peer device (a PeerError if it failed)."""
        groups: dict[int, tuple[dict[str, Any], list[Plan]]] = {}
        for plan in plans:
            for node in plan.peers:
                groups.setdefault(node["id"], (node, []))[1].append(plan)

        def ask(group: tuple[dict[str, Any], list[Plan]]) -> dict[tuple[bytes, int], Synced]:
            node, members = group
            hashes = [plan.db.broker.hash for plan in members]
            try:
                answers = sync_many(self.replicate, node, [(h, plan.db.info["id"])
                                                           for h, plan in zip(hashes, members)])
            except (PeerError, eventlet.Timeout) as err:
                return {(h, node["id"]): err for h in hashes}
            return {(h, node["id"]): answer for h, answer in zip(hashes, answers)}

        found: dict[tuple[bytes, int], Synced] = {}
        for answers in eventlet.GreenPool(self.concurrency).imap(ask, groups.values()):
            found.update(answers)
        return found

    def _replicate_safely(self, plan: Plan,
                          synced: dict[tuple[bytes, int], Synced]) -> collections.Counter[str]:
        """One DB's failure (say a corrupt record) is logged and counted, not fatal to the pass."""
        try:
            return self.replicate_db(plan, synced)
        except Exception:
            self.logger.exception("%s DB %s: replication failed", self.server_type,
                                  "/".join(plan.names))
            return collections.Counter(checked=1, failures=1)

    def replicate_db(self, plan: Plan,
                     synced: dict[tuple[bytes, int], Synced]) -> collections.Counter[str]:
        """Push one DB to its other primaries (all of them from a handoff)."""
        counts: collections.Counter[str] = collections.Counter(checked=1)
        db, peers = plan.db, list(plan.peers)
        handoffs = (node for node in NodeIter(self.ring, db.partition, self.error_limiter,
                                              plan.primaries, quorum=1).handoff_nodes()
                    if node["id"] != plan.device_id)
        acknowledged = 0
        for node in peers:
            try:
                known = synced.get((db.broker.hash, node["id"]))
                if isinstance(known, BaseException):
                    raise known
                result = push(self.replicate, node, db, self.batch_size, known)
            except (PeerError, eventlet.Timeout) as err:
                counts["failures"] += 1
                self.logger.warning("%s %s to %s:%s/%s failed: %s", self.server_type,
                                    "/".join(plan.names), node["ip"], node["port"],
                                    node["device"], err)
                if plan.is_primary and getattr(err, "status", None) == 507:
                    # an unmounted disk may stay so for long: keep a copy on
                    # a handoff meanwhile (its replicator brings it back)
                    self.error_limiter.limit_now(node, "507 Insufficient Storage")
                    peers.extend(itertools.islice(handoffs, 1))
                continue
            acknowledged += 1
            counts["in_sync" if result.in_sync else "synced"] += 1
            counts["whole_copies"] += result.whole_copy
            counts["records_sent"] += result.records_sent
        if not plan.is_primary and peers and acknowledged == len(peers):
            if db.broker.store.write(lambda txn, s: _drop_if_unchanged(txn, db)):
                counts["handoffs_removed"] += 1
                self.logger.info("handoff %s %s moved to its primaries", self.server_type,
                                 "/".join(plan.names))
        return counts

    def close(self) -> None:
        self.stores.close()


def _until_stopped(rows: Iterable[Any], progress: PassProgress) -> Iterator[Any]:
    for row in rows:
        if progress.stopping:
            return
        yield row


def _drop_if_unchanged(txn, db: LocalDB) -> bool:
    """Remove a handoff DB the primaries acknowledged, unless it changed since it was read."""
    broker: Broker = db.broker
    current = broker.info_txn(txn)
    if current is None or current["version"] != db.info["version"] \
            or broker.metadata_txn(txn) != db.metadata:
        return False
    broker.drop_txn(txn)
    return True


def container_replicator(conf: configparser.ConfigParser, logger: logging.Logger) -> DBReplicator:
    return DBReplicator(conf, logger, ContainerServer, container_server.DEFAULT_PORT)


def account_replicator(conf: configparser.ConfigParser, logger: logging.Logger) -> DBReplicator:
    return DBReplicator(conf, logger, AccountServer, account_server.DEFAULT_PORT)


def main_container(argv: list[str] | None = None) -> int:
    return run_background_daemon("container-replicator", container_replicator, argv)


def main_account(argv: list[str] | None = None) -> int:
    return run_background_daemon("account-replicator", account_replicator, argv)
