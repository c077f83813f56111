"""Build the account, container and object rings of an all-in-one with ``objstore-ring-builder``.

One device per node, each node its own zone, so every replica lands on a
different node; the erasure-coding policy's ring (``object-1``) has k + m
replicas on the nodes' EC devices (two per node on three nodes, so losing a
node loses m fragments).  Rings are built once, when the cluster is created,
and a ring that is missing later (an older cluster) is added on start;
later starts reuse them (the data on disk was placed by them).  All the builder
commands run in one child process (``ring.cli.main``, the code behind the
``objstore-ring-builder`` program), sparing a Python start-up per command.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from aio.layout import EC_FRAGMENTS, EC_POLICY_INDEX, STORAGE_KINDS, ClusterState, Layout, LayoutError

EC_RING = f"object-{EC_POLICY_INDEX}"
# every ring of an all-in-one: the three of the replicated policy, and the EC policy's
RINGS = STORAGE_KINDS + (EC_RING,)

# Runs each argument list read from stdin through objstore-ring-builder's main();
# stops at the first failure, naming it.
_RUNNER = """
import json, sys
from ring.cli import main
for args in json.load(sys.stdin):
    status = main(args)
    if status:
        print("objstore-ring-builder " + " ".join(args) + " failed", file=sys.stderr)
        sys.exit(status)
"""

MIN_PART_HOURS = "1"
DEVICE_WEIGHT = "100"


def ring_file(layout: Layout, kind: str) -> str:
    return os.path.join(layout.rings, f"{kind}.ring.gz")


def builder_commands(layout: Layout, state: ClusterState, kind: str) -> list[list[str]]:
    """The ``objstore-ring-builder`` argument lists that build one ring
    (``kind``: one of RINGS; the EC ring has k + m replicas on the nodes'
    EC devices)."""
    builder = os.path.join(layout.rings, f"{kind}.builder")
    replicas = EC_FRAGMENTS if kind == EC_RING else state.replicas
    commands = [[builder, "create", str(state.part_power), str(replicas), MIN_PART_HOURS]]
    for node, ports in enumerate(state.node_ports, start=1):
        devices = layout.ec_device_names(node, state.nodes) if kind == EC_RING \
            else [layout.device_name(node)]
        port = ports.port("object" if kind == EC_RING else kind)
        commands.extend([builder, "add", f"r1z{node}-127.0.0.1:{port}/{device}", DEVICE_WEIGHT]
                        for device in devices)
    commands.append([builder, "rebalance"])  # also writes <kind>.ring.gz
    return commands


def missing_rings(layout: Layout) -> list[str]:
    """The rings not built yet (a cluster made before the EC policy lacks its ring)."""
    return [kind for kind in RINGS if not os.path.exists(ring_file(layout, kind))]


def rings_exist(layout: Layout) -> bool:
    return not missing_rings(layout)


def build_rings(layout: Layout, state: ClusterState, kinds: tuple[str, ...] | list[str] = RINGS
                ) -> None:
    """Build the rings ``kinds`` (default: all); raise LayoutError with the
    builder's output on failure."""
    commands = []
    for kind in kinds:
        for stale in (os.path.join(layout.rings, f"{kind}.builder"), ring_file(layout, kind)):
            if os.path.exists(stale):
                os.unlink(stale)
        commands += builder_commands(layout, state, kind)
    result = subprocess.run([sys.executable, "-c", _RUNNER], input=json.dumps(commands),
                            capture_output=True, text=True, check=False)
    if result.returncode:
        raise LayoutError(f"building the rings failed (exit {result.returncode}): "
                          f"{(result.stdout + result.stderr).strip()}")
    missing = [ring_file(layout, kind) for kind in kinds
               if not os.path.exists(ring_file(layout, kind))]
    if missing:
        raise LayoutError(f"objstore-ring-builder rebalance did not write {', '.join(missing)}")
