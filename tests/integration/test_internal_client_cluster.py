"""InternalClient.from_config over a real cluster (2 nodes, 2 replicas): system
requests in hidden accounts, which clients of the same cluster cannot reach."""
import hashlib
import logging

import pytest

from objstore.common.config import load_config
from proxy.internal.client import InternalClient, UnexpectedResponse
from tests.cluster import Cluster

PIPELINE = "catch_errors gatekeeper healthcheck tempauth dlo slo copy proxy-server"
USERS = {"user_test_tester": "testing .admin", "user_admin_admin": "admin .admin .reseller_admin"}
QUEUE = ".expiring_objects"
AUTH_STORE = "AUTH_.auth"


@pytest.fixture(scope="module")
def cluster():
    with Cluster(nodes=2, replicas=2, pipeline=PIPELINE,
                 extra_sections={"filter:tempauth": USERS}) as running:
        yield running


@pytest.fixture(scope="module")
def client(cluster):
    conf = load_config(cluster.proxy_config)
    return InternalClient.from_config(conf, logging.getLogger("test-internal-client"),
                                      source="integration")


def token(cluster, user="test:tester", key="testing"):
    status, headers, _ = cluster.request("GET", "/auth/v1.0",
                                         headers={"X-Auth-User": user, "X-Auth-Key": key})
    assert status == 200
    return headers["x-auth-token"]


def test_queue_put_get_list_pages_delete(client):
    client.put(QUEUE, "1700000000")
    names = [f"1700000000-AUTH_test/c/o{i}" for i in range(7)]
    for name in names:
        client.put(QUEUE, "1700000000", name, body=b"", headers={"Content-Type": "text/plain"})
    data = [bytes([i]) * 100_000 for i in range(5)]
    etag = client.put(QUEUE, "1700000000", names[0], body=iter(data)).header("etag")
    assert etag.strip('"') == hashlib.md5(b"".join(data)).hexdigest()
    with client.get(QUEUE, "1700000000", names[0]) as resp:
        chunks = list(resp)
    assert len(chunks) > 1 and b"".join(chunks) == b"".join(data)

    pages = list(client.iter_listing_pages(QUEUE, "1700000000", page_size=3))
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [item["name"] for page in pages for item in page] == sorted(names)
    assert [c["name"] for c in client.iter_listing(QUEUE)] == ["1700000000"]

    for name in names:
        assert client.delete(QUEUE, "1700000000", name).status_int == 204
    assert list(client.iter_listing(QUEUE, "1700000000")) == []
    client.delete(QUEUE, "1700000000")
    assert list(client.iter_listing(QUEUE, "1700000000", acceptable={200, 404})) == []
    with pytest.raises(UnexpectedResponse) as err:
        client.get(QUEUE, "1700000000", names[0])
    assert err.value.status_int == 404


@pytest.mark.parametrize("forged", [{}, {"X-Objstore-System-Request": "true"},
                                    {"Objstore.System_Request": "True"},
                                    {"X-Objstore-System_Request": "1"}])
def test_clients_cannot_reach_the_hidden_accounts(cluster, client, forged):
    client.put(AUTH_STORE, "test")
    client.put(AUTH_STORE, "test", "tester", body=b'{"key": "hash"}')
    for who in ({"X-Auth-Token": token(cluster)}, {"X-Auth-Token": token(cluster, "admin:admin",
                                                                           "admin")}):
        for method, path, body in [("GET", f"/v1/{AUTH_STORE}/test/tester", None),
                                   ("PUT", f"/v1/{AUTH_STORE}/test/tester", b"mine now"),
                                   ("DELETE", f"/v1/{AUTH_STORE}/test/tester", None),
                                   ("GET", f"/v1/{QUEUE}", None),
                                   ("PUT", f"/v1/{QUEUE}/evil", None)]:
            status, _, _ = cluster.request(method, path, body, headers={**who, **forged})
            assert status == 403, (method, path, who, forged)
    status, _, _ = cluster.request("GET", f"/v1/{AUTH_STORE}/test/tester", headers=forged)
    assert status == 401
    with client.get(AUTH_STORE, "test", "tester") as resp:
        assert b"".join(resp) == b'{"key": "hash"}'
    assert client.head(QUEUE, "evil", acceptable={404}).status_int == 404
