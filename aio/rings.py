"""Build the account, container and object rings of an all-in-one with ``objstore-ring-builder``.

One device per node, each node its own zone, so every replica lands on a
different node.  Rings are built once, when the cluster is created; later
starts reuse them (the data on disk was placed by them).
"""
from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

from aio.layout import STORAGE_KINDS, ClusterState, Layout, LayoutError
from aio.processes import program

MIN_PART_HOURS = "1"
DEVICE_WEIGHT = "100"


def ring_file(layout: Layout, kind: str) -> str:
    return os.path.join(layout.rings, f"{kind}.ring.gz")


def builder_commands(layout: Layout, state: ClusterState, kind: str) -> list[list[str]]:
    """The ``objstore-ring-builder`` argument lists that build one ring."""
    builder = os.path.join(layout.rings, f"{kind}.builder")
    commands = [[builder, "create", str(state.part_power), str(state.replicas), MIN_PART_HOURS]]
    for node, ports in enumerate(state.node_ports, start=1):
        device = f"r1z{node}-127.0.0.1:{ports.port(kind)}/{layout.device_name(node)}"
        commands.append([builder, "add", device, DEVICE_WEIGHT])
    commands.append([builder, "rebalance"])
    commands.append([builder, "write_ring"])
    return commands


def rings_exist(layout: Layout) -> bool:
    return all(os.path.exists(ring_file(layout, kind)) for kind in STORAGE_KINDS)


def build_rings(layout: Layout, state: ClusterState) -> None:
    """Build the three rings in parallel; raise LayoutError with the builder's output on failure."""
    with ThreadPoolExecutor(len(STORAGE_KINDS)) as pool:
        list(pool.map(lambda kind: _build_ring(layout, state, kind), STORAGE_KINDS))


def _build_ring(layout: Layout, state: ClusterState, kind: str) -> None:
    builder = os.path.join(layout.rings, f"{kind}.builder")
    for stale in (builder, ring_file(layout, kind)):
        if os.path.exists(stale):
            os.unlink(stale)
    for args in builder_commands(layout, state, kind):
        result = subprocess.run(program("objstore-ring-builder") + args, capture_output=True,
                                text=True, check=False)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            raise LayoutError(f"objstore-ring-builder {' '.join(args[1:])} failed for the {kind} "
                              f"ring (exit {result.returncode}): {output}")
    if not os.path.exists(ring_file(layout, kind)):
        raise LayoutError(f"objstore-ring-builder write_ring did not write {ring_file(layout, kind)}")
