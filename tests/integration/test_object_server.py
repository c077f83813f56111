"""The real object server daemon: PUT/GET over HTTP, then a clean SIGTERM stop."""
import hashlib
import http.client
import http.server
import os
import signal
import socket
import threading

import pytest

from tests.integration.object_daemon import start_object_server, stop_object_server, write_object_conf
from tests.support import free_port, wait_for

@pytest.fixture
def object_server(tmp_path):
    conf, port = write_object_conf(tmp_path)
    procs = [start_object_server(conf, port)]
    try:
        yield procs, port, tmp_path, conf
    finally:
        for proc in procs:
            stop_object_server(proc)


def _request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def test_put_get_over_http_then_sigterm(object_server):
    [proc], port, root, _ = object_server
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


class _FakeContainerServer(http.server.ThreadingHTTPServer):
    """Records the container updates it receives."""

    def __init__(self):
        self.received = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _record(self):
                owner.received.append((self.command, self.path, dict(self.headers)))
                self.send_response(201 if self.command == "PUT" else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = do_DELETE = _record

            def log_message(self, *args):
                pass
        super().__init__(("127.0.0.1", 0), Handler)


def test_container_updates_and_async_pending(object_server):
    _, port, root, _ = object_server
    container = _FakeContainerServer()
    thread = threading.Thread(target=container.serve_forever, daemon=True)
    thread.start()
    try:
        headers = {"X-Timestamp": "1700000000.00000", "Content-Type": "text/plain",
                   "X-Container-Host": f"127.0.0.1:{container.server_address[1]}",
                   "X-Container-Device": "sdc", "X-Container-Partition": "9"}
        status, _, _ = _request(port, "PUT", "/sda/3/a/c/o%C3%A9", b"abc", headers)
        assert status == 201
        [(method, path, sent)] = container.received
        assert (method, path) == ("PUT", "/sdc/9/a/c/o%C3%A9")
        assert sent["X-Size"] == "3" and sent["X-Etag"] == hashlib.md5(b"abc").hexdigest()
        headers["X-Container-Host"] = f"127.0.0.1:{free_port()}"  # nobody listens there
        headers["X-Timestamp"] = "1700000001.00000"
        status, _, _ = _request(port, "DELETE", "/sda/3/a/c/o%C3%A9", None, headers)
        assert status == 204
        pending = [p for p in root.glob("sda/async_pending/*/*")]
        assert len(pending) == 1 and pending[0].name.endswith("-1700000001.00000")
    finally:
        container.shutdown()
        container.server_close()


def test_kill_midway_leaves_no_visible_object(object_server):
    procs, port, root, conf = object_server
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"PUT /sda/3/a/c/crash HTTP/1.1\r\nHost: x\r\nX-Timestamp: 1700000000.0\r\n"
                 b"Content-Type: text/plain\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 300_000)
    wait_for(lambda: any(f.stat().st_size > 0 for f in (root / "sda" / "tmp").glob("*")),
             what="partial temp file")
    procs[0].kill()
    procs[0].wait(timeout=10)
    sock.close()
    procs.append(start_object_server(conf, port))
    status, _, _ = _request(port, "GET", "/sda/3/a/c/crash")
    assert status == 404
    assert list((root / "sda").glob("objects/*/*/*/*.data")) == []
