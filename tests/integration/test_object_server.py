"""The real object server daemon: PUT/GET over HTTP, then a clean SIGTERM stop."""
import hashlib
import os
import signal
import socket
import threading

from tests.footer_body import mime_body
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


def _read_head(sock_file) -> list[bytes]:
    """Status line and header lines of one response head (up to the blank line)."""
    lines = []
    while (line := sock_file.readline()) not in (b"\r\n", b""):
        lines.append(line.rstrip(b"\r\n"))
    return lines


def test_footer_put_as_a_swift_proxy_sends_it(object_server):
    """Expect: 100-continue, chunked MIME body: the 100 Continue says footers are
    understood (a Swift proxy sends none otherwise), and the footer's metadata is stored."""
    _, port, _, _ = object_server
    data = os.urandom(200_000)
    etag = hashlib.md5(data).hexdigest()
    body = mime_body(data, {"Etag": etag, "X-Object-Sysmeta-Ec-Frag-Index": "1"}, "b0undary")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"PUT /sda/3/a/c/ec HTTP/1.1\r\nHost: x\r\nX-Timestamp: 1700000000.0\r\n"
                     b"Content-Type: text/plain\r\nExpect: 100-continue\r\n"
                     b"Transfer-Encoding: chunked\r\nX-Backend-Obj-Metadata-Footer: yes\r\n"
                     b"X-Backend-Obj-Multipart-Mime-Boundary: b0undary\r\n"
                     b"X-Backend-Obj-Content-Length: 200000\r\n\r\n")
        responses = sock.makefile("rb")
        head = _read_head(responses)
        assert head[0].startswith(b"HTTP/1.1 100") and b"X-Obj-Metadata-Footer: yes" in head
        for start in range(0, len(body), 65536):
            piece = body[start:start + 65536]
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        sock.sendall(b"0\r\n\r\n")
        head = _read_head(responses)
        assert head[0].startswith(b"HTTP/1.1 201") and f"Etag: {etag}".encode() in head
    status, headers, got = request(port, "GET", "/sda/3/a/c/ec")
    assert status == 200 and got == data and headers["X-Object-Sysmeta-Ec-Frag-Index"] == "1"
