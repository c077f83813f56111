"""Build the account, container and object rings of an all-in-one with ``objstore-ring-builder``.

One device per node, each node its own zone, so every replica lands on a
different node.  Rings are built once, when the cluster is created; later
starts reuse them (the data on disk was placed by them).  All the builder
commands run in one child process (``ring.cli.main``, the code behind the
``objstore-ring-builder`` program), sparing a Python start-up per command.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from aio.layout import STORAGE_KINDS, ClusterState, Layout, LayoutError

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
    """The ``objstore-ring-builder`` argument lists that build one ring."""
    builder = os.path.join(layout.rings, f"{kind}.builder")
    commands = [[builder, "create", str(state.part_power), str(state.replicas), MIN_PART_HOURS]]
    for node, ports in enumerate(state.node_ports, start=1):
        device = f"r1z{node}-127.0.0.1:{ports.port(kind)}/{layout.device_name(node)}"
        commands.append([builder, "add", device, DEVICE_WEIGHT])
    commands.append([builder, "rebalance"])  # also writes <kind>.ring.gz
    return commands


def rings_exist(layout: Layout) -> bool:
    return all(os.path.exists(ring_file(layout, kind)) for kind in STORAGE_KINDS)


def build_rings(layout: Layout, state: ClusterState) -> None:
    """Build the three rings; raise LayoutError with the builder's output on failure."""
    commands = []
    for kind in STORAGE_KINDS:
        for stale in (os.path.join(layout.rings, f"{kind}.builder"), ring_file(layout, kind)):
            if os.path.exists(stale):
                os.unlink(stale)
        commands += builder_commands(layout, state, kind)
    result = subprocess.run([sys.executable, "-c", _RUNNER], input=json.dumps(commands),
                            capture_output=True, text=True, check=False)
    if result.returncode:
        raise LayoutError(f"building the rings failed (exit {result.returncode}): "
                          f"{(result.stdout + result.stderr).strip()}")
    missing = [ring_file(layout, kind) for kind in STORAGE_KINDS
               if not os.path.exists(ring_file(layout, kind))]
    if missing:
        raise LayoutError(f"objstore-ring-builder rebalance did not write {', '.join(missing)}")
