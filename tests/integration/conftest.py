"""Fixtures shared by the integration tests."""
import pytest

from tests.integration.object_daemon import start_object_server, stop_object_server, write_object_conf


@pytest.fixture
def object_server(tmp_path):
    """A real object server on a free port: (procs, port, root, conf); tests
    may append restarted processes to ``procs`` for cleanup."""
    conf, port = write_object_conf(tmp_path)
    procs = [start_object_server(conf, port)]
    try:
        yield procs, port, tmp_path, conf
    finally:
        for proc in procs:
            stop_object_server(proc)
