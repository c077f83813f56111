"""The real object server daemon: PUT/GET over HTTP, then a clean SIGTERM stop."""
import hashlib
import http.client
import os
import signal
import subprocess
import sys

import pytest

from tests.support import free_port, port_open, wait_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def object_server(tmp_path):
    port = free_port()
    (tmp_path / "sda").mkdir()
    conf = tmp_path / "objstore.conf"
    conf.write_text(f"""
[objstore]
hash_path_suffix = integration

[object-server]
bind_ip = 127.0.0.1
bind_port = {port}
devices = {tmp_path}
mount_check = false
log_file = {tmp_path / "object.log"}
""")
    proc = subprocess.Popen([sys.executable, os.path.join(REPO, "bin", "objstore-object-server"),
                             "--config", str(conf)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: port_open(port) or proc.poll() is not None, what="object server port")
        assert proc.poll() is None, proc.stdout.read().decode()
        yield proc, port, tmp_path
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()


def _request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def test_put_get_over_http_then_sigterm(object_server):
    proc, port, root = object_server
    body = os.urandom(300_000)
    etag = hashlib.md5(body).hexdigest()
    status, headers, _ = _request(port, "PUT", "/sda/3/AUTH_a/c/o%20bj", body, {
        "X-Timestamp": "1700000000.00000", "Content-Type": "application/x-test",
        "X-Object-Meta-Kind": "integration", "Expect": "100-continue"})
    assert status == 201 and headers["ETag"] == etag
    status, headers, data = _request(port, "GET", "/sda/3/AUTH_a/c/o%20bj")
    assert status == 200 and data == body
    assert headers["ETag"] == etag and headers["X-Object-Meta-Kind"] == "integration"
    status, headers, data = _request(port, "GET", "/sda/3/AUTH_a/c/o%20bj",
                                     headers={"Range": "bytes=10-19"})
    assert status == 206 and data == body[10:20]
    status, _, data = _request(port, "GET", "/healthcheck")
    assert status == 200 and data == b"OK"
    status, _, _ = _request(port, "GET", "/nodev/3/AUTH_a/c/o")
    assert status == 507
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    log = (root / "object.log").read_text()
    assert '"PUT /sda/3/AUTH_a/c/o%20bj" 201' in log
