"""Simulated hosts for integration tests: a cluster spread over network namespaces.

``HostCluster`` is ``tests.cluster.Cluster`` with every storage node on its own
"host": a network namespace with its own IPv4 address on a private /24, its
object, container and account servers bound to that address on the standard
ports (6200-6202), its device a tmpfs mount (so ``mount_check = true`` holds),
its own copy of the ring files, and one zone per host in the rings.  The
proxies live on one more host; the test process reaches every host through
the bridge in the root namespace (address ``.254``).

Every host's link is a ``tests.netwire`` cable, so a test can cut a host off,
cut it from some addresses only, or give it delay and loss (``tc netem`` as
a user-space relay: kernels without ``sch_netem`` are common, CI's included).

Everything has names unique to the run (``objstore-<id>-h1``, ``osh<id>br``...)
and is torn down by ``stop()`` even after a failure: processes (including
anything else left running in the namespaces), namespaces, bridge, links,
mounts.  A run killed before it could clean up is recorded in
``RUNS_DIR``; the next run reaps it.  Needs root and ``ip`` (``needs_netns``
skips the tests, saying why, when they are missing)::

    with HostCluster(hosts=4) as cluster:
        cluster.request("PUT", "/v1/AUTH_test/c")
        cluster.network.cut("h2")
        ...
        cluster.network.heal("h2")
"""
from __future__ import annotations

import configparser
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Iterable, Mapping

import pytest

from tests.cluster import REPO, STORAGE_KINDS, Cluster, _new_conf, _write

RUNS_DIR = os.path.join(tempfile.gettempdir(), "objstore-hosts-runs")
PROXY_HOST = "px"
STORAGE_PORTS = {"object": 6200, "container": 6201, "account": 6202}
PROXY_PORT = 8080
BRIDGE_HOST_NUMBER = 254
PROXY_HOST_NUMBER = 100
DEVICE_SIZE = "256m"


def netns_unavailable() -> str | None:
    """Why the simulated hosts cannot run here, or None if they can."""
    if os.geteuid() != 0:
        return "simulated hosts need root (network namespaces, TAP devices, mounts)"
    if shutil.which("ip") is None:
        return "simulated hosts need the 'ip' command (iproute2)"
    if not os.path.exists("/dev/net/tun"):
        return "simulated hosts need /dev/net/tun for their links"
    return None


needs_netns = pytest.mark.skipif(netns_unavailable() is not None,
                                 reason=netns_unavailable() or "")


