"""Partitions, slow links and a skewed clock across simulated hosts (Jepsen-style).

Five storage hosts (one zone each, 3 replicas) and a proxy host, each in its
own network namespace (``tests.hosts``).  Each test runs writers through the
proxy (PUT, overwrite, POST, DELETE on their own objects), breaks the network
for a few seconds, heals it, runs one pass of the object updater and of each
replicator on every host, and then checks, straight on the storage servers,
that every object replica is the newest acknowledged state on its primaries
only and that every container replica lists exactly the live objects.  The
share of requests that failed while the fault lasted is printed (and bounded:
with one host in five unreachable every write still finds a quorum of
primaries and handoffs, so the share stays near zero).
"""
from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Callable, Iterator

import pytest

from tests.convergence import (ACCOUNT, PASSES, Writer, assert_listings_hold_live_objects,
                               assert_replicas_hold_acknowledged_state, failed_share,
                               on_every_node)
from tests.hosts import HostCluster, needs_netns

pytestmark = needs_netns

HOSTS = 5
WRITERS = 6
NAMES_PER_WRITER = 8
WARM_UP = 1.0  # seconds of load before the fault
FAULT = 6.0  # seconds the fault lasts
AFTER = 1.0  # seconds of load after healing
# the most requests that may fail while one host (or the proxy's link to a
# minority) is broken: none need to, but a request that was in flight when
# the link broke can still run out of time on a loaded machine
MAX_FAILED_SHARE = 0.05
SKEW = 300.0  # seconds the skewed proxies' clocks are off
SKEWED_CLOCK = os.path.join(os.path.dirname(os.path.dirname(__file__)), "skewed_clock")
SHARES: dict[str, tuple[int, int]] = {}


@pytest.fixture(scope="module")
def cluster() -> Iterator[HostCluster]:
    with HostCluster(hosts=HOSTS, replicas=3, part_power=6) as started:
        yield started
    if SHARES:
        print("\nfailed requests during each fault:")
        for name, (failed, total) in SHARES.items():
            print(f"  {name}: {failed}/{total} ({failed / max(total, 1):.1%})")


@contextlib.contextmanager
def load(cluster: HostCluster, name: str, proxies: list[tuple[str, int]] | None = None
         ) -> Iterator[list[Writer]]:
    """Writers on two containers of their own while the body runs; they
    stop when it ends (each writer keeps to one proxy of ``proxies``)."""
    containers = (f"{name}-a", f"{name}-b")
    for container in containers:
        assert cluster.request("PUT", f"/v1/{ACCOUNT}/{container}")[0] in (201, 202)
    stop = threading.Event()
    proxies = proxies or [(cluster.proxy_host, cluster.proxy_port)]
    writers = [Writer(cluster, number, stop, containers, NAMES_PER_WRITER,
                      proxy=proxies[number % len(proxies)]) for number in range(WRITERS)]
    for writer in writers:
        writer.start()
    try:
        yield writers
    finally:
        stop.set()
        for writer in writers:
            writer.join(60)


def under_fault(cluster: HostCluster, name: str, fault: Callable[[], None],
                proxies: list[tuple[str, int]] | None = None) -> list[Writer]:
    """Load, ``fault()`` for FAULT seconds, heal, load; records the share of
    requests that failed during the fault; the writers."""
    with load(cluster, name, proxies) as writers:
        time.sleep(WARM_UP)  # load before the fault: nothing to wait for
        start = time.monotonic()
        try:
            fault()
            time.sleep(FAULT)
        finally:
            end = time.monotonic()
            cluster.network.heal()
        time.sleep(AFTER)
    SHARES[name] = failed_share(writers, start, end)
    failed, total = SHARES[name]
    print(f"{name}: {failed}/{total} requests failed during the fault")
    assert total > 0
    return writers


def converge_and_check(cluster: HostCluster, writers: list[Writer], name: str) -> None:
    """One updater pass and one pass of the object and container replicators
    on every host; then every replica and listing holds the newest state."""
    for daemon in PASSES[:3]:
        on_every_node(cluster, daemon)
    assert_replicas_hold_acknowledged_state(cluster, writers)
    assert_listings_hold_live_objects(cluster, writers, (f"{name}-a", f"{name}-b"))


def test_one_host_cut_off(cluster):
    writers = under_fault(cluster, "cut-one-host", lambda: cluster.network.cut("h2"))
    failed, total = SHARES["cut-one-host"]
    assert failed <= MAX_FAILED_SHARE * total
    converge_and_check(cluster, writers, "cut-one-host")


