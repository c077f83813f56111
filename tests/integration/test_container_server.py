"""Real container and account daemons on 127.0.0.1: HTTP, workers, account updates."""
from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import subprocess
import sys
import urllib.parse

import pytest

from ring.builder import RingBuilder
from tests.support import free_port, port_open, wait_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def request(port, method, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, urllib.parse.quote(path, safe="/?&="), headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("dbservers")
    (base / "node" / "sda").mkdir(parents=True)
    ports = {"container": free_port(), "account": free_port()}
    builder = RingBuilder(4, 1, 0)
    builder.add_dev({"region": 1, "zone": 1, "ip": "127.0.0.1", "port": ports["account"],
                     "device": "sda", "weight": 100})
    builder.rebalance(seed=1)
    builder.write_ring(str(base / "account.ring.gz"))
    conf = base / "objstore.conf"
    lines = ["[objstore]", "hash_path_suffix = itest", f"ring_dir = {base}"]
    for kind, port in ports.items():
        lines += [f"[{kind}-server]", f"devices = {base / 'node'}", "mount_check = false",
                  "bind_ip = 127.0.0.1", f"bind_port = {port}", "workers = 2",
                  "account_update_interval = 0.2", f"log_file = {base / kind}.log"]
    conf.write_text("\n".join(lines) + "\n")
    procs = []
    try:
        for kind in ports:
            procs.append(subprocess.Popen(
                [sys.executable, os.path.join(REPO, "bin", f"objstore-{kind}-server"),
                 "--config", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port in ports.values():
            wait_for(lambda: port_open(port), what=f"server on port {port}")
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)


def test_healthcheck(cluster):
    for port in cluster.values():
        assert request(port, "GET", "/healthcheck")[::2] == (200, b"OK")


def test_container_lifecycle_over_http(cluster):
    cport, aport = cluster["container"], cluster["account"]
    assert request(aport, "PUT", "/sda/0/AUTH_it", {"X-Timestamp": "1"})[0] == 201
    status, _, _ = request(cport, "PUT", "/sda/0/AUTH_it/c\u00e9", {
        "X-Timestamp": "2", "X-Account-Host": f"127.0.0.1:{aport}",
        "X-Account-Partition": "0", "X-Account-Device": "sda"})
    assert status == 201
    # the named account replica was updated before the container PUT returned
    assert request(aport, "GET", "/sda/0/AUTH_it")[2] == "c\u00e9\n".encode()

    def put(i):
        return request(cport, "PUT", f"/sda/0/AUTH_it/c\u00e9/obj-{i:03d}",
                       {"X-Timestamp": f"3.{i:03d}", "X-Size": "10", "X-Content-Type": "text/plain",
                        "X-Etag": "0" * 32})[0]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        assert set(pool.map(put, range(120))) == {201}
    status, headers, body = request(cport, "GET", "/sda/0/AUTH_it/c\u00e9?format=json&limit=5&marker=obj-100")
    assert status == 200 and headers["X-Container-Object-Count"] == "120"
    assert [e["name"] for e in json.loads(body)] == [f"obj-{i}" for i in range(101, 106)]

    def account_count():
        _, h, _ = request(aport, "HEAD", "/sda/0/AUTH_it")
        return h.get("X-Account-Object-Count") == "120" and h.get("X-Account-Bytes-Used") == "1200"
    wait_for(account_count, timeout=10, what="debounced account update")

    snowman = "\u2603".encode("utf-8")
    assert request(cport, "POST", "/sda/0/AUTH_it/c\u00e9",
                   {"X-Timestamp": "8", "X-Container-Meta-Icon": snowman})[0] == 204
    _, headers, _ = request(cport, "HEAD", "/sda/0/AUTH_it/c\u00e9")
    assert headers["X-Container-Meta-Icon"].encode("latin-1") == snowman   # UTF-8 on the wire
    assert request(cport, "DELETE", "/sda/0/AUTH_it/c\u00e9", {"X-Timestamp": "9"})[0] == 409
    assert request(cport, "GET", "/sda/0/AUTH_it/c\u00e9?limit=20000")[0] == 412
    assert request(cport, "GET", "/sda/zz/AUTH_it/c")[0] == 400
