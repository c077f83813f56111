"""The object updater: replay the container updates the object server could not deliver.

When a container replica does not answer an object PUT/DELETE's update in
time, the object server writes an *async pending*
(``<dev>/async_pending[-N]/<suffix>/<hash>-<timestamp>``, see
``objstore.obj.container_updates``) and answers the client anyway.  One pass
of this daemon, on every local device and storage policy:

- lists each suffix directory; for one object only the newest pending
  matters (a container keeps the newest record whatever the order), so the
  older ones are removed unsent;
- sends the newest to every primary of the container in the *current*
  container ring (so a ring change sends it where the container now lives),
  skipping replicas an earlier pass already reached;
- removes the pending once every primary answered 2xx (as Swift does); if
  only some did, it records them in the pending (``"successes"``: device
  ids) and retries the rest on the next pass.

At most ``concurrency`` pendings are in flight and ``updates_per_second``
are started per second.
"""
from __future__ import annotations

import configparser
import logging
import os
import time
from typing import Callable, Iterator, NamedTuple

import eventlet
import msgpack

from objstore.common.background import BackgroundDaemon, PassProgress, run_background_daemon
from objstore.common.config import ConfigError, get_float, get_int, section
from objstore.common.policies import StoragePolicy, load_policies
from objstore.common.timestamp import Timestamp
from objstore.obj import durable
from objstore.obj.container_updates import ContainerUpdateSender
from replicator.devices import local_devices, object_disk_manager
from replicator.rate_limit import RateLimiter
from ring.errors import RingError
from ring.ring import load_ring

SECTION = "object-updater"
DEFAULT_CONCURRENCY = 8
DEFAULT_UPDATES_PER_SECOND = 50.0


class Pending(NamedTuple):
    path: str
    dev_path: str
    policy: StoragePolicy


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _remove(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def newest_per_object(names: list[str]) -> tuple[list[str], list[str]]:
    """(the newest pending of each object, the older ones it supersedes) among
    one suffix directory's ``<hash>-<timestamp>`` names; others are ignored."""
    parsed = []
    for name in names:
        obj_hash, dash, timestamp = name.partition("-")
        try:
            parsed.append((obj_hash, Timestamp(timestamp), name))
        except ValueError:
            continue
    newest: dict[str, str] = {}
    superseded = []
    for obj_hash, _, name in sorted(parsed, reverse=True):
        if obj_hash in newest:
            superseded.append(name)
        else:
            newest[obj_hash] = name
    return list(newest.values()), superseded


def _host(node: dict) -> str:
    ip = node["ip"]
    return f"[{ip}]:{node['port']}" if ":" in ip else f"{ip}:{node['port']}"


class ObjectUpdater(BackgroundDaemon):
    """One pass over every async pending of this node (see the module docstring)."""

    unit = "async pendings"

    def __init__(self, conf: configparser.ConfigParser, logger: logging.Logger, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], object] = eventlet.sleep) -> None:
        options = section(conf, SECTION)
        self.logger = logger
        self.manager = object_disk_manager(conf, SECTION, logger)
        self.policies = load_policies(conf)
        try:
            self.container_ring = load_ring(conf, "container")
        except RingError as err:
            raise ConfigError(str(err)) from None
        node_timeout = get_float(options, "node_timeout", 10.0)
        self.sender = ContainerUpdateSender(self.manager, logger,
                                            conn_timeout=get_float(options, "conn_timeout", 0.5),
                                            node_timeout=node_timeout,
                                            update_timeout=node_timeout)
        self.concurrency = get_int(options, "concurrency", DEFAULT_CONCURRENCY)
        if self.concurrency < 1:
            raise ConfigError(f"[{SECTION}] concurrency must be at least 1")
        self.limiter = RateLimiter(
            get_float(options, "updates_per_second", DEFAULT_UPDATES_PER_SECOND),
            clock=clock, sleep=sleep)

    def pendings(self, stats: dict[str, int]) -> Iterator[Pending]:
        """The newest pending of each object, removing the older ones on the way."""
        for _, dev_path in local_devices(self.manager.devices, self.manager.mount_check,
                                         self.logger):
            for policy in self.policies:
                async_root = os.path.join(dev_path, policy.async_dir)
                for suffix in _listdir(async_root):
                    suffix_dir = os.path.join(async_root, suffix)
                    newest, superseded = newest_per_object(_listdir(suffix_dir))
                    stats["found"] += len(newest) + len(superseded)
                    for name in superseded:
                        stats["removed"] += _remove(os.path.join(suffix_dir, name))
                    for name in newest:
                        yield Pending(os.path.join(suffix_dir, name), dev_path, policy)

    def run_once(self, progress: PassProgress) -> dict[str, int]:
        stats = {"found": 0, "succeeded": 0, "failed": 0, "removed": 0, "errors": 0}
        pool = eventlet.GreenPool(self.concurrency)
        visited: set[str] = set()
        for pending in self.pendings(stats):
            if progress.stopping:
                break
            visited.add(os.path.dirname(pending.path))
            self.limiter.spend()
            pool.spawn_n(self._replay_counted, pending, stats, progress)
        pool.waitall()
        for suffix_dir in visited:  # Swift too leaves no empty suffix directories
            try:
                os.rmdir(suffix_dir)
            except OSError:
                pass
        return stats

    def _replay_counted(self, pending: Pending, stats: dict[str, int],
                        progress: PassProgress) -> None:
        try:
            outcome = self.replay(pending)
        except Exception:
            self.logger.exception("cannot replay %s", pending.path)
            outcome = "errors"
        if outcome is not None:
            stats[outcome] += 1
        progress.advance()

    def replay(self, pending: Pending) -> str | None:
        """Send one pending to the container primaries it has not reached yet:
        "succeeded" (removed), "failed" (kept for the next pass), "errors"
        (unreadable: quarantined), or None if it was gone already."""
        try:
            with open(pending.path, "rb") as handle:
                record = msgpack.unpackb(handle.read(), raw=False)
            account, container, obj = record["account"], record["container"], record["obj"]
            op, headers = record["op"], record["headers"]
        except FileNotFoundError:  # its late container update succeeded after all
            return None
        except (ValueError, KeyError, TypeError, msgpack.UnpackException) as err:
            self._quarantine(pending, err)
            return "errors"
        partition, nodes = self.container_ring.get_nodes(account, container)
        successes = set(record.get("successes", []))
        todo = [node for node in nodes if node["id"] not in successes]
        pile = eventlet.GreenPile(max(len(todo), 1))
        for node in todo:
            pile.spawn(self.sender.send_one, {"host": _host(node), "device": node["device"]},
                       str(partition), f"/{account}/{container}/{obj}", op, headers)
        reached = {node["id"] for node, ok in zip(todo, pile) if ok}
        if len(reached) == len(todo):
            _remove(pending.path)
            return "succeeded"
        if reached:
            record["successes"] = sorted(successes | reached)
            durable.write_file(self.manager.tmp_dir(pending.dev_path), pending.path,
                               msgpack.packb(record, use_bin_type=True))
        return "failed"

    def _quarantine(self, pending: Pending, err: Exception) -> None:
        target_dir = os.path.join(pending.dev_path, "quarantined", pending.policy.async_dir)
        os.makedirs(target_dir, exist_ok=True)
        target = os.path.join(target_dir, os.path.basename(pending.path))
        os.rename(pending.path, target)
        self.logger.error("quarantined unreadable async pending %s to %s: %s",
                          pending.path, target, repr(err))


def main(argv: list[str] | None = None) -> int:
    return run_background_daemon(SECTION, ObjectUpdater, argv)
