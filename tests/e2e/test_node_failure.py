"""Writes and reads keep working with one object server down; the handoff node takes the write."""
import os

from aio import processes
from aio.layout import Layout
from objstore.common.config import load_config
from objstore.common.hashing import hash_path
from ring.ring import load_ring


def nodes_holding(layout, state, digest: str) -> set[int]:
    """Nodes with a ``.data`` file in the object's hash directory."""
    found = set()
    for node in range(1, state.nodes + 1):
        for root, _, files in os.walk(layout.devices(node)):
            if os.path.basename(root) == digest and any(f.endswith(".data") for f in files):
                found.add(node)
    return found


def object_primaries(cluster, conn, container: str, name: str):
    """(layout, state, account, [object daemon of each primary node of ``name``])."""
    layout = Layout(cluster.dir)
    state = layout.load_state()
    account = conn.url.rstrip("/").rsplit("/", 1)[-1]
    ring = load_ring(load_config(layout.node_config(1)), "object")
    _, primaries = ring.get_nodes(account, container, name)
    by_port = {d.port: d for d in layout.daemons(state) if d.kind == "object"}
    return layout, state, account, [by_port[node["port"]] for node in primaries]


def test_write_goes_to_handoff_and_reads_survive_with_a_node_down(cluster, conn, container):
    conn.put_object(container, "before", b"written with every node up")
    layout, state, account, primaries = object_primaries(cluster, conn, container, "after")
    down = primaries[0]
    assert processes.stop(layout, [down]) == [down.name]
    try:
        conn.put_object(container, "after", b"written with a node down")
        assert conn.get_object(container, "after")[1] == b"written with a node down"
        assert conn.get_object(container, "before")[1] == b"written with every node up"
        _, listing = conn.get_container(container)
        assert [item["name"] for item in listing] == ["after", "before"]
        digest = hash_path(account, container, "after",
                           suffix=state.hash_path_suffix.encode()).hex()
        holders = nodes_holding(layout, state, digest)
        assert down.node not in holders
        assert len(holders) == 3, f"expected 2 primaries + 1 handoff, found copies on {holders}"
    finally:
        cluster.aio("start")
    assert processes.healthy(down.port)


def test_write_survives_a_node_dying_mid_upload(cluster, conn, container):
    layout, state, account, primaries = object_primaries(cluster, conn, container, "mid")
    victim = primaries[1]
    chunk = os.urandom(64 * 1024)

    def body():
        for index in range(8):
            if index == 4:  # half the object is on its way to every primary: kill -9 one
                assert processes.stop(layout, [victim], timeout=0) == [victim.name]
            yield chunk
    try:
        conn.put_object(container, "mid", body())
        assert conn.get_object(container, "mid")[1] == chunk * 8
        digest = hash_path(account, container, "mid", suffix=state.hash_path_suffix.encode()).hex()
        holders = nodes_holding(layout, state, digest)
        assert victim.node not in holders and len(holders) >= 2, holders
    finally:
        cluster.aio("start")
    assert conn.get_object(container, "mid")[1] == chunk * 8
