"""Serving a WSGI app on eventlet: access log, transaction ids, workers, SIGTERM.

Every daemon (proxy, object, container, account server) is started through
``serve()`` so that they all log one line per request in the same format and
stop the same way: SIGTERM stops accepting, lets in-flight requests finish and
exits.

Slow clients are bounded in total time, not per byte (a socket timeout is per
``recv``: a client sending a byte now and then would hold its connection, and
a slot of ``max_clients``, for ever): the request line and headers must arrive
within ``header_timeout`` seconds, and every read of the body within
``client_timeout``.
"""
from __future__ import annotations

import logging
import os
import re
import signal
import socket
import sys
import time
from typing import Callable, Iterable, Iterator, Mapping

import eventlet
import eventlet.event
import eventlet.hubs
import eventlet.wsgi

from objstore.common.config import get_float, get_int
from objstore.common.http import CHUNK_SIZE
from objstore.common.logs import bind_txn_id, new_txn_id
from objstore.common.stop_signals import STOP_SIGNALS, stop_signal_pipe

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
# bytes str.split() may treat as whitespace besides " \t": controls, 0x85, 0xa0 (not CR/LF)
_UNSAFE_REQUEST_LINE_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]")


class AccessLog:
    """WSGI wrapper: assigns the transaction id and logs one line per request.

    Storage nodes trust the ``X-Trans-Id`` the proxy sends them; the proxy
    (``trust_txn_id=False``) always makes its own so clients cannot forge one.
    """

    def __init__(self, app: WSGIApp, logger: logging.Logger, trust_txn_id: bool = True) -> None:
        self.app = app
        self.logger = logger
        self.trust_txn_id = trust_txn_id

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        txn_id = environ.get("HTTP_X_TRANS_ID") if self.trust_txn_id else None
        if not txn_id:
            extra = environ.get("HTTP_X_TRANS_ID_EXTRA", "")
            txn_id = new_txn_id(("-" + extra[:32]) if extra else "")
        environ["HTTP_X_TRANS_ID"] = txn_id
        bind_txn_id(txn_id)
        started = time.monotonic()
        status_holder: list[str] = []

        def logging_start_response(status, headers, exc_info=None):
            status_holder[:] = [status]
            if not any(name.lower() == "x-trans-id" for name, _ in headers):
                headers = list(headers) + [("X-Trans-Id", txn_id)]
            return start_response(status, headers, exc_info)

        body = self.app(environ, logging_start_response)
        return self._count(body, environ, status_holder, started, txn_id)

    def _count(self, body: Iterable[bytes], environ: dict, status_holder: list[str],
               started: float, txn_id: str) -> Iterator[bytes]:
        sent = 0
        try:
            for chunk in body:
                sent += len(chunk)
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close:
                close()
            bind_txn_id(txn_id)
            status = status_holder[0].split(" ", 1)[0] if status_holder else "-"
            self.logger.info(
                '%s "%s %s" %s %d %.4fs',
                environ.get("HTTP_X_FORWARDED_FOR") or environ.get("REMOTE_ADDR", "-"),
                environ.get("REQUEST_METHOD", "-"),
                environ.get("RAW_PATH_INFO") or environ.get("PATH_INFO", "-"),
                status, sent, time.monotonic() - started)


def bind_socket(options: Mapping[str, str], default_port: int) -> socket.socket:
    ip = options.get("bind_ip", "127.0.0.1")
    port = get_int(options, "bind_port", default_port)
    # no SO_REUSEPORT: a second daemon on a taken port must fail, not silently share it
    return eventlet.listen((ip, port), backlog=get_int(options, "backlog", 4096), reuse_port=False)


def serve(app: WSGIApp, options: Mapping[str, str], logger: logging.Logger, *,
          default_port: int, trust_txn_id: bool = True,
          sock: socket.socket | None = None, keep_header_case: bool = False) -> None:
    """Serve ``app`` until SIGTERM/SIGINT; fork ``workers`` processes if > 0.
    ``keep_header_case``: response header names go out as the app wrote them."""
    sock = sock or bind_socket(options, default_port)
    wrapped = AccessLog(app, logger, trust_txn_id=trust_txn_id)
    workers = get_int(options, "workers", 0)
    logger.info("listening on %s:%d with %d worker(s)", *sock.getsockname()[:2], max(workers, 1))
    if workers <= 0:
        _serve_in_this_process(sock, wrapped, options, keep_header_case)
        return
    # Stop signals wait (blocked) until each process has its handler: a
    # SIGTERM that reached the parent before it could forward it would leave
    # the workers running as orphans.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            _serve_in_this_process(sock, wrapped, options, keep_header_case)
            os._exit(0)
        children.append(pid)
    _supervise(children)


def _quote_byte(match: re.Match) -> bytes:
    return b"%%%02X" % match.group()[0]


