"""Container updates from a real object server reuse keep-alive connections."""
from __future__ import annotations

import threading

import pytest

from tests.integration.object_daemon import FakeContainerServer, request


class _KeepAliveContainerServer(FakeContainerServer):
    """HTTP/1.1 fake container server recording each update's client address;
    with ``drop_idle`` it closes every connection after answering (silently,
    as a restarted server or an idle timeout would)."""

    def __init__(self, drop_idle: bool = False):
        super().__init__()
        self.clients = []
        handler, owner = self.RequestHandlerClass, self

        class KeepAlive(handler):
            protocol_version = "HTTP/1.1"

            def _record(self):
                owner.clients.append(self.client_address)
                super()._record()
                self.close_connection = drop_idle

            do_PUT = do_DELETE = _record
        self.RequestHandlerClass = KeepAlive


@pytest.fixture
def container_server(request):
    server = _KeepAliveContainerServer(drop_idle=request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _put_three(object_server, container):
    _, port, root, _ = object_server
    for n in range(3):
        headers = {"X-Timestamp": f"170000000{n}.00000", "Content-Type": "text/plain",
                   "X-Container-Host": f"127.0.0.1:{container.server_address[1]}",
                   "X-Container-Device": "sdc", "X-Container-Partition": "9"}
        status, _, _ = request(port, "PUT", f"/sda/3/a/c/o{n}", b"abc", headers)
        assert status == 201
    assert [path for path in root.glob("sda/async_pending/*/*")] == []


@pytest.mark.parametrize("container_server", [False], indirect=True)
def test_updates_share_one_connection(object_server, container_server):
    _put_three(object_server, container_server)
    assert len(container_server.clients) == 3 and len(set(container_server.clients)) == 1


@pytest.mark.parametrize("container_server", [True], indirect=True)
def test_update_on_a_connection_the_server_closed_is_resent(object_server, container_server):
    _put_three(object_server, container_server)
    assert len(container_server.clients) == 3 and len(set(container_server.clients)) == 3
