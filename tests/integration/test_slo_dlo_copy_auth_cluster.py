"""tempauth, SLO, DLO and copy through real daemons: 2 nodes, 2 replicas, a proxy
with 2 worker processes (so tokens must validate in whichever worker answers)."""
import hashlib
import json

import pytest

from tests.cluster import Cluster
from tests.support import wait_for

URL = "/v1/AUTH_test"
PIPELINE = "catch_errors gatekeeper healthcheck tempauth copy dlo slo proxy-server"
USERS = {"user_test_tester": "testing .admin", "user_test_tester3": "testing3"}


@pytest.fixture(scope="module")
def cluster():
    with Cluster(nodes=2, replicas=2, pipeline=PIPELINE, proxy_options={"workers": "2", "recheck_container_existence": "1"},
                 extra_sections={"filter:tempauth": USERS}) as running:
        yield running


def auth(cluster, user="test:tester", key="testing") -> dict[str, str]:
    status, headers, _ = cluster.request("GET", "/auth/v1.0",
                                         headers={"X-Auth-User": user, "X-Auth-Key": key})
    assert status == 200
    assert headers["x-storage-url"].endswith(URL)
    return {"X-Auth-Token": headers["x-auth-token"]}


def test_tokens_and_acls_across_workers(cluster):
    req = cluster.request
    admin = auth(cluster)
    # new connections land on either worker: the token must work everywhere
    assert all(req("HEAD", URL, headers=admin)[0] == 204 for _ in range(8))
    assert req("PUT", URL + "/acl", headers=admin)[0] == 201
    assert req("PUT", URL + "/acl/o", b"hi", headers=admin)[0] == 201
    tester3 = auth(cluster, "test:tester3", "testing3")
    assert req("GET", URL + "/acl/o", headers=tester3)[0] == 403
    assert req("GET", URL + "/acl/o")[0] == 401
    assert req("POST", URL + "/acl", headers={**admin, "X-Container-Read": ".r:*"})[0] == 204
    # each worker caches container info (ACLs included) for recheck_container_existence s
    wait_for(lambda: req("GET", URL + "/acl/o")[2] == b"hi", timeout=10, what="public read")
    assert req("GET", URL + "/acl/o", headers={"X-Auth-Token": "AUTH_tkbogus"})[0] == 401
    assert req("GET", "/auth/v1.0", headers={"X-Auth-User": "test:tester", "X-Auth-Key": "no"})[0] == 401


def test_slo_dlo_and_copy(cluster):
    req = cluster.request
    admin = auth(cluster)
    assert req("PUT", URL + "/lo", headers=admin)[0] == 201
    segments, content = [], b""
    for i in range(3):
        data = bytes([48 + i]) * (100_000 + i)
        status, headers, _ = req("PUT", URL + f"/lo/seg/{i:03d}", data, admin)
        assert status == 201
        segments.append({"path": f"/lo/seg/{i:03d}", "etag": headers["etag"], "size_bytes": len(data)})
        content += data

    status, headers, body = req("PUT", URL + "/lo/slo?multipart-manifest=put",
                                json.dumps(segments).encode(), admin)
    assert status == 201, body
    slo_etag = hashlib.md5("".join(s["etag"] for s in segments).encode()).hexdigest()
    assert headers["etag"] == f'"{slo_etag}"'
    status, headers, body = req("GET", URL + "/lo/slo", headers=admin)
    assert status == 200 and body == content and headers["etag"] == f'"{slo_etag}"'
    assert not [h for h in headers if h.startswith("x-object-sysmeta")]
    status, headers, body = req("GET", URL + "/lo/slo", headers={**admin, "Range": "bytes=99990-200010"})
    assert status == 206 and body == content[99990:200011]
    assert req("HEAD", URL + "/lo/slo", headers=admin)[1]["content-length"] == str(len(content))

    def listed_with_total_size():
        entries = json.loads(req("GET", URL + "/lo?format=json&prefix=slo", headers=admin)[2])
        return entries and entries[0]["bytes"] == len(content) and \
            entries[0]["content_type"] == "application/octet-stream"
    wait_for(listed_with_total_size, timeout=10, what="SLO listed with its total size")
    bad = [dict(segments[0], etag="0" * 32)]
    status, _, body = req("PUT", URL + "/lo/bad?multipart-manifest=put", json.dumps(bad).encode(), admin)
    assert status == 400 and b"Etag Mismatch" in body

    status, _, _ = req("PUT", URL + "/lo/dlo", b"", {**admin, "X-Object-Manifest": "lo/seg/"})
    assert status == 201
    status, headers, body = req("GET", URL + "/lo/dlo", headers=admin)
    assert status == 200 and body == content and headers["etag"] == f'"{slo_etag}"'

    status, headers, _ = req("COPY", URL + "/lo/slo", headers={**admin, "Destination": "lo/flat"})
    assert status == 201 and headers["x-copied-from"] == "lo/slo"
    status, headers, body = req("GET", URL + "/lo/flat", headers=admin)
    assert body == content and headers["etag"] == hashlib.md5(content).hexdigest()

    status, _, body = req("DELETE", URL + "/lo/slo?multipart-manifest=delete",
                          headers={**admin, "Accept": "application/json"})
    assert status == 200 and json.loads(body)["Number Deleted"] == 4
    assert req("GET", URL + "/lo/seg/000", headers=admin)[0] == 404
