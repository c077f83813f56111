"""The real object server daemon: PUT/GET over HTTP, then a clean SIGTERM stop."""
import hashlib
import os
import signal
import socket
import threading


from tests.integration.object_daemon import FakeContainerServer, request, start_object_server
from tests.support import free_port, wait_for

def test_put_get_over_http_then_sigterm(object_server):
    [proc], port, root, _ = object_server
    body = os.urandom(300_000)
    etag = hashlib.md5(body).hexdigest()
    status, headers, _ = request(port, "PUT", "/sda/3/AUTH_a/c/o%20bj", body, {
        "X-Timestamp": "1700000000.00000", "Content-Type": "application/x-test",
        "X-Object-Meta-Kind": "integration", "Expect": "100-continue"})
    assert status == 201 and headers["ETag"] == etag
    status, headers, data = request(port, "GET", "/sda/3/AUTH_a/c/o%20bj")
    assert status == 200 and data == body
    assert headers["ETag"] == etag and headers["X-Object-Meta-Kind"] == "integration"
    status, headers, data = request(port, "GET", "/sda/3/AUTH_a/c/o%20bj",
                                     headers={"Range": "bytes=10-19"})
    assert status == 206 and data == body[10:20]
    status, _, data = request(port, "GET", "/healthcheck")
    assert status == 200 and data == b"OK"
    status, _, _ = request(port, "GET", "/nodev/3/AUTH_a/c/o")
    assert status == 507
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    log = (root / "object.log").read_text()
    assert '"PUT /sda/3/AUTH_a/c/o%20bj" 201' in log


def test_container_updates_and_async_pending(object_server):
    _, port, root, _ = object_server
    container = FakeContainerServer()
    thread = threading.Thread(target=container.serve_forever, daemon=True)
    thread.start()
    try:
        headers = {"X-Timestamp": "1700000000.00000", "Content-Type": "text/plain",
                   "X-Container-Host": f"127.0.0.1:{container.server_address[1]}",
                   "X-Container-Device": "sdc", "X-Container-Partition": "9"}
        status, _, _ = request(port, "PUT", "/sda/3/a/c/o%C3%A9", b"abc", headers)
        assert status == 201
        [(method, path, sent)] = container.received
        assert (method, path) == ("PUT", "/sdc/9/a/c/o%C3%A9")
        assert sent["X-Size"] == "3" and sent["X-Etag"] == hashlib.md5(b"abc").hexdigest()
        headers["X-Container-Host"] = f"127.0.0.1:{free_port()}"  # nobody listens there
        headers["X-Timestamp"] = "1700000001.00000"
        status, _, _ = request(port, "DELETE", "/sda/3/a/c/o%C3%A9", None, headers)
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
    status, _, _ = request(port, "GET", "/sda/3/a/c/crash")
    assert status == 404
    assert list((root / "sda").glob("objects/*/*/*/*.data")) == []
