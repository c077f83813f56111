"""The object expirer: delete objects whose X-Delete-At has come, from the queue.

The proxy and the object servers keep one empty record per object with
``X-Delete-At`` in the hidden account ``.expiring_objects`` (names in
``objstore.common.expiring``).  One pass, through the internal client (the
in-process proxy, as system requests):

- lists the account's queue containers and, in each one whose time has
  come, its entries up to the first one not yet due (entries sort by time);
- DELETEs each due object with ``X-If-Delete-At: <delete_at>``, so an object
  that was overwritten or given another expiry since it was queued is left
  alone (412), as is one already gone (404), then removes the entry;
- deletes queue containers whose whole span is past once they are empty (no
  new entry can land there: an X-Delete-At in the past is refused).

At most ``concurrency`` deletions are in flight and ``tasks_per_second`` are
started per second.  ``processes``/``process`` split the entries between
several expirers (each takes the entries whose name hashes to its number).
"""
from __future__ import annotations

import configparser
import hashlib
import logging
import time
from typing import Callable, Iterator

import eventlet

from objstore.common.background import BackgroundDaemon, PassProgress, run_background_daemon
from objstore.common.config import ConfigError, get_float, get_int, section
from objstore.common.expiring import (EXPIRING_ACCOUNT, EXPIRING_OBJECTS_CONTAINER_DIVISOR,
                                      QueueEntry, parse_queue_entry)
from proxy.internal.client import OK, InternalClient
from replicator.rate_limit import RateLimiter

SECTION = "object-expirer"
DEFAULT_CONCURRENCY = 1
DEFAULT_TASKS_PER_SECOND = 50.0
GONE, CHANGED = 404, 412
LISTED = {200, 204, 404}  # no queue (yet) lists nothing


def handled_by(name: str, processes: int, process: int) -> bool:
    """Whether expirer ``process`` of ``processes`` takes this queue entry."""
    if processes <= 1:
        return True
    return int(hashlib.md5(name.encode("utf-8")).hexdigest(), 16) % processes == process


class ObjectExpirer(BackgroundDaemon):
    """One pass over the due part of the expiry queue (see the module docstring)."""

    unit = "queue entries"

    def __init__(self, conf: configparser.ConfigParser, logger: logging.Logger, *,
                 client: InternalClient | None = None, now: Callable[[], float] = time.time,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], object] = eventlet.sleep) -> None:
        options = section(conf, SECTION)
        self.logger = logger
        self.client = client or InternalClient.from_config(conf, logger, source="object-expirer")
        self.now = now
        self.concurrency = get_int(options, "concurrency", DEFAULT_CONCURRENCY)
        if self.concurrency < 1:
            raise ConfigError(f"[{SECTION}] concurrency must be at least 1")
        self.processes = get_int(options, "processes", 0)
        self.process = get_int(options, "process", 0)
        if self.processes > 1 and not 0 <= self.process < self.processes:
            raise ConfigError(f"[{SECTION}] process must be in 0..processes-1")
        self.limiter = RateLimiter(
            get_float(options, "tasks_per_second", DEFAULT_TASKS_PER_SECOND),
            clock=clock, sleep=sleep)

    def due_entries(self, container: str, now: float) -> Iterator[QueueEntry]:
        """The queue container's entries whose time has come, oldest first."""
        for item in self.client.iter_listing(EXPIRING_ACCOUNT, container,
                                             acceptable=LISTED):
            try:
                entry = parse_queue_entry(item["name"])
            except ValueError:
                self.logger.warning("skipping unparsable queue entry %s/%s",
                                    container, item["name"])
                continue
            if int(entry.delete_at) > now:
                return
            if handled_by(entry.name, self.processes, self.process):
                yield entry

    def run_once(self, progress: PassProgress) -> dict[str, int]:
        stats = {"expired": 0, "already_gone": 0, "changed": 0, "failed": 0,
                 "containers_removed": 0}
        now = self.now()
        pool = eventlet.GreenPool(self.concurrency)
        containers = [item["name"] for item in self.client.iter_listing(
            EXPIRING_ACCOUNT, acceptable=LISTED) if item["name"].isdigit()]
        for container in containers:
            if int(container) > now:
                break
            for entry in self.due_entries(container, now):
                if progress.stopping:
                    break
                self.limiter.spend()
                pool.spawn_n(self._expire_counted, entry, stats, progress)
            pool.waitall()
            if progress.stopping:
                break
            if int(container) + EXPIRING_OBJECTS_CONTAINER_DIVISOR <= now:
                stats["containers_removed"] += self._remove_if_empty(container)
        return stats

    def _expire_counted(self, entry: QueueEntry, stats: dict[str, int],
                        progress: PassProgress) -> None:
        try:
            outcome = self.expire(entry)
        except Exception as err:  # one entry's failure must not end the pass
            self.logger.warning("cannot expire %s/%s/%s (queue %s): %s", entry.account,
                                entry.container, entry.obj, entry.queue_container, err)
            outcome = "failed"
        stats[outcome] += 1
        progress.advance()

    def expire(self, entry: QueueEntry) -> str:
        """Delete the object if it still expires at the entry's time, then drop
        the entry: "expired", "already_gone" or "changed" (left alone)."""
        resp = self.client.delete(entry.account, entry.container, entry.obj,
                                  headers={"X-If-Delete-At": entry.delete_at},
                                  acceptable=OK | {GONE, CHANGED})
        self.client.delete(EXPIRING_ACCOUNT, entry.queue_container, entry.name)
        outcome = "expired" if resp.ok else "already_gone" if resp.status_int == GONE \
            else "changed"
        self.logger.info("%s %s/%s/%s (X-Delete-At %s)", outcome, entry.account,
                         entry.container, entry.obj, entry.delete_at)
        return outcome

    def _remove_if_empty(self, container: str) -> int:
        """1 if the past queue container was deleted (409: not empty, keep it)."""
        resp = self.client.delete(EXPIRING_ACCOUNT, container, acceptable={204, 404, 409})
        return 1 if resp.status_int == 204 else 0


def main(argv: list[str] | None = None) -> int:
    return run_background_daemon(SECTION, ObjectExpirer, argv)
