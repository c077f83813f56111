"""Request lines as Swift's functional tests send them, through objstore's
eventlet HTTP protocol (objstore.common.wsgi._Protocol)."""
from __future__ import annotations

import eventlet
import eventlet.wsgi
import pytest

from objstore.common.wsgi import _Protocol


@pytest.fixture
def server():
    seen: list[tuple[str, str, str]] = []

    def app(environ, start_response):
        seen.append((environ["PATH_INFO"], environ.get("QUERY_STRING", ""),
                     environ["RAW_PATH_INFO"]))
        start_response("200 OK", [("Content-Length", "0")])
        return []

    sock = eventlet.listen(("127.0.0.1", 0))
    thread = eventlet.spawn(eventlet.wsgi.server, sock, app, protocol=_Protocol,
                            log_output=False, debug=False)
    yield sock.getsockname()[1], seen
    thread.kill()
    sock.close()


def raw_request(port: int, request_line: bytes) -> bytes:
    conn = eventlet.connect(("127.0.0.1", port))
    try:
        conn.sendall(request_line + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk
        return answer
    finally:
        conn.close()


def test_unquoted_utf8_with_whitespace_like_bytes(server):
    port, seen = server
    # U+1803 is e1 a0 83 and U+2005 (four-per-em space) is e2 80 85: the bytes
    # 0xa0 and 0x85 are whitespace to str.split()
    name = "\u1803/\u2005?x=\u1803".encode()
    answer = raw_request(port, b"PUT /v1/a/c/" + name + b" HTTP/1.1")
    assert answer.startswith(b"HTTP/1.1 200"), answer
    path, query, _ = seen[0]
    assert path.encode("latin-1") == b"/v1/a/c/" + "\u1803/\u2005".encode()
    assert query == "x=%E1%A0%83"


def test_leading_double_slash_is_kept(server):
    port, seen = server
    assert raw_request(port, b"GET //v1/a HTTP/1.1").startswith(b"HTTP/1.1 200")
    assert seen[0][0] == "//v1/a"
