"""The object auditor and the object updater on a real 3-node cluster.

- A replica's .data goes bad (flipped bytes, truncated, xattrs removed, metadata
  sidecar damaged) on the primary that reads try first: one auditor pass
  quarantines it, and GETs through the proxy return the good bytes from
  another replica.
- A container server is down while objects are written and deleted: the
  object servers leave async pendings; once it is back, one updater pass on
  each node brings its listing up to date and removes the pendings.
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import urllib.parse

import pytest

from tests.cluster import Cluster, assert_pass_logged
from tests.corruption import CORRUPTIONS, SIDECAR_HEADERS

ACCOUNT = "AUTH_test"
UNLIMITED = {"files_per_second": "0", "bytes_per_second": "0"}


@pytest.fixture(scope="module")
def cluster():
    # reads try the primaries in ring order, so the corrupt first replica is asked first
    with Cluster(nodes=3, proxy_options={"sorting_method": "none"}) as running:
        yield running


def data_files(hash_dir: str) -> list[str]:
    return [name for name in os.listdir(hash_dir) if name.endswith(".data")] \
        if os.path.isdir(hash_dir) else []


def quarantined(cluster: Cluster, node: int, digest: str) -> list[str]:
    root = os.path.join(cluster.devices(node), f"sd{node}", "quarantined", "objects")
    return [name for name in os.listdir(root) if name.startswith(digest)] \
        if os.path.isdir(root) else []


@pytest.fixture(scope="module")
def audited(cluster):
    """One object per kind of corruption, each damaged on the primary that reads
    ask first; then one auditor pass on every node.  Name -> (kind, body)."""
    container = "audited"
    assert cluster.request("PUT", f"/v1/{ACCOUNT}/{container}")[0] in (201, 202)
    victims = {}
    for kind, corrupt in CORRUPTIONS.items():
        name, body = f"victim-{kind.replace(' ', '-')}", os.urandom(256 * 1024 + 17)
        headers = SIDECAR_HEADERS if kind == "sidecar damaged" else {}
        status, _, _ = cluster.request("PUT", f"/v1/{ACCOUNT}/{container}/{name}", body, headers)
        assert status == 201
        hash_dir = cluster.hash_dir(cluster.primaries(ACCOUNT, container, name)[0],
                                    ACCOUNT, container, name)
        [data] = data_files(hash_dir)
        corrupt(os.path.join(hash_dir, data))
        victims[kind] = (container, name, body)
    with concurrent.futures.ThreadPoolExecutor(cluster.node_count) as pool:
        passes = list(pool.map(
            lambda node: cluster.run_once(node, "object-auditor", {"mode": "full", **UNLIMITED}),
            range(cluster.node_count)))
    return victims, passes


def test_one_auditor_pass_per_node_quarantines_every_corrupt_replica(audited):
    _, passes = audited
    assert [audit["outcome"] for audit in passes] == ["done"] * len(passes)
    assert sum(audit["counters"]["quarantined"] for audit in passes) == len(CORRUPTIONS)
    assert sum(audit["counters"]["errors"] for audit in passes) == 0


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_a_corrupt_replica_is_quarantined_and_never_served(cluster, audited, kind):
    container, name, body = audited[0][kind]
    first, *others = cluster.primaries(ACCOUNT, container, name)
    hash_dir = cluster.hash_dir(first, ACCOUNT, container, name)
    assert data_files(hash_dir) == []
    assert quarantined(cluster, first, os.path.basename(hash_dir))
    for node in others:  # the good replicas are untouched
        assert len(data_files(cluster.hash_dir(node, ACCOUNT, container, name))) == 1
    for _ in range(3):
        status, headers, got = cluster.request("GET", f"/v1/{ACCOUNT}/{container}/{name}")
        assert status == 200 and got == body
        assert headers["etag"] == hashlib.md5(body).hexdigest()


def direct_get(cluster: Cluster, node: int, container: str, name: str) -> tuple[int, bytes]:
    """GET straight from one node's object server."""
    part = cluster.ring("object").get_part(ACCOUNT, container, name)
    status, _, body = cluster.request("GET", f"/sd{node}/{part}/{ACCOUNT}/{container}/{name}",
                                      port=cluster.ports[node]["object"])
    return status, body


def on_every_node(cluster: Cluster, daemon: str, options: dict[str, str]) -> list[dict]:
    with concurrent.futures.ThreadPoolExecutor(cluster.node_count) as pool:
        return list(pool.map(lambda node: cluster.run_once(node, daemon, options),
                             range(cluster.node_count)))


