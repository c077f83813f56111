"""``objstore-aio`` runs every node's background daemons; ``status`` and ``objstore-recon`` show them.

Its own small cluster (2 nodes), so that stopping it and checking that nothing
is left running does not disturb the session's cluster.
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from aio.layout import BACKGROUND_DAEMONS, TOKEN_CLEANER, ClusterState, Layout
from aio.processes import program
from objstore.common.recon import read_stats
from tests.support import free_port, wait_for

NODES = 2
PASS_TIMEOUT = 240.0  # a pass is quick, but the test machine may be very loaded


def run(argv: list[str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def processes_using(path: str) -> list[str]:
    """Command lines of live processes that mention ``path`` (a cluster's files)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if path in cmdline and int(pid) != os.getpid():
            found.append(cmdline)
    return found


@pytest.fixture
def small_cluster(tmp_path):
    base = str(tmp_path / "aio")

    def aio(*args: str) -> subprocess.CompletedProcess:
        return run(program("objstore-aio") + [args[0], "--dir", base, *args[1:]])
    try:
        started = aio("start", "--nodes", str(NODES), "--replicas", "2", "--part-power", "4",
                      "--port", str(free_port()), "--timeout", "150")
        assert started.returncode == 0, started.stdout + started.stderr
        yield base, aio
    finally:
        aio("stop")


def test_background_daemons_run_report_passes_and_stop(small_cluster):
    base, aio = small_cluster
    layout = Layout(base)
    with open(layout.state_file, encoding="utf-8") as handle:
        state = ClusterState.from_json(handle.read())
    names = [f"{program.name}-{node}" for node in range(1, NODES + 1) for program in BACKGROUND_DAEMONS]
    names.append(TOKEN_CLEANER.name)  # the cluster's one, for the auth store

    def background_status() -> dict[str, str]:
        table = aio("status").stdout.split("\n\n")[1].splitlines()[1:]
        return {line.split()[0]: line for line in table}
    assert sorted(background_status()) == sorted(names)
    assert all(" running " in line for line in background_status().values()), background_status()

    def passes_finished() -> bool:
        return all((read_stats(os.path.join(layout.recon_cache(node), f"{program.name}.json"))
                    or {}).get("last_pass") for node in range(1, NODES + 1)
                   for program in BACKGROUND_DAEMONS) and \
            (read_stats(os.path.join(layout.proxy_recon_cache, f"{TOKEN_CLEANER.name}.json"))
             or {}).get("last_pass")
    wait_for(passes_finished, timeout=PASS_TIMEOUT, interval=0.5,
             what="a finished pass of every background daemon")
    status = aio("status")
    assert status.returncode == 0, status.stdout
    assert all("ago), done in " in line for line in background_status().values()), status.stdout

    recon = program("objstore-recon") + ["--config", layout.proxy_config]
    text = run(recon + ["--all"])
    assert text.returncode == 0, text.stdout + text.stderr
    for ports in state.node_ports:
        for port in (ports.object, ports.container, ports.account):
            assert f"127.0.0.1:{port} " in text.stdout, text.stdout
    assert "unreachable" not in text.stdout
    report = json.loads(run(recon + ["-r", "-a", "-q", "--json"]).stdout)
    replicators = {program.name for program in BACKGROUND_DAEMONS}
    for server_type, servers in report.items():
        assert len(servers) == NODES
        for server in servers.values():
            assert set(server) >= {"replication", "quarantined"}
            if f"{server_type}-replicator" in replicators:
                assert server["replication"]["last_pass"]["to_sync"] == 0
            assert server["replication"]["handoffs_left"] == 0
            if server_type == "object":
                assert server["async"] == 0

    stopped = aio("stop")
    assert stopped.returncode == 0 and all(name in stopped.stdout for name in names)
    assert processes_using(base) == []
