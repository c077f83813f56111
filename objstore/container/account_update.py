"""Keeping the account servers' view of containers fresh.

Every change to a container DB (PUT, DELETE, object records, replication)
marks it *dirty* in the same LMDB transaction, so the mark survives
restarts.  A greenthread per worker flushes dirty containers every
``account_update_interval`` seconds (sooner when poked): it PUTs the
container's timestamps and counters to every account replica from the
account ring and clears the mark only when a quorum answered 2xx and the
container did not change meanwhile.  A failed report stays dirty and is
retried with exponential backoff (never dropped).

A container PUT/DELETE that names an account replica (``X-Account-Host``,
``-Partition``, ``-Device``, as the proxy sends them) also updates that
replica before answering, so an account listing right after the PUT shows
the container.
"""
from __future__ import annotations

import logging
import os
import time
import urllib.parse
from typing import Any, Callable

import eventlet
import eventlet.event
import eventlet.greenthread

from objstore.common.backend_http import ConnectionPool, request_status
from objstore.common.timestamp import Timestamp
from objstore.db.broker import unpack
from objstore.db.maintenance import clear_dirty, dirty_entries
from objstore.db.store import ListingStore, StoreCache

MAX_BACKOFF = 60.0
# send(ip, port, device, partition, account, container, headers) -> HTTP status
Sender = Callable[[str, int, str, int, str, str, dict[str, str]], int]


def report_headers(info: dict[str, Any]) -> dict[str, str]:
    """The account PUT headers describing a container DB."""
    return {"X-Put-Timestamp": Timestamp(info["put_timestamp"]).internal,
            "X-Delete-Timestamp": Timestamp(info["delete_timestamp"]).internal,
            "X-Object-Count": str(info["stats"][0]),
            "X-Bytes-Used": str(info["stats"][1]),
            "X-Backend-Storage-Policy-Index": str(info["storage_policy_index"]),
            "X-Timestamp": Timestamp(info["changed_at"]).internal}


class HTTPSender:
    """PUT to an account server on keep-alive connections, with timeouts."""

    def __init__(self, conn_timeout: float, node_timeout: float, pool_size: int = 8) -> None:
        self.conn_timeout = conn_timeout
        self.node_timeout = node_timeout
        self.pool = ConnectionPool(max_per_address=pool_size)

    def __call__(self, ip: str, port: int, device: str, partition: int, account: str,
                 container: str, headers: dict[str, str]) -> int:
        path = urllib.parse.quote(f"/{device}/{partition}/{account}/{container}")
        return request_status(self.pool, ip, port, "PUT", path, headers,
                              self.conn_timeout, self.node_timeout)