def ip(*args: str, check: bool = True) -> str:
    """Run ``ip ARGS``; its output."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_namespace_processes(namespace: str) -> None:
    for pid in ip("netns", "pids", namespace, check=False).split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def teardown_record(record: dict) -> None:
    """Remove what one run made (its processes, namespaces, bridge, mounts,
    directory), whatever is left of it; every step is tried."""
    for namespace in record.get("namespaces", []):
        _kill_namespace_processes(namespace)
    relay = record.get("relay_pid")
    if relay and _pid_alive(relay):
        with contextlib.suppress(ProcessLookupError):
            os.kill(relay, signal.SIGKILL)
    for namespace in record.get("namespaces", []):
        ip("netns", "del", namespace, check=False)
    if record.get("bridge"):
        ip("link", "del", record["bridge"], check=False)
    for mount in record.get("mounts", []):
        subprocess.run(["umount", "-l", mount], capture_output=True)
    if record.get("base"):
        shutil.rmtree(record["base"], ignore_errors=True)


def reap_leftover_runs() -> None:
    """Tear down the runs whose test process died without cleaning up."""
    for name in sorted(os.listdir(RUNS_DIR)) if os.path.isdir(RUNS_DIR) else []:
        path = os.path.join(RUNS_DIR, name)
        try:
            with open(path, encoding="utf-8") as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            continue
        if not _pid_alive(record.get("owner_pid", 0)):
            teardown_record(record)
            with contextlib.suppress(OSError):
                os.unlink(path)


def _pick_subnet() -> str:
    """``10.X.Y`` that no address or route of this machine uses yet."""
    used = ip("-4", "-o", "addr") + ip("-4", "route")
    while True:
        prefix = f"10.{random.randint(200, 250)}.{random.randint(0, 255)}"
        if f"{prefix}." not in used:
            return prefix


class Network:
    """A bridge, hosts in namespaces attached to it by fault-injecting wires."""

    def __init__(self, record_path: str, record: dict) -> None:
        self.run_id = record["run_id"]
        self.subnet = _pick_subnet()
        self.bridge = f"osh{self.run_id}br"
        self.record_path = record_path
        self.record = record
        self.addresses: dict[str, str] = {}
        self.relay: subprocess.Popen | None = None

    def save(self) -> None:
        with open(self.record_path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(self.record, handle)
        os.replace(self.record_path + ".tmp", self.record_path)

    def start(self) -> None:
        self.record["bridge"] = self.bridge
        self.save()
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.subnet}.{BRIDGE_HOST_NUMBER}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        self.relay = subprocess.Popen([sys.executable, "-m", "tests.netwire"], cwd=REPO,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.record["relay_pid"] = self.relay.pid
        self.save()

    def namespace(self, host: str) -> str:
        return f"objstore-{self.run_id}-{host}"

    def _relay(self, command: dict) -> None:
        assert self.relay and self.relay.stdin and self.relay.stdout
        self.relay.stdin.write(json.dumps(command) + "\n")
        self.relay.stdin.flush()
        answer = self.relay.stdout.readline().strip()
        if answer != "ok":
            raise RuntimeError(f"netwire {command}: {answer or 'exited'}")

    def add_host(self, host: str, number: int) -> str:
        """A new namespace ``host`` with address ``<subnet>.<number>``; the address."""
        namespace = self.namespace(host)
        self.record.setdefault("namespaces", []).append(namespace)
        self.save()
        ip("netns", "add", namespace)
        host_tap, switch_tap = f"osh{self.run_id}{host}h", f"osh{self.run_id}{host}s"
        self._relay({"op": "wire", "name": host, "host_tap": host_tap, "switch_tap": switch_tap})
        address = f"{self.subnet}.{number}"
        ip("link", "set", host_tap, "netns", namespace)
        ip("-n", namespace, "addr", "add", f"{address}/24", "dev", host_tap)
        ip("-n", namespace, "link", "set", host_tap, "up")
        ip("-n", namespace, "link", "set", "lo", "up")
        ip("link", "set", switch_tap, "master", self.bridge)
        ip("link", "set", switch_tap, "up")
        self.addresses[host] = address
        return address

    def exec_prefix(self, host: str) -> list[str]:
        return ["ip", "netns", "exec", self.namespace(host)]

    # ---- faults ------------------------------------------------------------------
    def cut(self, host: str) -> None:
        """Nothing reaches the host or leaves it (``netem loss 100%``)."""
        self._relay({"op": "set", "name": host, "cut": True})

    def cut_from(self, host: str, peers: Iterable[str]) -> None:
        """The host and ``peers`` (host names) no longer reach each other; the
        rest of the network still reaches both."""
        self._relay({"op": "set", "name": host,
                     "drop_ips": [self.addresses[peer] for peer in peers]})

    def degrade(self, host: str, delay: float, loss: float) -> None:
        """The host's outgoing frames wait ``delay`` seconds and a share
        ``loss`` of them is lost (``netem delay 200ms loss 10%``)."""
        self._relay({"op": "set", "name": host, "delay": delay, "loss": loss})

    def heal(self, *hosts: str) -> None:
        """The hosts' links pass everything again (default: every host)."""
        for host in hosts or list(self.addresses):
            self._relay({"op": "set", "name": host})

    def stop(self) -> None:
        if self.relay is not None:
            with contextlib.suppress(OSError):
                self.relay.stdin.close()  # type: ignore[union-attr]
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.relay.wait(5)


