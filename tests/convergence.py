"""Write load and convergence checks shared by the cluster tests that break
things (daemons killed, hosts cut off, slow links) and then heal them.

``Writer`` threads work on their own objects through a proxy, one operation
at a time, and remember the acknowledged state of each.  An operation the
proxy did not acknowledge may or may not have happened: the object's state
is ``UNKNOWN`` until the next acknowledged one, and such an object must only
be the same on every replica.  Every request is logged with its start time
and outcome, so a test can tell the share that failed during a fault.

After the load, ``on_every_node`` runs one pass of a background daemon on
every node, and ``object_replicas`` / ``listing`` read what each primary
holds, straight from the storage servers.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import glob
import hashlib
import http.client
import json
import os
import random
import threading
import time
import urllib.parse

from objstore.common.hashing import hash_path
from tests.cluster import HASH_PATH_SUFFIX, Cluster

ACCOUNT = "AUTH_test"
UNKNOWN = "unknown"  # the last operation was not acknowledged
# generous timeouts: a loaded test machine must not turn a slow peer into a failed push
# (and a progress line after every unit of work, to check that each pass logs them)
PASS_OPTIONS = {"conn_timeout": "5", "node_timeout": "60", "progress_interval": "0"}
PASSES = ("object-updater", "object-replicator", "container-replicator", "account-replicator")


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One request a writer made: when it started and ended, and its status
    (0: no answer at all)."""

    started: float
    ended: float
    method: str
    status: int

    @property
    def failed(self) -> bool:
        return self.status == 0 or self.status >= 500


class Writer(threading.Thread):
    """Works on its own objects, one operation at a time, and remembers the
    acknowledged state of each: (md5, size, X-Object-Meta-Round), None once
    deleted, UNKNOWN after a failed operation."""

    def __init__(self, cluster: Cluster, number: int, stop: threading.Event,
                 containers: tuple[str, ...], names_per_writer: int = 10,
                 proxy: tuple[str, int] | None = None, timeout: float = 30) -> None:
        super().__init__(daemon=True)
        self.cluster = cluster
        self.stop = stop
        self.proxy = proxy
        self.timeout = timeout
        self.rng = random.Random(number)
        self.names = [(containers[i % len(containers)], f"w{number}-{i}")
                      for i in range(names_per_writer)]
        self.state: dict[tuple[str, str], object] = {}
        self.operations = 0
        self.failed = 0
        self.attempts: list[Attempt] = []

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> int:
        self.operations += 1
        host, port = self.proxy or (self.cluster.proxy_host, self.cluster.proxy_port)
        started = time.monotonic()
        conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = 0
        finally:
            conn.close()
        self.attempts.append(Attempt(started, time.monotonic(), method, status))
        return status

    def step(self) -> None:
        key = self.rng.choice(self.names)
        path = urllib.parse.quote(f"/v1/{ACCOUNT}/{key[0]}/{key[1]}")
        current = self.state.get(key)
        choice = self.rng.random()
        if current in (None, UNKNOWN) or choice < 0.5:
            body = os.urandom(self.rng.choice((10, 3000, 40000)))
            status = self.request("PUT", path, body)
            outcome = (hashlib.md5(body).hexdigest(), len(body), None) if status == 201 else UNKNOWN
        elif choice < 0.75:
            status = self.request("DELETE", path)
            outcome = None if status == 204 else UNKNOWN
        else:
            round_ = str(self.operations)
            status = self.request("POST", path, headers={"X-Object-Meta-Round": round_})
            outcome = (*current[:2], round_) if status == 202 else UNKNOWN
        if outcome == UNKNOWN:
            self.failed += 1
        self.state[key] = outcome

    def run(self) -> None:
        while not self.stop.is_set():
            self.step()


def failed_share(writers: list[Writer], start: float, end: float) -> tuple[int, int]:
    """(failed, all) requests that started between ``start`` and ``end``
    (``time.monotonic()`` values)."""
    during = [attempt for writer in writers for attempt in writer.attempts
              if start <= attempt.started < end]
    return sum(attempt.failed for attempt in during), len(during)


