"""The object controller is picked by the container's policy type, and a
putter set decides what each node receives of the body."""
import pytest

from objstore.common.policies import ERASURE_CODING, POLICY_TYPES, REPLICATION
from proxy.controllers.obj import OBJECT_CONTROLLERS, ReplicatedObjectController
from proxy.controllers.putters import ReplicaPutters, UploadError
from proxy.http import Request
from tests.unit.proxy_fakes import call, make_app, make_conf


def key(node):
    return f"{node['ip']}:{node['port']}/{node['device']}"


def ec_conf():
    conf = make_conf()
    conf["storage-policy:3"] = {"name": "ec21", "policy_type": ERASURE_CODING,
                                "ec_type": "liberasurecode_rs_vand",
                                "ec_num_data_fragments": "2", "ec_num_parity_fragments": "1"}
    return conf


@pytest.fixture
def proxy():
    app, cluster = make_app(ec_conf())
    assert call(app, "/v1/AUTH_a/rep", "PUT").status_int == 201
    assert call(app, "/v1/AUTH_a/ec", "PUT", **{"X-Storage-Policy": "ec21"}).status_int == 201
    return app, cluster


def controller_for(app, path):
    return app.parse_path(Request({"REQUEST_METHOD": "GET", "PATH_INFO": path}))


def test_every_policy_type_has_an_object_controller():
    assert set(OBJECT_CONTROLLERS) == set(POLICY_TYPES)


def test_object_requests_are_routed_by_the_containers_policy_type(proxy, monkeypatch):
    app, _ = proxy

    class ErasureCoded(ReplicatedObjectController):
        pass

    monkeypatch.setitem(OBJECT_CONTROLLERS, ERASURE_CODING, ErasureCoded)
    assert type(controller_for(app, "/v1/AUTH_a/ec/o")) is ErasureCoded
    assert type(controller_for(app, "/v1/AUTH_a/rep/o")) is OBJECT_CONTROLLERS[REPLICATION]


def test_an_unknown_policy_in_the_container_is_a_503(proxy):
    app, cluster = proxy
    for node in app.rings["container"].get_nodes("AUTH_a", "rep")[1]:
        cluster.node(key(node)).records["/AUTH_a/rep"].headers[
            "x-backend-storage-policy-index"] = "9"
    app.container_cache.pop("container/AUTH_a/rep")
    resp = call(app, "/v1/AUTH_a/rep/o")
    assert resp.status_int == 503 and b"storage policy 9" in resp.body


@pytest.mark.parametrize("body", [b"small", b"x" * 200000])
def test_erasure_coded_policies_are_never_stored_as_whole_replicas(proxy, body):
    app, cluster = proxy
    call(app, "/v1/AUTH_a/ec/o", "PUT", body)
    _, nodes = app.rings["object"].get_nodes("AUTH_a", "ec", "o")
    stored = [cluster.node(key(n)).records.get("/AUTH_a/ec/o") for n in nodes]
    assert all(record is None or record.body != body for record in stored)


def upload(app, cluster, faults=()):
    """Open uploads of one object to its three primaries through the app's
    FanOut, with ``faults`` on primaries 0, 1, ... (as nodes see them on connect)."""
    ring = app.rings["object"]
    part, primaries = ring.get_nodes("AUTH_a", "rep", "o")
    for node, fault in zip(primaries, faults):
        cluster.faults[key(node)] = fault
    headers = {"X-Timestamp": "1700000000.00000", "Transfer-Encoding": "chunked",
               "Expect": "100-continue"}
    fanout = app.fanout
    putters, refusals = ReplicaPutters.connect(fanout, fanout.nodes(ring, part).per_replica(),
                                               f"/{part}/AUTH_a/rep/o", [headers] * 3, 2)
    return primaries, putters, refusals


def test_replica_putters_send_every_node_the_same_bytes(proxy):
    app, cluster = proxy
    primaries, putters, refusals = upload(app, cluster)
    assert len(putters) == 3 and refusals == []
    for chunk in (b"abc", b"def"):
        putters.send_chunk(chunk)
    putters.finish()
    assert [r.status for r in putters.responses()] == [201] * 3
    assert {cluster.node(key(n)).records["/AUTH_a/rep/o"].body for n in primaries} == {b"abcdef"}


def test_replica_putters_drop_failed_nodes_and_give_up_below_quorum(proxy):
    app, cluster = proxy
    primaries, putters, _ = upload(app, cluster, faults=("send", "send"))
    with pytest.raises(UploadError) as raised:
        putters.send_chunk(b"abc")
    assert raised.value.response.status == 503
    assert len(putters) == 1
    assert all(app.fanout.error_limiter._stats.get(key(n)) for n in primaries[:2])


def test_a_refusal_is_kept_and_a_bad_disk_goes_to_a_handoff(proxy):
    app, cluster = proxy
    primaries, putters, refusals = upload(app, cluster, faults=(409, 507))
    assert [r.status for r in refusals] == [409]
    handoff = next(app.rings["object"].get_more_nodes(app.rings["object"].get_part(
        "AUTH_a", "rep", "o")))
    assert {key(p.node) for p in putters.putters} == {key(primaries[2]), key(handoff)}
