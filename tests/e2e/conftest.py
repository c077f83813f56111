"""One real all-in-one cluster for the whole e2e session, started with ``objstore-aio``.

It runs on a free proxy port in a temporary directory, with a 1 MiB
``max_file_size`` so that large-object tests need only a few MiB, and is
stopped at the end of the session whatever happened (a failed start too).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import sys
import uuid
from typing import Iterator

import pytest

from aio.processes import program
from tests.support import free_port

MAX_FILE_SIZE = 1024 * 1024
EXTRA_CONFIG = f"""\
[constraints]
max_file_size = {MAX_FILE_SIZE}

[filter:tempauth]
user_e2e_alice = alicekey .admin
"""


def run_command(what: str, argv: list[str], *, check: bool, timeout: float,
                cwd: str | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a CLI; with ``check``, a non-zero exit fails the test with its output."""
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                            env=env, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{what} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


@dataclasses.dataclass(frozen=True)
class Cluster:
    dir: str
    port: int
    banner: str = ""  # what ``objstore-aio start`` printed

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/auth/v1.0"

    def aio(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run_command(f"objstore-aio {' '.join(args)}",
                           program("objstore-aio") + [args[0], "--dir", self.dir, *args[1:]],
                           check=check, timeout=120)

    def auth_args(self, user: str = "test:tester", key: str = "testing") -> list[str]:
        return ["-A", self.auth_url, "-U", user, "-K", key]


@contextlib.contextmanager
def running_cluster(base, extra_config: str, nodes: int, *options: str) -> Iterator[Cluster]:
    """An all-in-one cluster in ``base`` with ``extra_config`` merged in, stopped (and
    its directory removed) at the end whatever happened."""
    extra = base / "extra.conf"
    extra.write_text(extra_config)
    running = Cluster(str(base / "cluster"), free_port())
    try:
        started = running.aio("start", "--port", str(running.port), "--part-power", "6",
                              "--nodes", str(nodes), "--replicas", "3", "--config", str(extra),
                              *options)
        yield dataclasses.replace(running, banner=started.stdout)
    finally:
        running.aio("stop", check=False)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory) -> Cluster:
    # 4 nodes for 3 replicas, so that every partition has a handoff node
    with running_cluster(tmp_path_factory.mktemp("aio"), EXTRA_CONFIG, nodes=4) as running:
        yield running


@pytest.fixture(scope="session")
def s3_cluster(tmp_path_factory) -> Cluster:
    """A cluster with the default object size limit: S3 clients send multipart parts of
    at least 5 MiB, over the 1 MiB limit of ``cluster``.  On the default auth (the
    Swauth-style store), with the S3 key pair the all-in-one makes: test:tester / testing."""
    with running_cluster(tmp_path_factory.mktemp("s3aio"), "", 3) as running:
        yield running


def find_tool(name: str, package: str) -> str:
    """A CLI installed with the test extras (this venv's first), else the test fails."""
    path = shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name)
    if not path:
        pytest.fail(f"the {name} CLI ({package}) is not installed; pip install -e '.[test]'")
    return path


@pytest.fixture
def swift_cli(cluster):
    """Run the real ``swift`` CLI against the cluster."""
    swift = find_tool("swift", "python-swiftclient")

    def run(*args: str, check: bool = True, cwd: str | None = None) -> subprocess.CompletedProcess:
        return run_command(f"swift {' '.join(args)}", [swift, *cluster.auth_args(), *args],
                           check=check, timeout=60, cwd=cwd)
    return run


@pytest.fixture
def objstore_cli(cluster):
    """Run the ``objstore`` CLI against the cluster."""
    def run(*args: str, check: bool = True, cwd: str | None = None) -> subprocess.CompletedProcess:
        return run_command(f"objstore {' '.join(args)}",
                           program("objstore") + [args[0], *cluster.auth_args(), *args[1:]],
                           check=check, timeout=60, cwd=cwd)
    return run


@pytest.fixture
def conn(cluster):
    """A python-swiftclient connection as test:tester."""
    from swiftclient.client import Connection
    connection = Connection(authurl=cluster.auth_url, user="test:tester", key="testing",
                            retries=0)
    yield connection
    connection.close()


@pytest.fixture
def container(conn):
    """A fresh container for one test."""
    name = f"e2e-{uuid.uuid4().hex[:10]}"
    conn.put_container(name)
    return name