class AccountUpdater:
    """Flushes dirty container stats to the account servers."""

    def __init__(self, stores: StoreCache, devices: str, logger: logging.Logger,
                 get_ring: Callable[[], Any], send: Sender, interval: float = 1.0,
                 concurrency: int = 16) -> None:
        self.stores = stores
        self.devices = devices
        self.logger = logger
        self.get_ring = get_ring
        self.send = send
        self.interval = interval
        self.concurrency = concurrency
        self._backoff: dict[bytes, tuple[float, float]] = {}  # hash -> (retry at, delay)
        self._wake = eventlet.event.Event()
        self._pid: int | None = None
        self._thread: eventlet.greenthread.GreenThread | None = None

    # -- background loop ---------------------------------------------------
    def ensure_running(self) -> None:
        """Start the flusher in this process (after fork) unless disabled."""
        if self.interval > 0 and self._pid != os.getpid():
            self._pid = os.getpid()
            self._wake = eventlet.event.Event()
            self._thread = eventlet.spawn(self._run)

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.kill()
            self._thread = self._pid = None

    def poke(self) -> None:
        if not self._wake.ready():
            self._wake.send(None)

    def _run(self) -> None:
        while True:
            with eventlet.Timeout(self.interval, False):
                self._wake.wait()
            self._wake = eventlet.event.Event()
            try:
                self.flush()
            except Exception:
                self.logger.exception("account update pass failed")

    # -- flushing ----------------------------------------------------------
    def flush(self) -> int:
        """Report every due dirty container on every device; return how many
        were reported successfully."""
        done = 0
        try:
            devices = sorted(os.listdir(self.devices))
        except OSError:
            return 0
        for device in devices:
            store = self.stores.existing(os.path.join(self.devices, device))
            if store is not None:
                done += self.flush_store(store)
        return done

    def flush_store(self, store: ListingStore) -> int:
        now = time.monotonic()
        due = [(h, v) for h, v in dirty_entries(store) if self._backoff.get(h, (0, 0))[0] <= now]
        if not due:
            return 0
        with store.read() as txn:
            infos = {h: txn.get(h, db=store.db["info"]) for h, _ in due}

        def attempt(entry: tuple[bytes, int]) -> bool:
            raw = infos[entry[0]]
            return raw is None or self.report(unpack(raw))  # a dropped DB has nothing to say

        outcomes = list(eventlet.GreenPool(self.concurrency).imap(attempt, due))
        reported = []
        for (db_hash, version), ok in zip(due, outcomes):
            if ok:
                reported.append((db_hash, version))
                self._backoff.pop(db_hash, None)
            else:
                delay = min(MAX_BACKOFF, max(self.interval, 2 * self._backoff.get(db_hash, (0, 0.5))[1]))
                self._backoff[db_hash] = (now + delay, delay)
        clear_dirty(store, reported)
        return len(reported)

    def report(self, info: dict[str, Any]) -> bool:
        """Send a container's stats to all its account replicas; True on quorum."""
        try:
            ring = self.get_ring()
            partition, nodes = ring.get_nodes(info["account"])
        except Exception as err:
            self.logger.warning("account update of %s/%s postponed: no account ring (%s)",
                                info["account"], info["container"], err)
            return False
        headers = report_headers(info)
        targets = [(n["ip"], n["port"], n["device"], partition) for n in nodes]
        successes = sum(self._send_all(targets, info, headers))
        return bool(nodes) and successes >= len(nodes) // 2 + 1

    def update_now(self, info: dict[str, Any], hosts: list[tuple[str, int, str, int]]) -> None:
        """Best-effort immediate report to the named replicas (the flusher
        still reports to all of them)."""
        self._send_all(hosts, info, report_headers(info))

    def _send_all(self, targets: list[tuple[str, int, str, int]], info: dict[str, Any],
                  headers: dict[str, str]) -> list[bool]:
        def one(target):
            ip, port, device, partition = target
            try:
                status = self.send(ip, port, device, partition, info["account"],
                                   info["container"], headers)
            except (OSError, eventlet.Timeout) as err:
                self.logger.warning("account update to %s:%s/%s failed: %s", ip, port, device, err)
                return False
            if not 200 <= status < 300:
                self.logger.warning("account update to %s:%s/%s got %s", ip, port, device, status)
            return 200 <= status < 300
        return list(eventlet.GreenPool(len(targets) or 1).imap(one, targets))


def parse_account_hosts(headers: Any) -> list[tuple[str, int, str, int]]:
    """(ip, port, device, partition) from X-Account-Host/-Partition/-Device
    (comma-separated lists, as Swift's proxy sends); [] if absent or bad."""
    hosts = [h.strip() for h in headers.get("X-Account-Host", "").split(",") if h.strip()]
    devices = [d.strip() for d in headers.get("X-Account-Device", "").split(",") if d.strip()]
    partition = headers.get("X-Account-Partition", "")
    if not hosts or len(hosts) != len(devices) or not partition.isdigit():
        return []
    targets = []
    for host, device in zip(hosts, devices):
        ip, _, port = host.rpartition(":")
        if not port.isdigit():
            return []
        targets.append((ip.strip("[]"), int(port), device, int(partition)))
    return targets
