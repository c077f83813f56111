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

import signal
import threading

import pytest

from tests.cluster import Cluster, assert_pass_logged
from tests.convergence import (ACCOUNT, PASSES, Writer, assert_listings_hold_live_objects,
                               assert_replicas_hold_acknowledged_state, direct, listing,
                               on_every_node)
from tests.support import wait_for

CONTAINERS = ("alpha", "beta")
NODES = 4
WRITERS = 4
KILLS = 6  # two of each kind; the load lasts as long as they take
KINDS = ("object", "container", "account")


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


@pytest.fixture(scope="module")
def converged():
    """The load with daemons killed, then one updater pass and one pass of each
    replicator on every node: (cluster, writers, killed daemons)."""
    with Cluster(nodes=NODES, replicas=3) as cluster:
        for container in CONTAINERS:
            assert cluster.request("PUT", f"/v1/{ACCOUNT}/{container}")[0] == 201
        stop = threading.Event()
        writers = [Writer(cluster, number, stop, CONTAINERS) for number in range(WRITERS)]
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
    assert_replicas_hold_acknowledged_state(cluster, writers)


def test_every_container_replica_lists_exactly_the_live_objects(converged):
    cluster, writers, _ = converged
    assert_listings_hold_live_objects(cluster, writers, CONTAINERS)


def test_every_account_replica_counts_what_the_listings_hold(converged):
    cluster, _, _ = converged
    assert accounts_agree(cluster, quorum=3)
