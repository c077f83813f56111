"""SIGTERM stops a daemon in order: idle keep-alive connections are closed at
once, a request in flight still completes, and every worker exits."""
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading

from tests.integration.object_daemon import REPO, start_object_server, stop_object_server, write_object_conf
from tests.support import wait_for


def _read_status(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0]


def test_sigterm_finishes_in_flight_requests_and_drops_idle_connections(tmp_path):
    conf, port = write_object_conf(tmp_path, workers=2)
    proc = start_object_server(conf, port)
    idle = busy = None
    try:
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        idle.sendall(b"GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_status(idle).endswith(b"200 OK")  # now an idle keep-alive connection
        busy = socket.create_connection(("127.0.0.1", port), timeout=10)
        busy.sendall(b"PUT /sda/1/a/c/o HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
                     b"X-Timestamp: 1700000000.00000\r\nContent-Type: text/plain\r\n\r\n12345")
        wait_for(lambda: "tmp" in os.listdir(tmp_path / "sda"), what="upload under way")
        proc.send_signal(signal.SIGTERM)
        # the idle connection is closed by the server, not left to client_timeout
        wait_for(lambda: idle.recv(1) == b"", timeout=10, what="idle connection closed")
        busy.sendall(b"67890")
        assert _read_status(busy).endswith(b"201 Created")
        assert proc.wait(timeout=15) == 0
    finally:
        for sock in (idle, busy):
            if sock:
                sock.close()
        stop_object_server(proc)


def test_sigterm_under_load_stops_every_worker(tmp_path):
    """The signal arrives while requests are being processed: it must stop the
    server, not just kill whichever request happened to be running."""
    conf, port = write_object_conf(tmp_path)
    proc = start_object_server(conf, port)
    done = threading.Event()
    served = []

    def hammer():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        while not done.is_set():
            try:
                conn.request("GET", "/healthcheck")
                conn.getresponse().read()
                served.append(1)
            except (OSError, http.client.HTTPException):
                return

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        wait_for(lambda: len(served) > 500, what="server under load")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=10)
        stop_object_server(proc)


def _processes_running(config: str) -> list[int]:
    """Pids whose command line names ``config``."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if config.encode() in handle.read():
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def test_sigterm_right_after_start_leaves_no_orphan_workers(tmp_path):
    """SIGTERM just as the workers are being forked (the moment `objstore-aio
    stop` after a failed start hits) must stop the workers too."""
    conf, port = write_object_conf(tmp_path, workers=2)
    log = tmp_path / "object.log"
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, os.path.join(REPO, "bin", "objstore-object-server"),
                                 "--config", str(conf)], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: log.exists() and "listening" in log.read_text(), what="daemon start")
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
            wait_for(lambda: not _processes_running(str(conf)), timeout=15, what="workers gone")
        finally:
            for pid in _processes_running(str(conf)):
                os.kill(pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        log.unlink()
