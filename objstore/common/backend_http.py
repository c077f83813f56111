"""HTTP/1.1 to storage nodes on green sockets, for the proxy and for storage
nodes talking to each other (container updates): keep-alive, 100-continue.

The stdlib ``http.client`` cannot wait for ``100 Continue`` before sending a
body, and its response object cannot be shared between the interim and the
final response; this small client does both, streams bodies in chunks and
applies ``conn_timeout`` to connecting and ``node_timeout`` to every read and
write (socket timeouts, so a stalled node raises ``socket.timeout``).
"""
from __future__ import annotations

import re
import socket
import time
from typing import Callable, Mapping
from urllib.parse import quote

import eventlet
from eventlet.green import socket as green_socket

from objstore.common.checks import InputError, parse_int
from objstore.common.http import CHUNK_SIZE

_MAX_LINE = 65536
_HTTP_WS = " \t\r\n"
_NO_BODY_STATUSES = (204, 304)
_DRAIN_LIMIT = 65536
_CHUNK_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")


class BackendError(ConnectionError):
    """The node broke the HTTP protocol or closed the connection early."""


def backend_path(partition: int, wsgi_path: str) -> str:
    """The quoted ``/<partition>/<account>[/<container>[/<object>]]`` tail of
    a backend path (prefix ``/<device>`` per node); ``wsgi_path`` is a WSGI
    string (latin-1 carrying UTF-8 bytes) ``/account[/container[/object]]``."""
    return quote(f"/{partition}".encode() + wsgi_path.encode("latin-1"))


class BackendResponse:
    """Status, lower-cased headers and a streaming body of one node's answer."""

    def __init__(self, conn: "BackendConnection", status: int, reason: str,
                 headers: dict[str, str], method: str) -> None:
        self.conn = conn
        self.status = status
        self.reason = reason
        self.headers = headers
        self._chunked = False
        self._remaining: int | None = None  # None: until the node closes
        if "close" in headers.get("connection", "").lower():
            conn.reusable = False
        if method == "HEAD" or status in _NO_BODY_STATUSES or status < 200:
            self._remaining = 0
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunked, self._remaining = True, 0
        elif "content-length" in headers:
            try:
                self._remaining = parse_int(headers["content-length"], "Content-Length")
            except InputError:
                raise BackendError("bad Content-Length from backend") from None

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def read(self, amt: int = CHUNK_SIZE) -> bytes:
        """Up to ``amt`` bytes of body; ``b""`` at the end."""
        if self._chunked:
            return self._read_chunked(amt)
        if self._remaining is None:
            self.conn.reusable = False
            return self.conn.fp.read1(amt)
        if self._remaining <= 0:
            return b""
        data = self.conn.fp.read(min(amt, self._remaining))
        if not data:
            raise BackendError("backend closed the connection mid-body")
        self._remaining -= len(data)
        return data

    def read_all(self, limit: int = 1 << 24) -> bytes:
        """Whole (small) body, e.g. an error message or a listing page."""
        parts, size = [], 0
        while size <= limit:
            data = self.read()
            if not data:
                break
            parts.append(data)
            size += len(data)
        return b"".join(parts)

    def _read_chunked(self, amt: int) -> bytes:
        fp = self.conn.fp
        if self._remaining == 0:
            line = fp.readline(_MAX_LINE)
            if not line:
                raise BackendError("backend closed the connection mid-body")
            digits = line.split(b";", 1)[0].strip()
            if not _CHUNK_SIZE.fullmatch(digits):  # hex digits only, and no 2**64-byte chunk
                raise BackendError("bad chunk size from backend")
            size = int(digits, 16)
            if size == 0:
                while fp.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self._chunked, self._remaining = False, 0
                return b""
            self._remaining = size
        data = fp.read(min(amt, self._remaining))
        if not data:
            raise BackendError("backend closed the connection mid-body")
        self._remaining -= len(data)
        if self._remaining == 0:
            fp.readline(_MAX_LINE)  # CRLF after the chunk
        return data

    @property
    def complete(self) -> bool:
        """The whole body has been read: the connection may carry another request."""
        return self._remaining == 0 and not self._chunked

    def close(self) -> None:
        """Done with this answer: a small unread rest (an error text) is
        drained so that the connection can go back to the pool."""
        if not self.complete and self._remaining is not None and not self._chunked \
                and self._remaining <= _DRAIN_LIMIT:
            try:
                while self.read():
                    pass
            except OSError:
                self.conn.reusable = False
        if self.complete:
            self.conn.release()
        else:
            self.conn.close()


class ConnectionPool:
    """Idle keep-alive connections to storage nodes, by address, newest first.

    Saves a TCP handshake and a greenthread spawn on both sides per backend
    request.  Connections idle longer than ``max_idle`` seconds are dropped
    (the nodes time idle clients out after their ``client_timeout``).
    """

    def __init__(self, max_per_address: int = 32, max_idle: float = 20.0) -> None:
        self.max_per_address = max_per_address
        self.max_idle = max_idle
        self._idle: dict[tuple[str, int], list[tuple[float, socket.socket, object]]] = {}

    def take(self, address: tuple[str, int]) -> tuple[socket.socket, object] | None:
        idle = self._idle.get(address)
        now = time.monotonic()
        while idle:
            since, sock, fp = idle.pop()
            if now - since < self.max_idle:
                return sock, fp
            _close_quietly(sock, fp)
        return None

    def give(self, address: tuple[str, int], sock: socket.socket, fp) -> None:
        idle = self._idle.setdefault(address, [])
        if len(idle) >= self.max_per_address:
            _close_quietly(sock, fp)
            return
        idle.append((time.monotonic(), sock, fp))

    def connect(self, node: Mapping, conn_timeout: float, node_timeout: float) -> "BackendConnection":
        """A Connector that reuses pooled connections."""
        return BackendConnection(node, conn_timeout, node_timeout, pool=self)


