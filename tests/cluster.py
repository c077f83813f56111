"""A real cluster on 127.0.0.1 for integration tests: storage nodes, rings, proxy.

``Cluster`` writes one config per storage node (object, container and account
server on their own free ports, one device each) and one for the proxy,
builds the three rings with ``ring.builder.RingBuilder``, starts every daemon with its
``bin/`` script and waits for ``/healthcheck``.  ``stop()`` terminates and
reaps them and removes the temporary directory::

    with Cluster(nodes=3) as cluster:
        requests to cluster.url("/v1/AUTH_test/c/o")
"""
from __future__ import annotations

import configparser
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Mapping

from objstore.common.constraints import Constraints
from objstore.common.hashing import hash_path
from objstore.common.wsgi_daemon import allow_header_count
from ring.builder import RingBuilder
from ring.ring import Ring
from tests.support import free_port, wait_for

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STORAGE_KINDS = ("object", "container", "account")
DEFAULT_PIPELINE = "catch_errors gatekeeper healthcheck proxy-server"
HASH_PATH_SUFFIX = "integration"
# a dozen daemons starting at once on a loaded 2-core machine may take this long
HEALTHY_TIMEOUT = 90
# a storage server answers with every metadata header of an object plus its
# backend headers: more than the 100 that http.client reads by default
allow_header_count(Constraints().max_header_count)


