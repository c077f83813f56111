"""A real object-server daemon for integration tests: config, start, stop,
requests, and a fake container server that records container updates."""
import http.client
import http.server
import os
import subprocess
import sys
from pathlib import Path

from tests.support import free_port, port_open, wait_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_object_conf(root: Path, **options: object) -> tuple[Path, int]:
    """A config for one object server on a free port with device ``sda``
    under ``root``; extra ``[object-server]`` options as keywords."""
    port = free_port()
    (root / "sda").mkdir(exist_ok=True)
    extra = "".join(f"{key} = {value}\n" for key, value in options.items())
    conf = root / "objstore.conf"
    conf.write_text(f"""
[objstore]
hash_path_suffix = integration

[object-server]
bind_ip = 127.0.0.1
bind_port = {port}
devices = {root}
mount_check = false
log_file = {root / "object.log"}
{extra}""")
    return conf, port


def start_object_server(conf: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, os.path.join(REPO, "bin", "objstore-object-server"),
                             "--config", str(conf)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_for(lambda: port_open(port) or proc.poll() is not None, what="object server port")
    assert proc.poll() is None, proc.stdout.read().decode()
    return proc


def stop_object_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    proc.stdout.close()


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict | None = None) -> tuple[int, object, bytes]:
    """One HTTP request to 127.0.0.1:port: (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


class FakeContainerServer(http.server.ThreadingHTTPServer):
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