def test_the_auditor_quarantines_and_the_replicator_heals(cluster):
    """End to end with the real daemons: each kind of damage on one replica;
    one auditor pass per node quarantines it, one replicator pass per node
    brings a good copy back from a peer, and then every node serves the
    right bytes.  Proxy GETs are right all along."""
    container = "healed"
    assert cluster.request("PUT", f"/v1/{ACCOUNT}/{container}")[0] in (201, 202)
    bodies, damaged = {}, {}
    for index, (kind, corrupt) in enumerate(sorted(CORRUPTIONS.items())):
        name = f"heal-{kind.replace(' ', '-')}"
        bodies[name] = os.urandom(100_000 + index)
        headers = SIDECAR_HEADERS if kind == "sidecar damaged" else {}
        assert cluster.request("PUT", f"/v1/{ACCOUNT}/{container}/{name}", bodies[name],
                               headers)[0] == 201
        node = cluster.primaries(ACCOUNT, container, name)[index % cluster.replicas]
        hash_dir = cluster.hash_dir(node, ACCOUNT, container, name)
        [data] = data_files(hash_dir)
        corrupt(os.path.join(hash_dir, data))
        damaged[name] = (node, hash_dir)

    audits = on_every_node(cluster, "object-auditor", {"mode": "full", **UNLIMITED})
    assert sum(audit["counters"]["quarantined"] for audit in audits) == len(damaged)
    for name, (node, hash_dir) in damaged.items():
        assert data_files(hash_dir) == [] and direct_get(cluster, node, container, name)[0] == 404
        assert cluster.request("GET", f"/v1/{ACCOUNT}/{container}/{name}")[2] == bodies[name]

    passes = on_every_node(cluster, "object-replicator", {})
    assert sum(done["counters"]["failures"] for done in passes) == 0
    assert sum(done["counters"]["objects_pushed"] for done in passes) >= len(damaged)
    for name, body in bodies.items():
        for node in range(cluster.node_count):
            status, got = direct_get(cluster, node, container, name)
            assert status == 200 and got == body, (name, node, status)
        node, hash_dir = damaged[name]
        assert len(data_files(hash_dir)) == 1
        assert quarantined(cluster, node, os.path.basename(hash_dir))  # the bad copy is kept aside
    audits = on_every_node(cluster, "object-auditor", {"mode": "full", **UNLIMITED})
    assert sum(audit["counters"]["quarantined"] for audit in audits) == 0  # healed copies are good


def listing(cluster: Cluster, node: int, container: str) -> dict[str, tuple[int, str]]:
    """One container replica's own listing: name -> (bytes, hash)."""
    part = cluster.ring("container").get_part(ACCOUNT, container)
    path = urllib.parse.quote(f"/sd{node}/{part}/{ACCOUNT}/{container}") + "?format=json"
    status, _, body = cluster.request("GET", path, port=cluster.ports[node]["container"])
    assert status == 200, body
    return {row["name"]: (row["bytes"], row["hash"]) for row in json.loads(body)}


def async_pendings(cluster: Cluster) -> list[str]:
    found = []
    for node in range(cluster.node_count):
        for root, _, files in os.walk(os.path.join(cluster.devices(node), f"sd{node}")):
            if "/async_pending" in root and "/quarantined" not in root:
                found.extend(os.path.join(root, name) for name in files)
    return found


def test_listings_catch_up_after_one_updater_pass(cluster):
    container = "updated"
    assert cluster.request("PUT", f"/v1/{ACCOUNT}/{container}")[0] in (201, 202)
    kept = {f"o{index}": os.urandom(1000 + index) for index in range(12)}
    for name, body in {"doomed": b"bye", **kept}.items():
        assert cluster.request("PUT", f"/v1/{ACCOUNT}/{container}/{name}", body)[0] == 201
    expected = {name: (len(body), hashlib.md5(body).hexdigest()) for name, body in kept.items()}
    down = int(cluster.ring("container").get_nodes(ACCOUNT, container)[1][0]["device"][2:])
    cluster.stop_server("container", down)
    try:
        for name in ("o0", "o1"):  # overwritten while the replica is down
            kept[name] = os.urandom(2000)
            expected[name] = (2000, hashlib.md5(kept[name]).hexdigest())
            assert cluster.request("PUT", f"/v1/{ACCOUNT}/{container}/{name}", kept[name])[0] == 201
        for index in range(12, 20):
            name, body = f"o{index}", os.urandom(500)
            expected[name] = (len(body), hashlib.md5(body).hexdigest())
            assert cluster.request("PUT", f"/v1/{ACCOUNT}/{container}/{name}", body)[0] == 201
        assert cluster.request("DELETE", f"/v1/{ACCOUNT}/{container}/doomed")[0] == 204
    finally:
        cluster.start_server("container", down)
    pendings = async_pendings(cluster)
    assert len(pendings) >= 11  # 2 overwrites + 8 new + 1 delete, one per object node at least
    assert listing(cluster, down, container) != expected

    totals = {"found": 0, "succeeded": 0, "failed": 0, "removed": 0}
    for node in range(cluster.node_count):
        counters = cluster.run_once(node, "object-updater", {"concurrency": "4"})["counters"]
        for key in totals:
            totals[key] += counters[key]

    assert totals["failed"] == 0 and totals["found"] == len(pendings)
    assert totals["succeeded"] + totals["removed"] == len(pendings)  # older ones: unsent
    assert async_pendings(cluster) == []
    for node in range(cluster.node_count):
        assert listing(cluster, node, container) == expected


@pytest.mark.parametrize("daemon", ["object-auditor", "container-auditor", "account-auditor",
                                    "object-expirer", "object-updater", "object-replicator"])
def test_every_pass_logs_its_progress_and_a_summary(cluster, daemon):
    """Each daemon's pass on a node with objects, containers and accounts:
    a progress line per unit of work (``progress_interval = 0``), a summary."""
    cluster.run_once(0, daemon, {"progress_interval": "0", **UNLIMITED})
    assert_pass_logged(cluster, 0, daemon)
