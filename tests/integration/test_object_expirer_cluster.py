"""The object expirer on a real 3-node cluster.

An object PUT with ``X-Delete-After`` is 404 as soon as it is due while it
is still listed; one expirer pass removes it from the listing and from the
expiry queue (``.expiring_objects``).  An expiry moved by a POST moves the
queue entry, and an object overwritten without an expiry survives the pass.
"""
from __future__ import annotations

import json
import time
import urllib.parse

import pytest

from objstore.common.expiring import EXPIRING_ACCOUNT, queue_container
from tests.cluster import Cluster
from tests.support import wait_for

ACCOUNT = "AUTH_test"
CONTAINER = "expiring"


@pytest.fixture(scope="module")
def cluster():
    with Cluster(nodes=3) as running:
        yield running


def _replica_listing(cluster, kind_ring, account, container=None):
    """Names listed by every replica (container servers for a container,
    account servers for an account), one list per replica."""
    ring = cluster.ring(kind_ring)
    names = (account,) if container is None else (account, container)
    part, nodes = ring.get_nodes(*names)
    path = "/".join(urllib.parse.quote(name) for name in names)
    listings = []
    for node in nodes:
        status, _, body = cluster.request("GET", f"/{node['device']}/{part}/{path}?format=json",
                                          port=node["port"])
        listings.append(sorted(item["name"] for item in json.loads(body or b"[]"))
                        if status == 200 else [])
    return listings


def queue_entries(cluster, container):
    return _replica_listing(cluster, "container", EXPIRING_ACCOUNT, container)


def user_listing(cluster):
    status, _, body = cluster.request("GET", f"/v1/{ACCOUNT}/{CONTAINER}?format=json")
    assert status == 200
    return sorted(item["name"] for item in json.loads(body))


def queued(cluster, name, after: int) -> str:
    """The delete_at of ``name``'s entry on every queue replica (its expiry was
    set ``after`` seconds from now, give or take the request's time)."""
    def found():
        now = int(time.time())
        for delete_at in range(now + after - 5, now + after + 1):
            entry = f"{delete_at}-{ACCOUNT}/{CONTAINER}/{name}"
            if all(entry in names for names in queue_entries(cluster, queue_container(delete_at))):
                return str(delete_at)
        return None
    return wait_for(found, timeout=5, what=f"{name}'s queue entry")


def test_expirer_pass(cluster):
    assert cluster.request("PUT", f"/v1/{ACCOUNT}/{CONTAINER}")[0] in (201, 202)
    path = f"/v1/{ACCOUNT}/{CONTAINER}"
    # the POST and the overwrite must come before these expire, even on a loaded machine
    assert cluster.request("PUT", f"{path}/moved", b"x", {"X-Delete-After": "4"})[0] == 201
    moved_at = queued(cluster, "moved", 4)
    later = str(int(time.time()) + 3600)
    assert cluster.request("POST", f"{path}/moved", headers={"X-Delete-At": later})[0] == 202
    assert cluster.request("PUT", f"{path}/overwritten", b"x", {"X-Delete-After": "4"})[0] == 201
    overwritten_at = queued(cluster, "overwritten", 4)
    assert cluster.request("PUT", f"{path}/overwritten", b"new")[0] == 201
    assert cluster.request("PUT", f"{path}/kept", b"k")[0] == 201
    assert cluster.request("PUT", f"{path}/soon", b"x", {"X-Delete-After": "2"})[0] == 201
    delete_at = queued(cluster, "soon", 2)

    queue = queue_container(delete_at)
    assert queued(cluster, "moved", 3600) == later
    if queue_container(later) == queue_container(moved_at):  # the old entry went at once
        assert all(f"{moved_at}-{ACCOUNT}/{CONTAINER}/moved" not in names
                   for names in queue_entries(cluster, queue_container(moved_at)))

    wait_for(lambda: cluster.request("GET", f"/v1/{ACCOUNT}/{CONTAINER}/soon")[0] == 404,
             timeout=10, what="the expired object to be 404")
    assert "soon" in user_listing(cluster)  # the expirer has not run yet
    wait_for(lambda: all(queue in names for names in
                         _replica_listing(cluster, "account", EXPIRING_ACCOUNT)),
             timeout=15, what="the queue container in the hidden account's listing")
    last_due = max(int(delete_at), int(moved_at), int(overwritten_at))
    wait_for(lambda: time.time() >= last_due + 1, timeout=10, what="the entries to be due")

    counters = cluster.run_once(0, "object-expirer", {"tasks_per_second": "0"})["counters"]

    assert counters["expired"] == 1 and counters["failed"] == 0
    assert counters["changed"] >= 1  # "overwritten" (its old entry waits for the updater)
    assert user_listing(cluster) == ["kept", "moved", "overwritten"]
    assert cluster.request("GET", f"/v1/{ACCOUNT}/{CONTAINER}/overwritten")[2] == b"new"
    assert cluster.request("GET", f"/v1/{ACCOUNT}/{CONTAINER}/moved")[0] == 200
    for old in (delete_at, moved_at, overwritten_at):
        for names in queue_entries(cluster, queue_container(old)):
            assert [name for name in names if name.startswith(old)] == []
    assert all(f"{later}-{ACCOUNT}/{CONTAINER}/moved" in names
               for names in queue_entries(cluster, queue_container(later)))