class HostCluster(Cluster):
    """Storage nodes on simulated hosts ``h0``.. and the proxy on ``px``."""

    def __init__(self, hosts: int = 4, **kwargs) -> None:
        super().__init__(nodes=hosts, **kwargs)
        self.mount_check = True
        self.network: Network | None = None
        self.record_path = ""
        self.record: dict = {}

    # ---- where things are --------------------------------------------------------
    @staticmethod
    def host_name(node: int) -> str:
        return f"h{node}"

    def host_ip(self, node: int) -> str:
        assert self.network is not None
        return self.network.addresses[self.host_name(node)]

    def config_ring_dir(self, node: int | None) -> str:
        return os.path.join(self.base, "rings-" + (PROXY_HOST if node is None
                                                   else self.host_name(node)))

    def command(self, node: int | None, argv: list[str]) -> list[str]:
        assert self.network is not None
        return self.network.exec_prefix(PROXY_HOST if node is None else self.host_name(node)) + argv

    def _cluster_conf(self, node: int | None) -> configparser.ConfigParser:
        conf = super()._cluster_conf(node)
        # a host picks up the ring files copied to it within a second
        conf["objstore"]["ring_check_interval"] = "1"
        conf["objstore"]["recon_cache_path"] = os.path.join(
            self.base, "recon-" + (PROXY_HOST if node is None else self.host_name(node)))
        return conf

    def build_rings(self) -> None:
        super().build_rings()
        self.distribute_rings()

    def distribute_rings(self, nodes: Iterable[int | None] | None = None) -> None:
        """Copy every ``.ring.gz`` from the builders' directory to each host's
        ``ring_dir`` (default: every host and the proxy), each file replaced
        atomically, as an operator's copy tool would."""
        targets = list(range(self.node_count)) + [None] if nodes is None else list(nodes)
        for node in targets:
            target = self.config_ring_dir(node)
            os.makedirs(target, exist_ok=True)
            for name in os.listdir(self.ring_dir):
                if name.endswith(".ring.gz"):
                    shutil.copyfile(os.path.join(self.ring_dir, name),
                                    os.path.join(target, name + ".tmp"))
                    os.replace(os.path.join(target, name + ".tmp"), os.path.join(target, name))

    # ---- life cycle --------------------------------------------------------------
    def _add_storage_host(self, node: int) -> None:
        assert self.network is not None
        self.network.add_host(self.host_name(node), 10 + node)
        device = os.path.join(self.devices(node), f"sd{node}")
        os.makedirs(device)
        self.record.setdefault("mounts", []).append(device)
        self.network.save()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DEVICE_SIZE}", "tmpfs", device],
                       check=True, capture_output=True)

    def start(self) -> "HostCluster":
        os.makedirs(RUNS_DIR, exist_ok=True)
        reap_leftover_runs()
        run_id = secrets.token_hex(2)
        self.base = tempfile.mkdtemp(prefix=f"objstore-hosts-{run_id}-")
        self.record = {"run_id": run_id, "owner_pid": os.getpid(), "base": self.base}
        self.record_path = os.path.join(RUNS_DIR, f"{run_id}-{os.getpid()}.json")
        self.network = Network(self.record_path, self.record)
        try:
            self.network.save()
            self.network.start()
            os.makedirs(self.ring_dir)
            self.network.add_host(PROXY_HOST, PROXY_HOST_NUMBER)
            self.proxy_host = self.network.addresses[PROXY_HOST]
            self.proxy_port = PROXY_PORT
            self.ports = [dict(STORAGE_PORTS) for _ in range(self.node_count)]
            for node in range(self.node_count):
                self._add_storage_host(node)
            self.launch()
        except BaseException:
            self.stop()
            raise
        return self

    def add_node(self) -> int:
        """One more storage host, its servers started (not yet in the rings);
        its node number."""
        node = self.node_count
        self.node_count += 1
        self.ports.append(dict(STORAGE_PORTS))
        self._add_storage_host(node)
        self.write_configs()
        self.distribute_rings([node])
        for kind in STORAGE_KINDS:
            self.start_server(kind, node)
        return node

    def start_extra_proxy(self, name: str, port: int, env: Mapping[str, str]) -> None:
        """Another proxy on the proxy host, with the first one's config but
        ``port`` and its own environment (e.g. a test ``sitecustomize``)."""
        conf = _new_conf()
        conf.read(self.proxy_config, encoding="utf-8")
        conf["proxy-server"]["bind_port"] = str(port)
        conf["proxy-server"]["log_file"] = os.path.join(self.base, f"{name}.log")
        config = os.path.join(self.base, f"{name}.conf")
        _write(conf, config)
        self._spawn(name, "objstore-proxy-server", config, None, env)
        self._wait_healthy(name, port, self.proxy_host)

    def stop(self) -> None:
        self.stop_processes()
        if self.network is not None:
            self.network.stop()
        teardown_record(self.record)
        if self.record_path:
            with contextlib.suppress(OSError):
                os.unlink(self.record_path)