def request_status(pool: ConnectionPool | None, ip: str, port: int, method: str, path: str,
                   headers: Mapping[str, str], conn_timeout: float, node_timeout: float) -> int:
    """Send a bodiless request (an update between storage nodes) on a pooled
    keep-alive connection and return the status; raises OSError or
    eventlet.Timeout when the node cannot be reached in time."""
    with eventlet.Timeout(conn_timeout + node_timeout):
        conn = BackendConnection({"ip": ip, "port": port}, conn_timeout, node_timeout, pool)
        try:
            conn.send_request(method, path, {**headers, "Content-Length": "0"})
            response = conn.getresponse()
            response.close()  # drains a short body: the connection goes back to the pool
            return response.status
        finally:
            conn.close()


def _close_quietly(sock: socket.socket, fp) -> None:
    try:
        fp.close()
        sock.close()
    except OSError:
        pass


class BackendConnection:
    """One request to one node: send head, (wait for 100), send body, read answer."""

    def __init__(self, node: Mapping, conn_timeout: float, node_timeout: float,
                 pool: ConnectionPool | None = None) -> None:
        self.node = node
        self.address = (node["ip"], node["port"])
        self.host = f"{node['ip']}:{node['port']}"
        self.conn_timeout = conn_timeout
        self.node_timeout = node_timeout
        self.pool = pool
        self.method = "GET"
        self.chunked = False
        self.reusable = pool is not None
        self._released = False
        # a pooled connection the node may have closed meanwhile: the request
        # is re-sent once on a new connection if it gets no answer at all
        self._resend: bytes | None = None
        pooled = pool.take(self.address) if pool is not None else None
        if pooled is not None:
            self.sock, self.fp = pooled
            self.sock.settimeout(node_timeout)
            self.reused = True
        else:
            self._open()

    def _open(self) -> None:
        self.reused = False
        self.sock = green_socket.create_connection(self.address, self.conn_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(self.node_timeout)
        self.fp = self.sock.makefile("rb")

    def _reopen_and_resend(self) -> None:
        data, self._resend = self._resend, None
        _close_quietly(self.sock, self.fp)
        self._open()
        self.sock.sendall(data)

    def send_request(self, method: str, path: str, headers: Mapping[str, str],
                     query_string: str = "", body: bytes = b"") -> None:
        """Send the head (and a small whole body: one packet, no 100-continue)."""
        self.method = method
        self.chunked = headers.get("Transfer-Encoding", "").lower() == "chunked"
        target = f"{path}?{query_string}" if query_string else path
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}"]
        if self.pool is None:
            lines.append("Connection: close")
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        lines.append("\r\n")
        data = "\r\n".join(lines).encode("latin-1") + body
        if self.reused:
            self._resend = data
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            if self._resend is None:
                raise
            self._reopen_and_resend()

    def expect_continue(self) -> BackendResponse | None:
        """After a head with ``Expect: 100-continue``: None to go on sending,
        else the node's final answer (e.g. 507, 409, 412)."""
        status, reason, headers = self._read_head()
        if status == 100:
            return None
        self.reusable = False  # the body it refused is still expected
        return BackendResponse(self, status, reason, headers, self.method)

    def send(self, data: bytes) -> None:
        self._resend = None
        if self.chunked:
            self.sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
        else:
            self.sock.sendall(data)

    def finish_body(self) -> None:
        if self.chunked:
            self.sock.sendall(b"0\r\n\r\n")

    def getresponse(self) -> BackendResponse:
        while True:
            status, reason, headers = self._read_head()
            if status >= 200:
                return BackendResponse(self, status, reason, headers, self.method)

    def set_timeout(self, timeout: float) -> None:
        self.sock.settimeout(timeout)

    def release(self) -> None:
        """The exchange is complete: back to the pool, or closed."""
        if self.reusable and self.pool is not None:
            self.pool.give(self.address, self.sock, self.fp)
            self.reusable, self._released = False, True
        else:
            self.close()

    def close(self) -> None:
        self.reusable = False
        if not self._released:  # a released socket belongs to the pool now
            self._released = True
            _close_quietly(self.sock, self.fp)

    def _status_line(self) -> bytes:
        try:
            line = self.fp.readline(_MAX_LINE)
        except ConnectionResetError:
            line = b""
        if not line and self._resend is not None:
            self._reopen_and_resend()
            line = self.fp.readline(_MAX_LINE)
        self._resend = None
        return line

    def _read_head(self) -> tuple[int, str, dict[str, str]]:
        line = self._status_line()
        if not line:
            raise BackendError("backend closed the connection without answering")
        parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not (
                len(parts[1]) == 3 and parts[1].isascii() and parts[1].isdigit()):
            raise BackendError(f"bad status line from backend: {line[:80]!r}")
        headers: dict[str, str] = {}
        while True:
            line = self.fp.readline(_MAX_LINE)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            # only HTTP whitespace: str.strip() would also eat the bytes 0x85
            # and 0xa0 that end many UTF-8 characters of metadata values
            key, value = name.strip(_HTTP_WS).lower(), value.strip(_HTTP_WS)
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        if not parts[0].startswith("HTTP/1.1"):
            self.reusable = False
        return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


Connector = Callable[[Mapping, float, float], BackendConnection]