def _write(conf: configparser.ConfigParser, path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        conf.write(handle)


def _new_conf() -> configparser.ConfigParser:
    conf = configparser.ConfigParser(interpolation=None)
    conf.optionxform = str
    return conf


class Cluster:
    """Storage nodes plus a proxy, each a real daemon process."""

    def __init__(self, nodes: int = 3, replicas: int = 3, part_power: int = 6,
                 pipeline: str = DEFAULT_PIPELINE,
                 proxy_options: Mapping[str, str] | None = None,
                 extra_sections: Mapping[str, Mapping[str, str]] | None = None,
                 policy_replicas: Mapping[int, int] | None = None) -> None:
        """``policy_replicas``: storage policy index -> replicas of its own
        object ring (``object-N.ring.gz``) over every node, e.g. ``{1: 6}``
        for an EC 4+2 policy declared in ``extra_sections``."""
        self.node_count = nodes
        self.replicas = replicas
        self.part_power = part_power
        self.pipeline = pipeline
        self.proxy_options = dict(proxy_options or {})
        self.extra_sections = {k: dict(v) for k, v in (extra_sections or {}).items()}
        self.policy_replicas = dict(policy_replicas or {})
        self.base = ""
        self.ports: list[dict[str, int]] = []
        self.proxy_port = 0
        self.processes: dict[str, subprocess.Popen] = {}
        self.builders: dict[str, RingBuilder] = {}  # to add devices and rebalance in tests

    # ---- layout ------------------------------------------------------------------
    def _cluster_conf(self) -> configparser.ConfigParser:
        conf = _new_conf()
        conf["objstore"] = {"hash_path_suffix": HASH_PATH_SUFFIX, "ring_dir": self.ring_dir}
        for name, options in self.extra_sections.items():
            conf[name] = options
        return conf

    @property
    def ring_dir(self) -> str:
        return os.path.join(self.base, "rings")

    def devices(self, node: int) -> str:
        return os.path.join(self.base, f"node{node}")

    def node_config(self, node: int) -> str:
        return os.path.join(self.base, f"node{node}.conf")

    @property
    def proxy_config(self) -> str:
        return os.path.join(self.base, "proxy.conf")

    def write_configs(self) -> None:
        for node in range(self.node_count):
            conf = self._cluster_conf()
            for kind in STORAGE_KINDS:
                conf[f"{kind}-server"] = {
                    "bind_ip": "127.0.0.1", "bind_port": str(self.ports[node][kind]),
                    "devices": self.devices(node), "mount_check": "false", "workers": "0",
                    "log_file": os.path.join(self.base, f"{kind}-{node}.log")}
            _write(conf, self.node_config(node))
        conf = self._cluster_conf()
        conf["proxy-server"] = {"bind_ip": "127.0.0.1", "bind_port": str(self.proxy_port),
                                "workers": "0", "node_timeout": "5", "conn_timeout": "0.5",
                                "log_file": os.path.join(self.base, "proxy.log"),
                                **self.proxy_options}
        conf["pipeline:main"] = {"pipeline": self.pipeline}
        _write(conf, self.proxy_config)

    def build_rings(self) -> None:
        rings = [(kind, kind, self.replicas) for kind in STORAGE_KINDS]
        rings += [(f"object-{index}", "object", replicas)
                  for index, replicas in self.policy_replicas.items()]
        for name, kind, replicas in rings:
            builder = RingBuilder(self.part_power, replicas, 0)
            for node in range(self.node_count):
                builder.add_dev({"region": 1, "zone": node + 1, "ip": "127.0.0.1",
                                 "port": self.ports[node][kind], "device": f"sd{node}",
                                 "weight": 100})
            builder.rebalance(seed=1)
            builder.write_ring(os.path.join(self.ring_dir, f"{name}.ring.gz"))
            self.builders[name] = builder

    def ring(self, kind: str) -> Ring:
        return Ring(self.ring_dir, kind, hash_suffix=HASH_PATH_SUFFIX.encode())

    def primaries(self, account: str, container: str, obj: str) -> list[int]:
        """The nodes holding an object's primary replicas, in ring order."""
        _, nodes = self.ring("object").get_nodes(account, container, obj)
        return [int(node["device"][2:]) for node in nodes]

    def hash_dir(self, node: int, account: str, container: str, obj: str) -> str:
        """Where an object (policy 0) lives on a node's device."""
        part = self.ring("object").get_part(account, container, obj)
        digest = hash_path(account, container, obj, suffix=HASH_PATH_SUFFIX.encode()).hex()
        return os.path.join(self.devices(node), f"sd{node}", "objects", str(part),
                            digest[-3:], digest)

    # ---- processes ---------------------------------------------------------------
    def _spawn(self, name: str, script: str, config: str) -> None:
        log = open(os.path.join(self.base, f"{name}.out"), "ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, os.path.join(REPO, "bin", script), "--config", config],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        log.close()

    def start_node(self, node: int) -> None:
        for kind in STORAGE_KINDS:
            self._spawn(f"{kind}-{node}", f"objstore-{kind}-server", self.node_config(node))
        for kind in STORAGE_KINDS:
            self._wait_healthy(f"{kind}-{node}", self.ports[node][kind])

    def start_daemon(self, kind: str, node: int) -> None:
        """Start one storage daemon (``kind``: object, container, account) and
        wait until it answers."""
        self._spawn(f"{kind}-{node}", f"objstore-{kind}-server", self.node_config(node))
        self._wait_healthy(f"{kind}-{node}", self.ports[node][kind])

    def stop_daemon(self, kind: str, node: int, sig: int = signal.SIGTERM) -> None:
        self._stop(f"{kind}-{node}", sig)

    def stop_node(self, node: int, sig: int = signal.SIGTERM) -> None:
        for kind in STORAGE_KINDS:
            self._stop(f"{kind}-{node}", sig)

    def stop_server(self, kind: str, node: int, sig: int = signal.SIGTERM) -> None:
        """Stop one storage server (``kind`` in STORAGE_KINDS) of a node."""
        self._stop(f"{kind}-{node}", sig)

    def start_server(self, kind: str, node: int) -> None:
        self._spawn(f"{kind}-{node}", f"objstore-{kind}-server", self.node_config(node))
        self._wait_healthy(f"{kind}-{node}", self.ports[node][kind])

    def stop_proxy(self, sig: int = signal.SIGTERM) -> None:
        self._stop("proxy", sig)

    def start_proxy(self) -> None:
        self._spawn("proxy", "objstore-proxy-server", self.proxy_config)
        self._wait_healthy("proxy", self.proxy_port)

    def restart_proxy(self) -> None:
        """Stop the proxy and start it again with the same config."""
        self.stop_proxy()
        self.start_proxy()

    def all_logs(self) -> str:
        """Every daemon's log file and captured output, as one text."""
        texts = []
        for name in sorted(os.listdir(self.base)):
            if name.endswith((".log", ".out")):
                with open(os.path.join(self.base, name), encoding="utf-8", errors="replace") as f:
                    texts.append(f.read())
        return "\n".join(texts)

    def start_once(self, node: int, daemon: str,
                   options: Mapping[str, str] | None = None) -> subprocess.Popen:
        """Start one ``--once`` pass of ``bin/objstore-<daemon>`` on a node, with
        the node's config plus ``[<daemon>]`` ``options``, without waiting (a
        test may kill it); its output is piped, its stats go to
        ``stats_file(node, daemon)``."""
        conf = configparser.ConfigParser(interpolation=None)
        conf.optionxform = str
        conf.read(self.node_config(node), encoding="utf-8")
        conf[daemon] = {"log_file": self.daemon_log(node, daemon),
                        "stats_file": self.stats_file(node, daemon), **(options or {})}
        config = os.path.join(self.base, f"node{node}-{daemon}.conf")
        _write(conf, config)
        return subprocess.Popen(
            [sys.executable, os.path.join(REPO, "bin", f"objstore-{daemon}"), "--config", config,
             "--once"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)

    def stats_file(self, node: int, daemon: str) -> str:
        return os.path.join(self.base, f"{daemon}-{node}.json")

    def daemon_log(self, node: int, daemon: str) -> str:
        return os.path.join(self.base, f"{daemon}-{node}.log")

    def log_lines(self, node: int, daemon: str) -> list[str]:
        """What a ``start_once``/``run_once`` pass of ``daemon`` logged on ``node``."""
        with open(self.daemon_log(node, daemon), encoding="utf-8") as handle:
            return handle.read().splitlines()

    def run_once(self, node: int, daemon: str, options: Mapping[str, str] | None = None,
                 timeout: float = 60) -> dict:
        """One ``--once`` pass (``start_once``) run to its end; its stats file's
        last pass (``counters``, ``duration``...).  Raises if the pass failed."""
        proc = self.start_once(node, daemon, options)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        if proc.returncode != 0:
            raise RuntimeError(f"objstore-{daemon} --once on node {node} exited with "
                               f"{proc.returncode}: {output}")
        with open(self.stats_file(node, daemon), encoding="utf-8") as handle:
            return json.load(handle)["last_pass"]

    def start(self) -> "Cluster":
        self.base = tempfile.mkdtemp(prefix="objstore-cluster-")
        os.makedirs(self.ring_dir)
        self.ports = [{kind: free_port() for kind in STORAGE_KINDS} for _ in range(self.node_count)]
        self.proxy_port = free_port()
        for node in range(self.node_count):
            os.makedirs(os.path.join(self.devices(node), f"sd{node}"))
        try:
            self.write_configs()
            self.build_rings()
            for node in range(self.node_count):
                for kind in STORAGE_KINDS:
                    self._spawn(f"{kind}-{node}", f"objstore-{kind}-server", self.node_config(node))
            self._spawn("proxy", "objstore-proxy-server", self.proxy_config)
            for name, proc in self.processes.items():
                port = self.proxy_port if name == "proxy" else \
                    self.ports[int(name.rsplit("-", 1)[1])][name.split("-")[0]]
                self._wait_healthy(name, port)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self, name: str, port: int) -> None:
        def healthy() -> bool:
            proc = self.processes[name]
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}: {self.output(name)}")
            return self.request("GET", "/healthcheck", port=port)[0] == 200
        try:
            wait_for(healthy, timeout=HEALTHY_TIMEOUT, what=f"{name} /healthcheck")
        except RuntimeError as err:
            raise RuntimeError(str(err)) from None

    def output(self, name: str) -> str:
        path = os.path.join(self.base, f"{name}.out")
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()[-3000:]

    def _stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.processes.pop(name, None)
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop(self) -> None:
        for name in list(self.processes):
            proc = self.processes[name]
            if proc.poll() is None:
                proc.terminate()
        for name in list(self.processes):
            self._stop(name)
        if self.base:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> "Cluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- client helpers ----------------------------------------------------------
    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.proxy_port}{path}"

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None,
                port: int | None = None) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request (to the proxy unless ``port``): status, headers
        (lower-case names), body."""
        conn = http.client.HTTPConnection("127.0.0.1", port or self.proxy_port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()


def assert_pass_logged(cluster: Cluster, node: int, daemon: str) -> None:
    """The last ``--once`` pass of ``daemon`` on ``node`` (run with
    ``progress_interval = 0``) logged a summary and, if it did any work,
    progress lines up to all of it."""
    with open(cluster.stats_file(node, daemon), encoding="utf-8") as handle:
        done = json.load(handle)["last_pass"]["done"]
    pass_line = re.compile(rf" {re.escape(daemon)} INFO \S+ (pass 1\b.*)$")  # \S+: txn id or -
    lines = [found.group(1) for found in map(pass_line.search, cluster.log_lines(node, daemon))
             if found]
    summaries = [index for index, line in enumerate(lines) if line.startswith("pass 1 done in ")]
    assert summaries, (daemon, node, lines[-5:])
    previous = summaries[-2] + 1 if len(summaries) > 1 else 0
    progress = [line for line in lines[previous:summaries[-1]] if line.startswith("pass 1: ")]
    if done:
        assert progress and progress[-1].startswith(f"pass 1: {done}"), (daemon, node, done,
                                                                          progress[-3:])
    else:
        assert progress == [], (daemon, node, progress)
