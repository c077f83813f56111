"""Container listing updates after an object PUT/DELETE, and async pendings.

The proxy names the container replicas to tell (``X-Container-Host: ip:port``,
``X-Container-Device``, ``X-Container-Partition``; host and device may be
comma-separated lists).  The object server sends ``PUT|DELETE
/<dev>/<part>/<a>/<c>/<o>`` to each, waits at most ``container_update_timeout``
seconds, and answers the client.  Any replica that failed or has not answered
by then is covered by an *async pending* written durably before the client
gets its answer, so no update is ever dropped; updates still in flight
remove that file if they all succeed after all.

Async pending format (consumed by the object updater)
    Path: ``<dev>/async_pending[-N]/<hash[-3:]>/<hash>-<X-Timestamp>`` where
    ``<hash>`` is the object's path hash (the queue entry's, for an update of
    the expiry queue) and ``-N`` the storage policy index.
    Content: msgpack dict, written temp + fsync + rename + dir fsync::

        {"op": "PUT" | "DELETE",
         "account": str, "container": str, "obj": str,
         "headers": {"X-Timestamp": ..., "X-Size": ..., "X-Content-Type": ...,
                     "X-Etag": ..., "X-Backend-Storage-Policy-Index": ...,
                     "X-Trans-Id": ...},   # exactly what was sent
         "container_partition": str,
         "failed": [{"host": "ip:port", "device": str}, ...],
         "successes": [int, ...]}   # added by the object updater: container
                                    # ring device ids that took it already

    A newer update for the same object supersedes an older one (the
    timestamps in the names tell which is newer).
"""
from __future__ import annotations

import logging
import os
import urllib.parse

import eventlet
import msgpack

from objstore.obj import durable
from objstore.obj.diskfile import DiskFileManager
from objstore.common.backend_http import ConnectionPool, request_status

Target = dict[str, str]


def parse_targets(environ: dict, kind: str = "Container") -> tuple[str, list[Target]] | None:
    """(partition, [{"host", "device"}]) from the proxy's X-<kind>-* headers
    (``Container``, or ``Delete-At`` for the expiry queue container)."""
    prefix = "HTTP_X_" + kind.upper().replace("-", "_")
    hosts = environ.get(prefix + "_HOST")
    devices = environ.get(prefix + "_DEVICE")
    partition = environ.get(prefix + "_PARTITION")
    if not hosts or not devices or not partition:
        return None
    host_list = [h.strip() for h in hosts.split(",") if h.strip()]
    device_list = [d.strip() for d in devices.split(",") if d.strip()]
    if len(host_list) != len(device_list):
        raise ValueError(f"X-{kind}-Host and X-{kind}-Device list different counts")
    return partition.strip(), [{"host": h, "device": d} for h, d in zip(host_list, device_list)]


def async_pending_path(dev_path: str, async_dir: str, obj_hash: str, timestamp: str) -> str:
    return os.path.join(dev_path, async_dir, obj_hash[-3:], f"{obj_hash}-{timestamp}")


class ContainerUpdateSender:
    """Sends an object write's listing update to the container replicas, or
    covers it with an async pending.  (Not Swift's container-updater, the
    daemon that tells accounts about containers.)

    Updates travel on keep-alive connections (the proxy's backend client and
    pool): a new TCP connection per update cost both servers a handshake, an
    accept and a greenthread, about a quarter of a container update's CPU.
    """

    def __init__(self, manager: DiskFileManager, logger: logging.Logger, *,
                 conn_timeout: float, node_timeout: float, update_timeout: float,
                 pool_size: int = 32) -> None:
        self.manager = manager
        self.logger = logger
        self.conn_timeout = conn_timeout
        self.node_timeout = node_timeout
        self.update_timeout = update_timeout
        self.pool = ConnectionPool(max_per_address=pool_size) if pool_size > 0 else None

    def send_one(self, target: Target, partition: str, path: str, op: str,
                 headers: dict[str, str]) -> bool:
        """One update to one container replica; True on 2xx."""
        host, _, port = target["host"].rpartition(":")
        url = urllib.parse.quote(f"/{target['device']}/{partition}{path}")
        try:
            status = request_status(self.pool, host.strip("[]"), int(port), op, url, headers,
                                    self.conn_timeout, self.node_timeout)
        except (Exception, eventlet.Timeout) as err:
            self.logger.warning("container update %s %s to %s failed: %s",
                                op, path, target["host"], err or type(err).__name__)
            return False
        if 200 <= status < 300:
            return True
        self.logger.warning("container update %s %s to %s got %d",
                            op, path, target["host"], status)
        return False

    def update(self, op: str, dev_path: str, async_dir: str, obj_hash: str,
               account: str, container: str, obj: str, partition: str,
               targets: list[Target], headers: dict[str, str]) -> None:
        """Tell the container replicas; return once done or covered by an async
        pending.  With no ``targets`` the update is only an async pending (the
        updater finds the replicas in the container ring)."""
        path = f"/{account}/{container}/{obj}"
        pool = eventlet.GreenPool(max(len(targets), 1))
        threads = [(target, pool.spawn(self.send_one, target, partition, path, op, headers))
                   for target in targets]
        results: dict[int, bool] = {}
        with eventlet.Timeout(self.update_timeout, False):
            for index, (_, thread) in enumerate(threads):
                results[index] = thread.wait()
        failed = [target for index, (target, _) in enumerate(threads) if not results.get(index)]
        if targets and not failed:
            return
        pending = async_pending_path(dev_path, async_dir, obj_hash, headers["X-Timestamp"])
        record = {"op": op, "account": account, "container": container, "obj": obj,
                  "headers": headers, "container_partition": partition, "failed": failed}
        self.manager.run_io(durable.write_file, self.manager.tmp_dir(dev_path), pending,
                            msgpack.packb(record, use_bin_type=True))
        if len(results) < len(threads):
            eventlet.spawn_n(self._drop_if_all_succeed, pending,
                             [thread for index, (_, thread) in enumerate(threads)
                              if index not in results], all(results.values()))

    def _drop_if_all_succeed(self, pending: str, threads: list, others_ok: bool) -> None:
        """Late updates all succeeded: the async pending is no longer needed."""
        if all([thread.wait() for thread in threads]) and others_ok:
            try:
                os.unlink(pending)
            except FileNotFoundError:
                pass
