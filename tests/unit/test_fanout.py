"""The fan-out used on its own, as a replicator would: a ring, a partition, a
policy's quorum, a connector; no proxy Application and no client request."""
import time

import eventlet
import pytest

from objstore.common.error_limiter import ErrorLimiter
from objstore.common.fanout import BackendResult, FanOut, best_result
from objstore.common.logs import bind_txn_id, current_txn_id, get_logger
from objstore.common.policies import ERASURE_CODING, StoragePolicy
from tests.unit.proxy_fakes import FakeCluster, FakeRing

LOGGER = get_logger("fanout-test", "CRITICAL")
REPLICATED = StoragePolicy(0, "gold")
EC = StoragePolicy(1, "ec42", ERASURE_CODING, ec_type="liberasurecode_rs_vand",
                   ec_ndata=4, ec_nparity=2)


def key(node):
    return f"{node['ip']}:{node['port']}/{node['device']}"


def make_fanout(cluster=None, **options):
    cluster = cluster or FakeCluster()
    limiter = ErrorLimiter(2, 60.0, LOGGER)
    return FanOut(cluster.connect, limiter, LOGGER, **options), cluster


def put_account(fanout, ring, part, quorum):
    """An account PUT (the simplest write the fake nodes know) to every replica."""
    headers = {"X-Timestamp": "1700000000.00000"}
    return fanout.make_requests("PUT", ring, part, f"/{part}/a", [headers] * 3, quorum)


