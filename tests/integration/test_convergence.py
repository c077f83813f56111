"""Issue 14's promise, checked the way the outside check measured it: under
write load (PUT, overwrite, POST, DELETE) one storage daemon at a time,
object, container or account server, is SIGKILLed and restarted, six times.  Once every node is back and the object updater and each replicator
have run a pass on every node, every replica of every object is the newest
acknowledged state (deletes included) and lives only on its primaries, every
container replica lists exactly the live objects with their size and ETag,
and every account replica's counts agree with those listings.

An operation the proxy did not acknowledge may or may not have happened: an
object whose last operation failed must only be the same on every replica.
"""
from __future__ import annotations

import concurrent.futures
import glob
import hashlib
import http.client
import json
import os
import random
import signal
import threading
import urllib.parse

import pytest

from objstore.common.hashing import hash_path
from tests.cluster import HASH_PATH_SUFFIX, Cluster, assert_pass_logged
from tests.support import wait_for

ACCOUNT = "AUTH_test"
CONTAINERS = ("alpha", "beta")
NODES = 4
WRITERS = 4
NAMES_PER_WRITER = 10
KILLS = 6  # two of each kind; the load lasts as long as they take
KINDS = ("object", "container", "account")
UNKNOWN = "unknown"  # the last operation was not acknowledged