def on_every_node(cluster: Cluster, daemon: str) -> list[dict]:
    """One complete pass of ``daemon`` on every node at once: done, and
    nothing failed (a failed push or update would wait for the next pass)."""
    nodes = range(cluster.node_count)
    with concurrent.futures.ThreadPoolExecutor(cluster.node_count) as pool:
        passes = list(pool.map(lambda node: cluster.run_once(node, daemon, PASS_OPTIONS,
                                                             timeout=180), nodes))
    counters = [done["counters"] for done in passes]
    assert all(done["outcome"] == "done" for done in passes), passes
    assert sum(c.get("failures", c.get("failed", 0)) for c in counters) == 0, (daemon, counters)
    return counters


def direct(cluster: Cluster, kind: str, device: dict, part: int, path: str,
           method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """A request straight to the storage server holding ``device``."""
    return cluster.request(method, urllib.parse.quote(f"/{device['device']}/{part}{path}") +
                           ("?format=json" if kind == "container" else ""), port=device["port"],
                           host=device["ip"])


def object_replicas(cluster: Cluster, container: str, name: str) -> list[tuple]:
    """(status, md5, size, meta round, timestamp) as each primary holds the object."""
    part, primaries = cluster.ring("object").get_nodes(ACCOUNT, container, name)
    found = []
    for device in primaries:
        status, headers, body = direct(cluster, "object", device, part,
                                       f"/{ACCOUNT}/{container}/{name}")
        found.append((status, hashlib.md5(body).hexdigest() if status == 200 else None,
                      len(body) if status == 200 else None,
                      headers.get("x-object-meta-round"), headers.get("x-backend-timestamp")
                      or headers.get("x-timestamp")))
    return found


def object_holders(cluster: Cluster, container: str, name: str) -> set[int]:
    """Nodes with a hash directory of the object on any device."""
    digest = hash_path(ACCOUNT, container, name, suffix=HASH_PATH_SUFFIX.encode()).hex()
    return {node for node in range(cluster.node_count)
            if glob.glob(os.path.join(cluster.devices(node), "*", "objects", "*", digest[-3:],
                                      digest))}


def primary_nodes(cluster: Cluster, container: str, name: str) -> set[int]:
    """The nodes (device ``sd<N>``) of an object's primaries."""
    _, primaries = cluster.ring("object").get_nodes(ACCOUNT, container, name)
    return {int(device["device"][2:]) for device in primaries}


def listing(cluster: Cluster, device: dict, part: int, container: str) -> dict[str, tuple]:
    """name -> (bytes, hash) as one container replica lists it."""
    status, _, body = direct(cluster, "container", device, part, f"/{ACCOUNT}/{container}")
    assert status == 200, (device, status)
    return {row["name"]: (row["bytes"], row["hash"]) for row in json.loads(body)}


def live_objects(cluster: Cluster, writers: list[Writer],
                 containers: tuple[str, ...]) -> dict[str, dict[str, tuple]]:
    """container -> {name: (size, md5)} of the objects as their replicas hold them."""
    live: dict[str, dict[str, tuple]] = {container: {} for container in containers}
    for writer in writers:
        for container, name in writer.names:
            status, md5, size, _, _ = object_replicas(cluster, container, name)[0]
            if status == 200:
                live[container][name] = (size, md5)
    return live


def assert_replicas_hold_acknowledged_state(cluster: Cluster, writers: list[Writer]) -> None:
    """Every primary of every object holds the same thing: the newest
    acknowledged state (anything, but the same, after a failed operation),
    and no other node keeps a copy."""
    for writer in writers:
        for key in writer.names:
            replicas = object_replicas(cluster, *key)
            assert len(set(replicas)) == 1, (key, replicas)  # every primary the same
            status, md5, size, meta, _ = replicas[0]
            expected = writer.state.get(key)
            if expected is None:
                assert status == 404, (key, replicas)
            elif expected != UNKNOWN:
                assert (status, md5, size) == (200, *expected[:2]), (key, replicas)
                assert meta == expected[2], (key, replicas)
            assert object_holders(cluster, *key) <= primary_nodes(cluster, *key), key


def assert_listings_hold_live_objects(cluster: Cluster, writers: list[Writer],
                                      containers: tuple[str, ...]) -> None:
    """Every container replica lists exactly the objects its primaries hold."""
    live = live_objects(cluster, writers, containers)
    for container in containers:
        part, primaries = cluster.ring("container").get_nodes(ACCOUNT, container)
        for device in primaries:
            assert listing(cluster, device, part, container) == live[container], \
                (container, device["ip"], device["device"])
