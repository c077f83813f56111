"""Writes keep working while object servers are SIGKILLed and restarted, one
at a time, under concurrent load: a restart may cost the requests in flight on
the killed daemon, nothing more, and no acknowledged write or delete is undone.
"""
import hashlib
import http.client
import os
import random
import signal
import threading
import time

from tests.cluster import Cluster

LOAD_SECONDS = 20.0
WRITERS = 6
MAX_FAILED_SHARE = 0.02


class Writer(threading.Thread):
    """PUTs new objects (some small, some streamed) and deletes a quarter of
    them, remembering what the proxy acknowledged."""

    def __init__(self, cluster: Cluster, number: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.cluster = cluster
        self.number = number
        self.stop = stop
        self.rng = random.Random(number)
        self.written: dict[str, str] = {}  # acknowledged: name -> md5
        self.deleted: set[str] = set()  # acknowledged deletes
        self.attempts = 0
        self.failures: list[str] = []

    def request(self, method: str, path: str, body: bytes | None = None) -> int:
        self.attempts += 1
        conn = http.client.HTTPConnection("127.0.0.1", self.cluster.proxy_port, timeout=30)
        try:
            conn.request(method, path, body=body)
            resp = conn.getresponse()
            text = resp.read()
        except OSError as err:
            self.failures.append(f"{method} {path}: {err!r}")
            return 0
        finally:
            conn.close()
        if resp.status // 100 != 2:
            self.failures.append(f"{method} {path}: {resp.status} {text[:200]!r}")
        return resp.status

    def run(self) -> None:
        count = 0
        while not self.stop.is_set():
            name = f"w{self.number}-{count}"
            count += 1
            body = os.urandom(self.rng.choice((100, 5000, 70000, 200000)))
            path = f"/v1/AUTH_test/load/{name}"
            if self.request("PUT", path, body) == 201:
                self.written[name] = hashlib.md5(body).hexdigest()
                if self.rng.random() < 0.25 and self.request("DELETE", path) // 100 == 2:
                    del self.written[name]
                    self.deleted.add(name)


def kill_and_restart_object_servers(cluster: Cluster, stop: threading.Event) -> int:
    """SIGKILL one object server at a time, restart it, let it serve a while."""
    kills = 0
    node = 0
    while not stop.wait(1.0):
        cluster.stop_daemon("object", node, signal.SIGKILL)
        kills += 1
        stop.wait(0.5)
        cluster.start_daemon("object", node)
        node = (node + 1) % cluster.node_count
    return kills


def test_writes_survive_object_servers_killed_one_at_a_time():
    with Cluster(nodes=3) as cluster:
        assert cluster.request("PUT", "/v1/AUTH_test/load")[0] == 201
        stop = threading.Event()
        writers = [Writer(cluster, n, stop) for n in range(WRITERS)]
        for writer in writers:
            writer.start()
        timer = threading.Timer(LOAD_SECONDS, stop.set)
        timer.start()
        try:
            kills = kill_and_restart_object_servers(cluster, stop)
        finally:
            stop.set()
            timer.cancel()
            for writer in writers:
                writer.join(60)
        attempts = sum(w.attempts for w in writers)
        failures = [f for w in writers for f in w.failures]
        share = len(failures) / attempts
        print(f"\n{kills} object-server kills, {attempts} writes, {len(failures)} failed "
              f"({share:.2%})")
        assert share <= MAX_FAILED_SHARE, failures[:20]
        assert kills >= 3

        for writer in writers:
            for name, md5 in writer.written.items():
                status, headers, body = cluster.request("GET", f"/v1/AUTH_test/load/{name}")
                assert status == 200, (name, status)
                assert hashlib.md5(body).hexdigest() == md5 == headers["etag"], name
            for name in writer.deleted:
                status, _, _ = cluster.request("GET", f"/v1/AUTH_test/load/{name}",
                                               headers={"X-Newest": "true"})
                assert status == 404, (name, status)
