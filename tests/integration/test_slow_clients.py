"""Slow clients against a real eventlet server on 127.0.0.1 with the daemons'
server options: a request head or a body read that trickles in a byte at a
time is cut after a bounded total time, and such clients do not keep others
from being served."""
import socket
import time

import eventlet
import eventlet.wsgi
from eventlet.green import select
import pytest

from objstore.common.wsgi import server_options

HEADER_TIMEOUT = 1.0
CLIENT_TIMEOUT = 1.0
TRICKLE = 0.1  # a slow client's pause between bytes, well under any timeout


def app(environ, start_response):
    try:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    except socket.timeout:
        start_response("408 Request Timeout", [("Content-Length", "0"), ("Connection", "close")])
        return []
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture
def server(request):
    options = {"header_timeout": str(HEADER_TIMEOUT), "client_timeout": str(CLIENT_TIMEOUT),
               "max_clients": str(getattr(request, "param", 1024))}
    sock = eventlet.listen(("127.0.0.1", 0))
    thread = eventlet.spawn(eventlet.wsgi.server, sock, app, **server_options(options))
    yield sock.getsockname()[1]
    thread.kill()
    sock.close()


def trickle(port: int, data: bytes, head: bytes = b"") -> tuple[float, bytes]:
    """Send ``head`` at once, then ``data`` a byte at a time until the server
    answers or closes the connection; how long that took and what came back."""
    conn = eventlet.connect(("127.0.0.1", port))
    started = time.monotonic()
    try:
        conn.sendall(head)
        for byte in data:
            conn.sendall(bytes([byte]))
            readable = select.select([conn], [], [], TRICKLE)[0]
            if readable:
                break
        conn.settimeout(10)
        answer = conn.recv(65536)
        return time.monotonic() - started, answer
    except ConnectionError:
        return time.monotonic() - started, b""
    finally:
        conn.close()


def get(port: int, timeout: float = 10) -> bytes:
    conn = eventlet.connect(("127.0.0.1", port))
    conn.settimeout(timeout)
    try:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return conn.recv(65536)
    finally:
        conn.close()


SLOW_HEAD = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 200 + b"\r\n\r\n"


def test_a_head_sent_a_byte_at_a_time_is_cut_after_header_timeout(server):
    elapsed, answer = trickle(server, SLOW_HEAD)
    assert answer == b""  # closed, not served
    assert HEADER_TIMEOUT * 0.9 <= elapsed < HEADER_TIMEOUT + 2  # 20 s if it were per byte


def test_a_body_sent_a_byte_at_a_time_gets_408_after_client_timeout(server):
    head = b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n"
    elapsed, answer = trickle(server, b"b" * 200, head)
    assert answer.startswith(b"HTTP/1.1 408")
    assert CLIENT_TIMEOUT * 0.9 <= elapsed < CLIENT_TIMEOUT + 2  # 20 s if it were per byte


def test_many_slow_clients_do_not_keep_others_from_being_served(server):
    slow = [eventlet.spawn(trickle, server, SLOW_HEAD) for _ in range(50)]
    eventlet.sleep(0)  # let them connect
    started = time.monotonic()
    assert get(server).startswith(b"HTTP/1.1 200")
    assert time.monotonic() - started < HEADER_TIMEOUT / 2
    assert all(answer == b"" for _, answer in (t.wait() for t in slow))


@pytest.mark.parametrize("server", [4], indirect=True)
def test_slow_clients_holding_every_slot_are_cut_for_the_next_client(server):
    slow = [eventlet.spawn(trickle, server, SLOW_HEAD) for _ in range(4)]
    eventlet.sleep(0)
    started = time.monotonic()
    assert get(server).startswith(b"HTTP/1.1 200")
    assert time.monotonic() - started < HEADER_TIMEOUT + 2
    for thread in slow:
        thread.wait()