def test_quorum_comes_from_the_policy():
    assert [REPLICATED.quorum(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    assert EC.quorum(6) == 5  # ec_num_data_fragments + 1


def test_a_write_succeeds_with_the_policys_quorum_and_fails_below_it():
    ring = FakeRing(replicas=3, devices=3)  # no handoffs to take over
    fanout, cluster = make_fanout()
    part = 5
    cluster.faults[key(ring.get_part_nodes(part)[0])] = "refuse"
    assert put_account(fanout, ring, part, REPLICATED.quorum(3)).status == 201
    assert put_account(fanout, ring, part, 3).status == 503


def test_nodes_are_primaries_then_as_many_handoffs_in_ring_order():
    ring = FakeRing(replicas=3, devices=8)
    fanout, _ = make_fanout()
    part = 2
    handoffs = list(ring.get_more_nodes(part))[:3]
    assert [key(n) for n in fanout.nodes(ring, part)] == \
        [key(n) for n in ring.get_part_nodes(part) + handoffs]


def test_handoffs_are_read_lazily():
    ring = FakeRing(replicas=3, devices=8)
    fanout, _ = make_fanout()
    drawn = []

    def more_nodes(part):
        for node in FakeRing.get_more_nodes(ring, part):
            drawn.append(node)
            yield node

    ring.get_more_nodes = more_nodes
    nodes = iter(fanout.nodes(ring, 0))
    for _ in range(4):
        next(nodes)
    assert len(drawn) == 1


def test_error_limited_nodes_are_skipped_and_not_asked():
    ring = FakeRing(replicas=3, devices=6)
    fanout, cluster = make_fanout()
    part = 1
    primaries, handoff = ring.get_part_nodes(part), next(ring.get_more_nodes(part))
    fanout.error_limiter.limit_now(primaries[1], "test")
    assert [key(n) for n in fanout.nodes(ring, part).primary_nodes()] == \
        [key(primaries[0]), key(primaries[2])]
    assert put_account(fanout, ring, part, 2).status == 201
    asked = [r[1] for r in cluster.requests("PUT")]
    assert key(primaries[1]) not in asked
    assert key(handoff) in asked  # replica 1 went to the first handoff


def test_each_replica_fails_over_to_the_next_unused_handoff():
    ring = FakeRing(replicas=3, devices=6)
    fanout, cluster = make_fanout()
    part = 3
    primaries, handoffs = ring.get_part_nodes(part), list(ring.get_more_nodes(part))
    for fault, node in zip(("refuse", 507, 503), primaries[:2] + handoffs[:1]):
        cluster.faults[key(node)] = fault
    assert put_account(fanout, ring, part, 2).status == 201
    stored = {r[1] for r in cluster.requests("PUT")} - set(cluster.faults)
    assert stored == {key(primaries[2]), key(handoffs[1]), key(handoffs[2])}
    assert fanout.error_limiter.is_limited(primaries[1])  # a 507 limits at once


def test_reads_follow_ring_order_unless_shuffled():
    ring = FakeRing(replicas=3, devices=6)
    part = 4
    primaries = [key(n) for n in ring.get_part_nodes(part)]
    fanout, _ = make_fanout()
    assert [key(n) for n in fanout.read_nodes(ring, part).primary_nodes()] == primaries
    shuffled, _ = make_fanout(shuffle_reads=True)
    orders = {tuple(key(n) for n in shuffled.read_nodes(ring, part).primary_nodes())
              for _ in range(50)}
    assert len(orders) > 1 and all(sorted(order) == sorted(primaries) for order in orders)


def test_best_result_is_the_quorums_class_most_common_status_ties_to_the_highest():
    created, accepted = BackendResult(201, {}), BackendResult(202, {})
    missing, failed = BackendResult(404, {}), BackendResult(503, {})
    assert best_result([accepted, created, created], 2).status == 201
    assert best_result([accepted, created, missing], 2).status == 202
    assert best_result([missing, created, failed], 2).status == 503
    assert best_result([missing, missing], 2).status == 404
    assert best_result([created] * 4 + [missing], 5).status == 503


def test_gather_returns_soon_after_a_quorum_agrees():
    fanout, _ = make_fanout(post_quorum_timeout=0.05)
    slow_done = []

    def slow():
        eventlet.sleep(5)
        slow_done.append(True)
        return BackendResult(201, {})

    started = time.monotonic()
    results = fanout.gather([lambda: BackendResult(201, {}), lambda: BackendResult(201, {}), slow],
                            quorum=2)
    assert time.monotonic() - started < 2
    assert [r.status for r in results] == [201, 201] and not slow_done


def test_gather_waits_for_every_call_until_a_quorum_agrees():
    fanout, _ = make_fanout(post_quorum_timeout=0.01)

    def late(status):
        def call():
            eventlet.sleep(0.1)
            return BackendResult(status, {})
        return call

    results = fanout.gather([lambda: BackendResult(201, {}), lambda: BackendResult(404, {}),
                             late(201)], quorum=2)
    assert sorted(r.status for r in results) == [201, 201, 404]


def test_gather_passes_the_transaction_id_on_and_drops_failed_calls():
    fanout, _ = make_fanout()

    def broken():
        raise RuntimeError("a bug")

    bind_txn_id("tx-fanout-test")
    try:
        assert fanout.gather([current_txn_id, current_txn_id, lambda: None, broken]) == \
            ["tx-fanout-test"] * 2
    finally:
        bind_txn_id("-")


@pytest.mark.parametrize("fault", ["refuse", "timeout", 500, 507])
def test_request_one_moves_on_from_a_failed_node(fault):
    ring = FakeRing(replicas=3, devices=3)
    fanout, cluster = make_fanout()
    first, second, _ = ring.get_part_nodes(0)
    cluster.faults[key(first)] = fault
    result = fanout.request_one(iter([first, second]), "PUT", "/0/a",
                                {"X-Timestamp": "1700000000.00000"})
    assert result.status == 201
    assert cluster.node(key(second)).records.get("/a") is not None


def test_a_write_without_quorum_says_which_servers_did_not_answer():
    ring = FakeRing(replicas=3, devices=3)
    fanout, cluster = make_fanout()
    for node in ring.get_part_nodes(0)[1:]:
        cluster.faults[key(node)] = "refuse"
    result = put_account(fanout, ring, 0, 2)
    assert result.status == 503
    assert result.body == b"Account PUT: only 1 of 3 account servers answered"
    cluster.faults.clear()
    cluster.faults[key(ring.get_part_nodes(0)[0])] = "refuse"
    cluster.faults[key(ring.get_part_nodes(0)[1])] = 409  # an answer, not a failure
    assert put_account(fanout, ring, 0, 2).body == \
        b"Account PUT: 2 of 3 account servers answered but no 2 agreed (201, 409)"
