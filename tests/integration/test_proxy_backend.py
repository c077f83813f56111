"""The proxy's backend HTTP client against a real eventlet server on 127.0.0.1."""
import eventlet
import eventlet.wsgi
import pytest

from objstore.common.backend_http import BackendConnection, BackendError, ConnectionPool


META_A = "\u3705".encode().decode("latin-1")        # e3 9c 85
META_B = " \u1803 ".encode().decode("latin-1")      # e1 a0 83 between spaces


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/expect-refused":  # answers before reading: no 100 Continue
        start_response("507 Insufficient Storage", [("Content-Length", "4")])
        return [b"full"]
    body = environ["wsgi.input"].read()
    if path == "/meta":  # UTF-8 values ending in bytes 0x85 / 0xa0 (not whitespace here)
        start_response("200 OK", [("Content-Length", "0"), ("X-Object-Meta-A", META_A),
                                  ("X-Object-Meta-B", META_B)])
        return []
    if path == "/chunked":
        start_response("200 OK", [])
        return [b"ab", b"", b"cd"]  # no length: eventlet sends it chunked
    data = b"%s %s %d" % (environ["REQUEST_METHOD"].encode(), path.encode(), len(body))
    start_response("201 Created", [("Content-Length", str(len(data))), ("X-Peer-Port",
                                   str(environ.get("REMOTE_PORT", "")))])
    return [data]


@pytest.fixture
def server():
    sock = eventlet.listen(("127.0.0.1", 0))
    thread = eventlet.spawn(eventlet.wsgi.server, sock, app, log_output=False)
    yield {"ip": "127.0.0.1", "port": sock.getsockname()[1], "device": "sda"}
    thread.kill()
    sock.close()


def exchange(connect, node, method="PUT", path="/x", body=b"", headers=None):
    conn = connect(node, 1.0, 2.0)
    conn.send_request(method, path, {"Content-Length": str(len(body)), **(headers or {})},
                      body=body)
    resp = conn.getresponse()
    data = resp.read_all()
    resp.close()
    return resp, data


def test_request_with_body_in_one_packet(server):
    resp, data = exchange(BackendConnection, server, body=b"hello")
    assert resp.status == 201 and data == b"PUT /x 5"


def test_chunked_response_is_decoded(server):
    resp, data = exchange(BackendConnection, server, "GET", "/chunked")
    assert resp.status == 200 and data == b"abcd"


def test_streamed_upload_with_100_continue(server):
    conn = BackendConnection(server, 1.0, 2.0)
    conn.send_request("PUT", "/big", {"Transfer-Encoding": "chunked", "Expect": "100-continue"})
    assert conn.expect_continue() is None
    for _ in range(3):
        conn.send(b"x" * 70000)
    conn.finish_body()
    resp = conn.getresponse()
    assert resp.read_all() == b"PUT /big 210000"
    resp.close()


def test_pool_reuses_connections_and_survives_a_closed_one(server):
    pool = ConnectionPool()
    first, _ = exchange(pool.connect, server)
    second, _ = exchange(pool.connect, server)
    assert first.getheader("x-peer-port") == second.getheader("x-peer-port")
    # the node drops the idle connection: the next request goes out on a new one
    sock, fp = pool.take((server["ip"], server["port"]))
    eventlet.sleep(0)
    sock.shutdown(2)
    pool.give((server["ip"], server["port"]), sock, fp)
    third, data = exchange(pool.connect, server, body=b"abc")
    assert third.status == 201 and data == b"PUT /x 3"
    assert third.getheader("x-peer-port") != first.getheader("x-peer-port")


def test_refused_expect_is_not_pooled(server):
    pool = ConnectionPool()
    conn = pool.connect(server, 1.0, 2.0)
    conn.send_request("PUT", "/expect-refused", {"Content-Length": "100000",
                                                  "Expect": "100-continue"})
    resp = conn.expect_continue()
    assert resp.status == 507 and resp.read_all() == b"full"
    resp.close()
    assert pool.take((server["ip"], server["port"])) is None


def test_connect_refused_raises(server):
    with pytest.raises(OSError):
        BackendConnection({"ip": "127.0.0.1", "port": 1, "device": "x"}, 0.5, 0.5)


def test_garbage_answer_is_a_backend_error():
    sock = eventlet.listen(("127.0.0.1", 0))

    def garbage():
        client, _ = sock.accept()
        client.recv(65536)
        client.sendall(b"NOT HTTP\r\n\r\n")
        client.close()
    thread = eventlet.spawn(garbage)
    conn = BackendConnection({"ip": "127.0.0.1", "port": sock.getsockname()[1]}, 1.0, 1.0)
    conn.send_request("GET", "/", {})
    with pytest.raises(BackendError):
        conn.getresponse()
    thread.wait()
    sock.close()


def test_header_values_keep_trailing_non_ascii_bytes(server):
    resp, _ = exchange(BackendConnection, server, "GET", "/meta")
    assert resp.headers["x-object-meta-a"] == META_A
    assert resp.headers["x-object-meta-b"] == META_B.strip(" ")


class RestartableServer:
    """``app`` on a fixed port; ``restart()`` closes every connection (as a
    killed daemon's kernel would) and listens again on the same port."""

    def __init__(self) -> None:
        self.port = 0
        self.start()

    def start(self) -> None:
        self.sock = eventlet.listen(("127.0.0.1", self.port))
        self.port = self.sock.getsockname()[1]
        self.pool = eventlet.GreenPool()
        self.thread = eventlet.spawn(eventlet.wsgi.server, self.sock, app, log_output=False,
                                     custom_pool=self.pool)

    def stop(self) -> None:
        self.thread.kill()
        self.sock.close()
        for handler in list(self.pool.coroutines_running):
            handler.kill()

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.mark.parametrize("streamed", [False, True])
def test_pooled_connections_to_a_restarted_node_are_replaced_not_failed(streamed):
    server = RestartableServer()
    node = {"ip": "127.0.0.1", "port": server.port, "device": "sda"}
    pool = ConnectionPool()
    try:
        conns = [pool.connect(node, 1.0, 2.0) for _ in range(3)]  # three pooled connections
        for conn in conns:
            conn.send_request("GET", "/x", {"Content-Length": "0"})
        for conn in conns:
            conn.getresponse().close()
        assert len(pool._idle[(node["ip"], node["port"])]) == 3
        server.restart()
        eventlet.sleep(0)
        for _ in range(3):  # each takes a dead pooled connection and resends once
            conn = pool.connect(node, 1.0, 2.0)
            assert conn.reused
            if streamed:
                conn.send_request("PUT", "/big", {"Content-Length": "5",
                                                  "Expect": "100-continue"})
                assert conn.expect_continue() is None
                conn.send(b"hello")
                resp = conn.getresponse()
            else:
                conn.send_request("PUT", "/x", {"Content-Length": "5"}, body=b"hello")
                resp = conn.getresponse()
            assert resp.status == 201 and resp.read_all().endswith(b" 5")
            conn.close()
    finally:
        server.stop()