class _DeadlineInput:
    """``wsgi.input`` whose every read completes within ``timeout`` seconds
    in total, else raises ``socket.timeout`` (servers answer 408)."""

    def __init__(self, wsgi_input, timeout: float) -> None:
        self._input = wsgi_input
        self._timeout = timeout

    def _bounded(self, read: Callable, *args):
        with eventlet.Timeout(self._timeout, socket.timeout("the client is too slow sending the body")):
            return read(*args)

    def read(self, *args) -> bytes:
        return self._bounded(self._input.read, *args)

    def readline(self, *args) -> bytes:
        return self._bounded(self._input.readline, *args)

    def readlines(self, *args) -> list[bytes]:
        return self._bounded(self._input.readlines, *args)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def __getattr__(self, name: str):
        return getattr(self._input, name)  # eventlet's 100-continue helpers


class _Protocol(eventlet.wsgi.HttpProtocol):
    """eventlet fills in ``CONTENT_TYPE: text/plain`` when the client sent
    none; drop it so servers can tell "no Content-Type" (e.g. guess one).

    The stdlib request-line parser splits on *Unicode* whitespace (so the
    bytes 0x85 and 0xa0 of an unquoted UTF-8 name break the line: 400 "Bad
    request syntax") and collapses a leading ``//`` in the path.  Non-ASCII
    and control bytes are percent-quoted before parsing (eventlet unquotes
    PATH_INFO, so the app sees the same bytes) and the path is kept as sent.

    From the moment the server waits for a request, its line and headers must
    come within ``header_timeout`` seconds; each body read must finish within
    ``body_timeout``.  A connection out of time is closed (eventlet closes it
    on ``socket.timeout``).
    """
    header_timeout = 60.0
    body_timeout = 60.0

    def handle_one_request(self) -> None:
        self._head_timer = eventlet.Timeout(
            self.header_timeout, socket.timeout("request line and headers not complete in time"))
        try:
            super().handle_one_request()
        finally:
            self._head_timer.cancel()

    def parse_request(self) -> bool:
        self.raw_requestline = _UNSAFE_REQUEST_LINE_BYTES.sub(_quote_byte, self.raw_requestline)
        parsed = super().parse_request()  # reads the headers
        self._head_timer.cancel()
        if not parsed:
            return False
        words = self.requestline.split()
        if len(words) == 3:
            self.path = words[1]
        return True

    def get_environ(self, *args, **kwargs):
        environ = super().get_environ(*args, **kwargs)
        if self.headers.get("content-type") is None:
            environ.pop("CONTENT_TYPE", None)
        environ["wsgi.input"] = _DeadlineInput(environ["wsgi.input"], self.body_timeout)
        return environ


def server_options(options: Mapping[str, str], keep_header_case: bool = False) -> dict:
    """``eventlet.wsgi.server``'s keyword arguments for a daemon's section."""
    client_timeout = get_float(options, "client_timeout", 60.0)
    protocol = type("_Protocol", (_Protocol,), {
        "header_timeout": get_float(options, "header_timeout", 60.0),
        "body_timeout": client_timeout})
    return {"custom_pool": eventlet.GreenPool(get_int(options, "max_clients", 1024)),
            "log_output": False, "socket_timeout": client_timeout, "keepalive": True,
            "minimum_chunk_size": CHUNK_SIZE, "protocol": protocol,
            # the proxy's S3 clients read x-amz-meta-* names from the wire as they are
            "capitalize_response_headers": not keep_header_case,
            "debug": False}  # never send a traceback to a client


def _serve_in_this_process(sock: socket.socket, app: WSGIApp, options: Mapping[str, str],
                           keep_header_case: bool = False) -> None:
    """Serve until SIGTERM/SIGINT, then stop accepting, close idle keep-alive
    connections and give in-flight requests ``graceful_shutdown_timeout``
    seconds to finish.

    The signal handler itself does nothing: a handler that raised would raise
    in whichever greenthread happened to run (often a request's, which it
    would kill instead of the server).  The signal reaches the hub through a
    wake-up pipe, and a greenthread stops the server in order.
    """
    signal_fd = stop_signal_pipe()
    server = eventlet.spawn(eventlet.wsgi.server, sock, app,
                            **server_options(options, keep_header_case))
    stopping = eventlet.event.Event()
    server.link(lambda _: stopping.ready() or stopping.send())
    eventlet.spawn_n(_wait_for_stop_signal, signal_fd, stopping)
    stopping.wait()
    # SystemExit at accept() is eventlet's own way out: it closes idle
    # connections, waits for busy ones and returns
    server.kill(SystemExit)
    with eventlet.Timeout(get_float(options, "graceful_shutdown_timeout", 30.0), False):
        server.wait()


def _wait_for_stop_signal(signal_fd: int, stopping: eventlet.event.Event) -> None:
    eventlet.hubs.trampoline(signal_fd, read=True)
    if not stopping.ready():
        stopping.send()


def _supervise(children: list[int]) -> None:
    """Parent of forked workers: pass SIGTERM on, wait for all to exit."""
    def forward(signum, frame):
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    for signum in STOP_SIGNALS:
        signal.signal(signum, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    for pid in children:
        while True:
            try:
                os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
            except ChildProcessError:
                break
    sys.exit(0)
