"""Start and stop a real object-server daemon for integration tests."""
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