class Writer(threading.Thread):
    """Works on its own objects, one operation at a time, and remembers the
    acknowledged state of each: (md5, size, X-Object-Meta-Round), None once
    deleted, UNKNOWN after a failed operation."""

    def __init__(self, cluster: Cluster, number: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.cluster = cluster
        self.stop = stop
        self.rng = random.Random(number)
        self.names = [(CONTAINERS[i % 2], f"w{number}-{i}") for i in range(NAMES_PER_WRITER)]
        self.state: dict[tuple[str, str], object] = {}
        self.operations = 0
        self.failed = 0

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> int:
        self.operations += 1
        conn = http.client.HTTPConnection("127.0.0.1", self.cluster.proxy_port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            response.read()
            return response.status
        except OSError:
            return 0
        finally:
            conn.close()

    def step(self) -> None:
        key = self.rng.choice(self.names)
        path = f"/v1/{ACCOUNT}/{key[0]}/{key[1]}"
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


def kill_and_restart(cluster: Cluster, stop: threading.Event) -> list[str]:
    """SIGKILL one storage daemon at a time, each kind on each node in turn,
    and restart it half a second later; the daemons killed."""
    killed = []
    for turn in range(KILLS):
        kind, node = KINDS[turn % len(KINDS)], turn % NODES
        stop.wait(0.5)
        cluster.stop_daemon(kind, node, signal.SIGKILL)
        killed.append(f"{kind}-{node}")
        stop.wait(0.5)
        cluster.start_daemon(kind, node)
    return killed


# generous timeouts: a loaded test machine must not turn a slow peer into a failed push
# (and a progress line after every unit of work, to check that each pass logs them)
PASS_OPTIONS = {"conn_timeout": "5", "node_timeout": "60", "progress_interval": "0"}
PASSES = ("object-updater", "object-replicator", "container-replicator", "account-replicator")


def on_every_node(cluster: Cluster, daemon: str) -> list[dict]:
    """One complete pass of ``daemon`` on every node at once: done, and
    nothing failed (a failed push or update would wait for the next pass)."""
    with concurrent.futures.ThreadPoolExecutor(NODES) as pool:
        passes = list(pool.map(lambda node: cluster.run_once(node, daemon, PASS_OPTIONS,
                                                             timeout=180), range(NODES)))
    counters = [done["counters"] for done in passes]
    assert all(done["outcome"] == "done" for done in passes), passes
    assert sum(c.get("failures", c.get("failed", 0)) for c in counters) == 0, (daemon, counters)
    return counters


def direct(cluster: Cluster, kind: str, device: dict, part: int, path: str,
           method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    return cluster.request(method, urllib.parse.quote(f"/{device['device']}/{part}{path}") +
                           ("?format=json" if kind == "container" else ""), port=device["port"])


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
    return {node for node in range(NODES)
            if glob.glob(os.path.join(cluster.devices(node), "*", "objects", "*", digest[-3:],
                                      digest))}


@pytest.fixture(scope="module")
def converged():
    """The load with daemons killed, then one updater pass and one pass of each
    replicator on every node: (cluster, writers, killed daemons)."""
    with Cluster(nodes=NODES, replicas=3) as cluster:
        for container in CONTAINERS:
            assert cluster.request("PUT", f"/v1/{ACCOUNT}/{container}")[0] == 201
        stop = threading.Event()
        writers = [Writer(cluster, number, stop) for number in range(WRITERS)]
        for writer in writers:
            writer.start()
        try:
            killed = kill_and_restart(cluster, stop)
        finally:
            stop.set()
            for writer in writers:
                writer.join(60)
        for daemon in PASSES[:3]:
            on_every_node(cluster, daemon)
        wait_for(lambda: accounts_agree(cluster, quorum=2), timeout=60, interval=0.5,
                 what="the container servers' reports to a quorum of account replicas")
        on_every_node(cluster, PASSES[3])
        yield cluster, writers, killed


def live_objects(cluster: Cluster, writers: list[Writer]) -> dict[str, dict[str, tuple]]:
    """container -> {name: (size, md5)} of the objects as their replicas hold them."""
    live: dict[str, dict[str, tuple]] = {container: {} for container in CONTAINERS}
    for writer in writers:
        for container, name in writer.names:
            status, md5, size, _, _ = object_replicas(cluster, container, name)[0]
            if status == 200:
                live[container][name] = (size, md5)
    return live


def listing(cluster: Cluster, device: dict, part: int, container: str) -> dict[str, tuple]:
    status, _, body = direct(cluster, "container", device, part, f"/{ACCOUNT}/{container}")
    assert status == 200, (device, status)
    return {row["name"]: (row["bytes"], row["hash"]) for row in json.loads(body)}


def accounts_agree(cluster: Cluster, quorum: int) -> bool:
    """At least ``quorum`` account replicas count what the primary listings hold."""
    listings = {}
    for container in CONTAINERS:
        part, primaries = cluster.ring("container").get_nodes(ACCOUNT, container)
        listings[container] = listing(cluster, primaries[0], part, container)
    objects = sum(len(rows) for rows in listings.values())
    size = sum(row[0] for rows in listings.values() for row in rows.values())
    part, primaries = cluster.ring("account").get_nodes(ACCOUNT)
    agreeing = 0
    for device in primaries:
        status, headers, _ = direct(cluster, "account", device, part, f"/{ACCOUNT}", "HEAD")
        agreeing += status // 100 == 2 and \
            (headers.get("x-account-container-count"), headers.get("x-account-object-count"),
             headers.get("x-account-bytes-used")) == (str(len(CONTAINERS)), str(objects), str(size))
    return agreeing >= quorum


def test_the_load_met_killed_daemons(converged):
    _, writers, killed = converged
    assert len(killed) == KILLS and {name.split("-")[0] for name in killed} == set(KINDS)
    assert sum(writer.operations for writer in writers) >= 50


@pytest.mark.parametrize("daemon", PASSES)
def test_every_pass_logged_its_progress_and_a_summary(converged, daemon):
    cluster = converged[0]
    for node in range(NODES):
        assert_pass_logged(cluster, node, daemon)


def test_every_object_replica_is_the_newest_acknowledged_state_on_its_primaries(converged):
    cluster, writers, _ = converged
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
            part, primaries = cluster.ring("object").get_nodes(ACCOUNT, *key)
            assert object_holders(cluster, *key) <= \
                {int(device["device"][2:]) for device in primaries}, key  # no handoff copy


def test_every_container_replica_lists_exactly_the_live_objects(converged):
    cluster, writers, _ = converged
    live = live_objects(cluster, writers)
    for container in CONTAINERS:
        part, primaries = cluster.ring("container").get_nodes(ACCOUNT, container)
        for device in primaries:
            assert listing(cluster, device, part, container) == live[container], \
                (container, device["device"])


def test_every_account_replica_counts_what_the_listings_hold(converged):
    cluster, _, _ = converged
    assert accounts_agree(cluster, quorum=3)