def test_proxy_cut_from_a_minority(cluster):
    """The proxy cannot reach two hosts of five; they still reach each other
    and the rest.  Some partitions have two primaries behind the cut: their
    writes go to handoffs, and a quorum still answers."""
    minority = ("h0", "h3")
    writers = under_fault(cluster, "proxy-cut-from-minority",
                          lambda: cluster.network.cut_from("px", minority))
    failed, total = SHARES["proxy-cut-from-minority"]
    assert failed <= MAX_FAILED_SHARE * total
    converge_and_check(cluster, writers, "proxy-cut-from-minority")


def test_delay_and_loss_on_one_host(cluster):
    writers = under_fault(cluster, "delay-200ms-loss-10pct",
                          lambda: cluster.network.degrade("h4", delay=0.2, loss=0.1))
    failed, total = SHARES["delay-200ms-loss-10pct"]
    assert failed <= MAX_FAILED_SHARE * total
    converge_and_check(cluster, writers, "delay-200ms-loss-10pct")


def skewed_proxy(cluster: HostCluster, name: str, port: int, skew: float) -> tuple[str, int]:
    """One more proxy whose clock is ``skew`` seconds off (a test
    ``sitecustomize`` on its PYTHONPATH; nothing in the product knows)."""
    cluster.start_extra_proxy(name, port, {
        "PYTHONPATH": os.pathsep.join(filter(None, [SKEWED_CLOCK, os.environ.get("PYTHONPATH")])),
        "OBJSTORE_TEST_CLOCK_SKEW": str(skew)})
    return cluster.proxy_host, port


def test_a_proxy_clock_ahead_wins_every_conflict_within_the_skew(cluster):
    """objstore orders the versions of an object by the timestamp the proxy
    gives each request.  A proxy whose clock runs ahead gives its writes
    timestamps in the future: within the skew they beat every write made
    through a proxy with the right time, which the object servers refuse
    as older (a PUT through the right proxy answers 202 and changes nothing,
    a POST or DELETE 409, as in Swift), and every replica converges to the
    skewed write."""
    ahead = skewed_proxy(cluster, "proxy-ahead", 8081, SKEW)
    right = (cluster.proxy_host, cluster.proxy_port)
    container = "skew-conflicts"
    assert cluster.request("PUT", f"/v1/{ACCOUNT}/{container}")[0] in (201, 202)
    path = f"/v1/{ACCOUNT}/{container}/o"
    status, headers, _ = cluster.request("PUT", path, b"from the future", port=ahead[1])
    assert status == 201
    assert cluster.request("PUT", path, b"from now", port=right[1])[0] == 202
    assert cluster.request("POST", path, headers={"X-Object-Meta-Now": "1"},
                           port=right[1])[0] == 409
    assert cluster.request("DELETE", path, port=right[1])[0] == 409
    status, headers, body = cluster.request("GET", path)
    assert (status, body) == (200, b"from the future")
    assert "x-object-meta-now" not in headers
    assert float(headers["x-timestamp"]) > time.time() + SKEW - 60
    # under load through both proxies (each writer keeps to one), nothing
    # acknowledged is lost and the replicas converge as usual
    with load(cluster, "skewed-proxy", [right, ahead]) as writers:
        time.sleep(FAULT)
    converge_and_check(cluster, writers, "skewed-proxy")


def test_a_proxy_clock_behind_loses_to_recent_writes(cluster):
    """A proxy whose clock runs behind writes in the past: a PUT over an
    object written less than the skew ago answers 202 and changes nothing;
    a new object's PUT is stored (with its old timestamp)."""
    behind = skewed_proxy(cluster, "proxy-behind", 8082, -SKEW)
    container = "skew-behind"
    assert cluster.request("PUT", f"/v1/{ACCOUNT}/{container}")[0] in (201, 202)
    path = f"/v1/{ACCOUNT}/{container}/o"
    assert cluster.request("PUT", path, b"now")[0] == 201
    assert cluster.request("PUT", path, b"from the past", port=behind[1])[0] == 202
    assert cluster.request("GET", path)[2] == b"now"
    assert cluster.request("PUT", path + "-new", b"old clock", port=behind[1])[0] == 201
    status, headers, body = cluster.request("GET", path + "-new")
    assert (status, body) == (200, b"old clock")
    assert float(headers["x-timestamp"]) < time.time() - SKEW + 60
