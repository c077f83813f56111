"""Writes keep working while storage daemons (object, container and account
servers) are SIGKILLed and restarted, one at a time, under concurrent load: a
restart may cost the requests in flight on the killed daemon, nothing more, and
no acknowledged write, overwrite or delete is undone.
"""
import hashlib
import http.client
import itertools
import os
import random
import signal
import threading
import time

from tests.cluster import STORAGE_KINDS, Cluster

LOAD_SECONDS = 20.0
MAX_SECONDS = 90.0
WRITERS = 6
MAX_FAILED_SHARE = 0.02


class Writer(threading.Thread):
    """PUTs new objects (some small, some streamed), overwrites a fifth of them
    and deletes a quarter, remembering what the proxy acknowledged.  A name
    whose write or delete failed is dropped from both records: a failed request
    may have reached some replicas, so nothing was promised about it."""

    def __init__(self, cluster: Cluster, number: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.cluster = cluster
        self.number = number
        self.stop = stop
        self.rng = random.Random(number)
        self.written: dict[str, str] = {}  # acknowledged: name -> md5 of the newest version
        self.deleted: set[str] = set()  # acknowledged deletes
        self.overwritten: set[str] = set()  # acknowledged twice
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

    def put(self, name: str) -> bool:
        body = os.urandom(self.rng.choice((100, 5000, 70000, 200000)))
        if self.request("PUT", f"/v1/AUTH_test/load/{name}", body) == 201:
            self.written[name] = hashlib.md5(body).hexdigest()
            return True
        self.written.pop(name, None)  # which version is newest is unknown now
        return False

    def run(self) -> None:
        for count in itertools.count():
            if self.stop.is_set():
                return
            name = f"w{self.number}-{count}"
            if not self.put(name):
                continue
            if self.rng.random() < 0.2 and self.put(name):
                self.overwritten.add(name)
            if name in self.written and self.rng.random() < 0.25:
                status = self.request("DELETE", f"/v1/AUTH_test/load/{name}")
                del self.written[name]
                if status // 100 == 2:
                    self.deleted.add(name)


def kill_and_restart_daemons(cluster: Cluster, stop: threading.Event) -> list[str]:
    """SIGKILL one storage daemon at a time (object servers every other turn,
    then a container or an account server), restart it, let it serve a while;
    for LOAD_SECONDS, and on (up to MAX_SECONDS, restarts are slow on a loaded
    machine) until three object servers and one other daemon have been killed."""
    others = itertools.cycle(kind for kind in STORAGE_KINDS if kind != "object")
    turns = (kind for pair in zip(itertools.repeat("object"), others) for kind in pair)
    killed: list[str] = []
    started = time.monotonic()
    for turn, kind in enumerate(turns):
        elapsed = time.monotonic() - started
        if elapsed >= MAX_SECONDS or (elapsed >= LOAD_SECONDS and len(killed) >= 5):
            break
        time.sleep(1.0)
        node = turn % cluster.node_count
        cluster.stop_daemon(kind, node, signal.SIGKILL)
        killed.append(f"{kind}-{node}")
        time.sleep(0.5)
        cluster.start_daemon(kind, node)
    stop.set()
    return killed


def test_writes_survive_storage_daemons_killed_one_at_a_time():
    with Cluster(nodes=3) as cluster:
        assert cluster.request("PUT", "/v1/AUTH_test/load")[0] == 201
        stop = threading.Event()
        writers = [Writer(cluster, n, stop) for n in range(WRITERS)]
        for writer in writers:
            writer.start()
        try:
            killed = kill_and_restart_daemons(cluster, stop)
        finally:
            stop.set()
            for writer in writers:
                writer.join(60)
        attempts = sum(w.attempts for w in writers)
        failures = [f for w in writers for f in w.failures]
        share = len(failures) / attempts
        print(f"\nkilled {len(killed)} daemons ({', '.join(killed)}); {attempts} writes and "
              f"deletes ({sum(len(w.overwritten) for w in writers)} overwrites), {len(failures)} "
              f"failed ({share:.2%})")
        assert share <= MAX_FAILED_SHARE, failures[:20]
        assert sum(k.startswith("object") for k in killed) >= 3
        assert any(k.startswith(("container", "account")) for k in killed)

        # the newest of every replica (X-Newest) is what the client was told last;
        # an object written once is whole on whichever replica a plain GET reads
        newest = {"X-Newest": "true"}
        for writer in writers:
            for name, md5 in writer.written.items():
                for headers in ({}, newest) if name not in writer.overwritten else (newest,):
                    status, got, body = cluster.request("GET", f"/v1/AUTH_test/load/{name}",
                                                         headers=headers)
                    assert status == 200, (name, status, headers)
                    assert hashlib.md5(body).hexdigest() == md5 == got["etag"], (name, headers)
            for name in writer.deleted:
                status, _, _ = cluster.request("GET", f"/v1/AUTH_test/load/{name}", headers=newest)
                assert status == 404, (name, status)
