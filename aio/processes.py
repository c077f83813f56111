"""Start, find, health-check and stop the daemons of an all-in-one cluster.

Daemons run detached (their own session), write their output to
``DIR/logs/<name>.log`` and their pid to ``DIR/run/<name>.pid``.  A pid file
only counts while its process is alive *and* was started with this cluster's
config file, so a recycled pid is never mistaken for (or killed as) a daemon.
"""
from __future__ import annotations

import dataclasses
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from aio.layout import BACKGROUND_DAEMONS, TOKEN_CLEANER, Daemon, Layout

PROGRAMS = {
    "proxy": "objstore-proxy-server",
    "object": "objstore-object-server",
    "container": "objstore-container-server",
    "account": "objstore-account-server",
    **{background.name: background.program for background in (*BACKGROUND_DAEMONS, TOKEN_CLEANER)},
}
ENTRY_POINTS = {  # fallbacks when the bin/ scripts are not installed
    "objstore-proxy-server": "proxy.server:main",
    "objstore-object-server": "objstore.obj.server:main",
    "objstore-container-server": "objstore.container.server:main",
    "objstore-account-server": "objstore.account.server:main",
    "objstore-ring-builder": "ring.cli:main",
    "objstore-aio": "aio.cli:main",
    "objstore-recon": "replicator.recon.cli:main",
    "objstore": "client.cli:main",
    **{background.program: background.entry_point
       for background in (*BACKGROUND_DAEMONS, TOKEN_CLEANER)},
}


def program(name: str) -> list[str]:
    """The command that runs one of objstore's programs with this Python."""
    script = shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name)
    if script:
        return [sys.executable, script]
    module, function = ENTRY_POINTS[name].split(":")
    return [sys.executable, "-c", f"from {module} import {function}; raise SystemExit({function}())"]


def read_pid(layout: Layout, daemon: Daemon) -> int | None:
    """The daemon's pid if it is running, else None."""
    try:
        with open(layout.pid_file(daemon.name), encoding="ascii") as handle:
            pid = int(handle.read().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_our_process(pid, daemon.config) else None


def _is_our_process(pid: int, config: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read().split(b"\0")
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X") and os.fsencode(config) in cmdline


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if something listens on the port or it cannot be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the daemons bind
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_ports(count: int, start: int, taken: set[int] = frozenset()) -> list[int]:
    """``count`` ports from ``start`` upward that are free now and not in ``taken``."""
    found: list[int] = []
    port = start
    while len(found) < count:
        if port > 65535:
            raise RuntimeError(f"no {count} free ports above {start}")
        if port not in taken and not port_in_use(port):
            found.append(port)
        port += 1
    return found


def start(layout: Layout, daemon: Daemon) -> subprocess.Popen:
    """Launch the daemon detached from this terminal and record its pid."""
    command = program(PROGRAMS[daemon.kind]) + ["--config", daemon.config]
    with open(layout.log_file(daemon.name), "ab") as log:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, close_fds=True)
    tmp = layout.pid_file(daemon.name) + ".tmp"
    with open(tmp, "w", encoding="ascii") as handle:
        handle.write(f"{proc.pid}\n")
    os.replace(tmp, layout.pid_file(daemon.name))
    return proc


def healthy(port: int, timeout: float = 2.0) -> bool:
    """True if ``GET /healthcheck`` on the port answers 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/healthcheck")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


@dataclasses.dataclass
class Died(Exception):
    """A daemon exited while we waited for it to become healthy."""

    daemon: Daemon
    log_tail: str


def wait_healthy(layout: Layout, daemons: list[Daemon], timeout: float,
                 started: dict[str, subprocess.Popen] | None = None) -> list[Daemon]:
    """Wait until every daemon answers its healthcheck; return those that never did.

    Raises Died as soon as one of them exits (``started`` holds the processes
    this call's caller launched; the others are watched through their pid files).
    """
    started = started or {}
    pending = list(daemons)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for daemon in list(pending):
            if healthy(daemon.port, timeout=1.0):
                pending.remove(daemon)
            elif _exited(layout, daemon, started.get(daemon.name)):
                raise Died(daemon, log_tail(layout.log_file(daemon.name)))
        if pending:
            time.sleep(0.1)
    return pending


def _exited(layout: Layout, daemon: Daemon, proc: subprocess.Popen | None) -> bool:
    if proc is not None:  # a fresh child may not have exec'd yet: ask it, not /proc
        return proc.poll() is not None
    return read_pid(layout, daemon) is None


def log_tail(path: str, lines: int = 20) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 16384))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def stop(layout: Layout, daemons: list[Daemon], timeout: float = 10.0) -> list[str]:
    """SIGTERM every running daemon, SIGKILL those still alive after ``timeout``.

    Returns the names of the daemons that were running.
    """
    running = {d.name: (d, pid) for d in daemons if (pid := read_pid(layout, d)) is not None}
    for daemon, pid in running.values():
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    alive = dict(running)
    while alive and time.monotonic() < deadline:
        alive = {name: (d, pid) for name, (d, pid) in alive.items() if _is_our_process(pid, d.config)}
        if alive:
            time.sleep(0.05)
    for daemon, pid in alive.values():
        _signal(pid, signal.SIGKILL, group=True)  # the daemon and any workers it forked
    for daemon, _ in running.values():
        try:
            os.unlink(layout.pid_file(daemon.name))
        except FileNotFoundError:
            pass
    return sorted(running)


def _signal(pid: int, signum: int, group: bool = False) -> None:
    if group:  # daemons lead their own session, so their process group id is their pid
        try:
            os.killpg(pid, signum)
            return
        except ProcessLookupError:
            pass  # not a group leader after all: signal the process alone
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
