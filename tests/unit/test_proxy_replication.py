"""Quorum, handoffs, read failover, X-Newest and error limiting, with injected faults."""
import time

import pytest

from objstore.common.fanout import BackendResult, best_result
from objstore.common.policies import majority
from tests.unit.proxy_fakes import call, make_app, make_conf


def key(node):
    return f"{node['ip']}:{node['port']}/{node['device']}"


@pytest.fixture
def proxy():
    app, cluster = make_app()
    assert call(app, "/v1/AUTH_a/c", "PUT").status_int == 201
    return app, cluster


def object_nodes(app, name="o"):
    ring = app.rings["object"]
    part, nodes = ring.get_nodes("AUTH_a", "c", name)
    return nodes, list(ring.get_more_nodes(part))


def stored_on(cluster, node, name="o"):
    rec = cluster.node(key(node)).records.get(f"/AUTH_a/c/{name}")
    return rec is not None and not rec.deleted


def test_quorum_size():
    assert [majority(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


def test_best_result_needs_a_quorum_of_one_class():
    ok, missing, err = BackendResult(201, {}), BackendResult(404, {}), BackendResult(503, {})
    quorum = majority(3)
    assert best_result([ok, ok, err], quorum).status == 201
    assert best_result([ok, missing, err], quorum).status == 503
    assert best_result([missing, missing, ok], quorum).status == 404
    assert best_result([ok], quorum).status == 503


SMALL, LARGE = b"data", b"x" * 200000  # one packet / streamed with 100-continue


@pytest.mark.parametrize("body", [SMALL, LARGE])
@pytest.mark.parametrize("fault", ["refuse", "timeout", 507, 503])
def test_put_uses_handoff_when_a_primary_fails(proxy, fault, body):
    app, cluster = proxy
    primaries, handoffs = object_nodes(app)
    cluster.faults[key(primaries[1])] = fault
    assert call(app, "/v1/AUTH_a/c/o", "PUT", body).status_int == 201
    assert stored_on(cluster, primaries[0]) and stored_on(cluster, primaries[2])
    assert not stored_on(cluster, primaries[1])
    assert stored_on(cluster, handoffs[0])
    handoff_put = [r for r in cluster.requests("PUT") if r[1] == key(handoffs[0])][0][3]
    # the handoff names the container replica the failed primary would have updated
    _, cont_nodes = app.rings["container"].get_nodes("AUTH_a", "c")
    assert handoff_put["x-container-device"] == cont_nodes[1]["device"]


@pytest.mark.parametrize("body", [SMALL, LARGE])
def test_put_fails_without_quorum(proxy, body):
    app, cluster = proxy
    primaries, handoffs = object_nodes(app)
    for node in primaries[:2] + handoffs:
        cluster.faults[key(node)] = "refuse"
    resp = call(app, "/v1/AUTH_a/c/o", "PUT", body)
    assert resp.status_int == 503


def test_put_survives_one_node_failing_mid_upload(proxy):
    app, cluster = proxy
    primaries, _ = object_nodes(app)
    cluster.faults[key(primaries[0])] = "send"
    assert call(app, "/v1/AUTH_a/c/o", "PUT", LARGE).status_int == 201
    cluster.faults[key(primaries[1])] = "send"
    assert call(app, "/v1/AUTH_a/c/o", "PUT", LARGE).status_int == 503


@pytest.mark.parametrize("body", [SMALL, LARGE])
def test_put_refused_by_quorum_is_passed_on(proxy, body):
    app, cluster = proxy
    call(app, "/v1/AUTH_a/c/o", "PUT", body)
    resp = call(app, "/v1/AUTH_a/c/o", "PUT", body, **{"If-None-Match": "*"})
    assert resp.status_int == 412
    resp = call(app, "/v1/AUTH_a/c/o", "PUT", body, ETag="0" * 32)
    assert resp.status_int == 422


def test_get_fails_over_to_the_next_replica(proxy):
    app, cluster = proxy
    call(app, "/v1/AUTH_a/c/o", "PUT", b"data")
    primaries, _ = object_nodes(app)
    cluster.faults[key(primaries[0])] = "timeout"
    cluster.faults[key(primaries[1])] = 500
    resp = call(app, "/v1/AUTH_a/c/o")
    assert resp.status_int == 200 and resp.body == b"data"


def test_get_all_replicas_down_is_503_and_missing_is_404(proxy):
    app, cluster = proxy
    assert call(app, "/v1/AUTH_a/c/nothing").status_int == 404
    primaries, _ = object_nodes(app, "nothing")
    # every primary answered 404: no handoff is asked
    asked = {r[1] for r in cluster.requests("GET") if r[2].endswith("/nothing")}
    assert asked == {key(n) for n in primaries}
    call(app, "/v1/AUTH_a/c/o", "PUT", b"data")
    primaries, handoffs = object_nodes(app)
    for node in primaries + handoffs:
        cluster.faults[key(node)] = "refuse"
    assert call(app, "/v1/AUTH_a/c/o").status_int == 503


def test_object_on_a_handoff_is_found_after_primary_errors(proxy):
    app, cluster = proxy
    primaries, handoffs = object_nodes(app)
    cluster.faults[key(primaries[0])] = 507
    call(app, "/v1/AUTH_a/c/o", "PUT", b"data")
    cluster.faults.clear()
    app.fanout.error_limiter._stats.clear()
    for node in primaries[1:]:
        cluster.node(key(node)).records.clear()
    cluster.faults[key(primaries[1])] = 503
    resp = call(app, "/v1/AUTH_a/c/o")
    assert resp.status_int == 200 and resp.body == b"data"


def test_get_resumes_mid_body_from_another_replica(proxy):
    app, cluster = proxy
    data = bytes(range(256)) * 1000
    call(app, "/v1/AUTH_a/c/o", "PUT", data)
    primaries, _ = object_nodes(app)
    cluster.faults[key(primaries[0])] = ("break", 70000)
    resp = call(app, "/v1/AUTH_a/c/o")
    assert resp.status_int == 200
    assert resp.body == data
    ranges = [r[3].get("range") for r in cluster.requests("GET") if r[2].endswith("/c/o")]
    assert "bytes=70000-255999" in ranges


def test_get_cannot_resume_without_other_replicas(proxy):
    app, cluster = proxy
    data = b"x" * 200000
    call(app, "/v1/AUTH_a/c/o", "PUT", data)
    primaries, handoffs = object_nodes(app)
    cluster.faults[key(primaries[0])] = ("break", 70000)
    for node in primaries[1:] + handoffs:
        cluster.faults[key(node)] = "refuse"
    with pytest.raises(Exception):
        call(app, "/v1/AUTH_a/c/o").body


def test_x_newest_returns_the_newest_replica(proxy):
    app, cluster = proxy
    call(app, "/v1/AUTH_a/c/o", "PUT", b"old")
    primaries, _ = object_nodes(app)
    cluster.faults[key(primaries[0])] = "refuse"
    call(app, "/v1/AUTH_a/c/o", "PUT", b"new")  # primary 0 still has "old"
    cluster.faults.clear()
    app.fanout.error_limiter._stats.clear()
    assert call(app, "/v1/AUTH_a/c/o").body == b"old"
    assert call(app, "/v1/AUTH_a/c/o", **{"X-Newest": "true"}).body == b"new"


def write_while_down(app, cluster, down, method, body=b""):
    """``method`` on the object while the nodes ``down`` refuse connections."""
    for node in down:
        cluster.faults[key(node)] = "refuse"
    assert call(app, "/v1/AUTH_a/c/o", method, body).status_int // 100 == 2
    cluster.faults.clear()
    app.fanout.error_limiter._stats.clear()


def test_x_newest_answers_404_when_the_newest_replica_is_a_tombstone(proxy):
    app, cluster = proxy
    call(app, "/v1/AUTH_a/c/o", "PUT", b"old")
    primaries, _ = object_nodes(app)
    write_while_down(app, cluster, primaries[:1], "DELETE")  # primary 0 missed it
    assert call(app, "/v1/AUTH_a/c/o").body == b"old"  # nothing newer seen yet
    assert call(app, "/v1/AUTH_a/c/o", **{"X-Newest": "true"}).status_int == 404
    assert call(app, "/v1/AUTH_a/c/o", "HEAD", **{"X-Newest": "true"}).status_int == 404


def test_get_never_answers_older_than_a_tombstone_it_saw(proxy):
    app, cluster = proxy
    call(app, "/v1/AUTH_a/c/o", "PUT", b"old")
    primaries, _ = object_nodes(app)
    write_while_down(app, cluster, primaries[1:2], "DELETE")
    # primary 0's tombstone is seen first: primary 1's older copy is not an answer
    assert call(app, "/v1/AUTH_a/c/o").status_int == 404
    assert call(app, "/v1/AUTH_a/c/o", "HEAD").status_int == 404
    asked = [r[1] for r in cluster.requests("GET") if r[2].endswith("/c/o")]
    assert asked[-3:] == [key(n) for n in primaries]


def test_get_after_a_tombstone_keeps_looking_for_a_newer_version(proxy):
    app, cluster = proxy
    call(app, "/v1/AUTH_a/c/o", "PUT", b"old")
    primaries, _ = object_nodes(app)
    write_while_down(app, cluster, primaries[1:2], "DELETE")  # primary 1 keeps "old"
    write_while_down(app, cluster, primaries[:2], "PUT", b"new")  # only primary 2 has it
    assert call(app, "/v1/AUTH_a/c/o").body == b"new"
    assert call(app, "/v1/AUTH_a/c/o", **{"X-Newest": "true"}).body == b"new"


def test_error_limited_node_is_skipped():
    app, cluster = make_app(make_conf(error_suppression_limit="2",
                                      error_suppression_interval="60"))
    call(app, "/v1/AUTH_a/c", "PUT")
    call(app, "/v1/AUTH_a/c/o", "PUT", b"data")
    primaries, _ = object_nodes(app)
    cluster.faults[key(primaries[0])] = "timeout"
    for _ in range(3):
        assert call(app, "/v1/AUTH_a/c/o").status_int == 200
    assert app.fanout.error_limiter.is_limited(primaries[0])
    before = len([r for r in cluster.requests_log if r[1] == key(primaries[0])])
    assert call(app, "/v1/AUTH_a/c/o").status_int == 200
    after = len([r for r in cluster.requests_log if r[1] == key(primaries[0])])
    assert after == before


def test_507_error_limits_at_once(proxy):
    app, cluster = proxy
    primaries, _ = object_nodes(app)
    cluster.faults[key(primaries[2])] = 507
    call(app, "/v1/AUTH_a/c/o", "PUT", b"data")
    assert app.fanout.error_limiter.is_limited(primaries[2])


def test_container_put_fails_over_to_handoff(proxy):
    app, cluster = proxy
    ring = app.rings["container"]
    part, nodes = ring.get_nodes("AUTH_a", "d")
    cluster.faults[key(nodes[0])] = "refuse"
    assert call(app, "/v1/AUTH_a/d", "PUT").status_int == 201
    handoff = next(ring.get_more_nodes(part))
    assert cluster.node(key(handoff)).records.get("/AUTH_a/d") is not None


def test_one_timestamp_for_all_replicas_of_a_delete(proxy):
    app, cluster = proxy
    call(app, "/v1/AUTH_a/c/o", "PUT", b"data")
    call(app, "/v1/AUTH_a/c/o", "DELETE")
    stamps = {r[3]["x-timestamp"] for r in cluster.requests("DELETE")}
    assert len(stamps) == 1


@pytest.mark.parametrize("body", [SMALL, LARGE])
def test_put_answers_soon_after_a_quorum(body):
    app, cluster = make_app(make_conf(post_quorum_timeout="0.05"))
    call(app, "/v1/AUTH_a/c", "PUT")
    primaries, _ = object_nodes(app)
    cluster.faults[key(primaries[2])] = "slow"
    started = time.monotonic()
    assert call(app, "/v1/AUTH_a/c/o", "PUT", body).status_int == 201
    assert time.monotonic() - started < 1.5


def test_reads_are_spread_over_all_primaries_by_default():
    app, cluster = make_app(make_conf(sorting_method="shuffle"))
    call(app, "/v1/AUTH_a/c", "PUT")
    call(app, "/v1/AUTH_a/c/o", "PUT", b"data")
    primaries, _ = object_nodes(app)
    cluster.requests_log.clear()
    for _ in range(60):
        assert call(app, "/v1/AUTH_a/c/o").body == b"data"
    asked = {r[1] for r in cluster.requests(method="GET") if r[2].endswith("/AUTH_a/c/o")}
    assert asked == {key(node) for node in primaries}


def test_unknown_sorting_method_is_a_config_error():
    from objstore.common.config import ConfigError
    with pytest.raises(ConfigError):
        make_app(make_conf(sorting_method="fastest"))


@pytest.mark.parametrize("body", [SMALL, LARGE])
def test_a_503_says_how_many_object_servers_answered(proxy, body):
    app, cluster = proxy
    primaries, handoffs = object_nodes(app)
    for node in primaries[1:] + handoffs:
        cluster.faults[key(node)] = "refuse"
    resp = call(app, "/v1/AUTH_a/c/o", "PUT", body)
    assert resp.status_int == 503
    assert resp.body == b"Object PUT: only 1 of 3 object servers answered\n"
    cluster.faults[key(primaries[0])] = "refuse"
    resp = call(app, "/v1/AUTH_a/c/o")
    assert resp.status_int == 503 and resp.body == b"Object GET: no object server answered\n"


def test_a_503_for_container_info_names_the_container_servers(proxy):
    app, cluster = proxy
    ring = app.rings["container"]
    part, nodes = ring.get_nodes("AUTH_a", "other")
    for node in nodes + list(ring.get_more_nodes(part)):
        cluster.faults[key(node)] = "refuse"
    resp = call(app, "/v1/AUTH_a/other/o", "PUT", b"x")
    assert resp.status_int == 503
    assert resp.body == b"Container info unavailable: no container server answered\n"


def test_a_delete_counts_404s_with_204s_since_both_store_the_tombstone(proxy):
    app, cluster = proxy
    primaries, handoffs = object_nodes(app)
    write_while_down(app, cluster, primaries[:1], "PUT", b"data")  # primary 0 never had it
    cluster.faults[key(primaries[1])] = "refuse"
    for node in handoffs:
        cluster.faults[key(node)] = "refuse"
    assert call(app, "/v1/AUTH_a/c/o", "DELETE").status_int == 204  # a 404 and a 204
    assert call(app, "/v1/AUTH_a/c/gone", "DELETE").status_int == 404  # only 404s
