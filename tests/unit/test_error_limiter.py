"""The error limiter's half-open suppression and the node iterator's quorum
fallback, on a fake clock: a node that answers again is used again within a
probe interval, and suppression never makes a request fail that could succeed."""
from objstore.common.error_limiter import ErrorLimiter
from objstore.common.fanout import FanOut
from objstore.common.logs import get_logger
from tests.unit.proxy_fakes import FakeCluster, FakeRing

LOGGER = get_logger("error-limiter-test", "CRITICAL")
NODE = {"ip": "10.0.0.1", "port": 6200, "device": "sda"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_limiter(limit=2, interval=60.0, probe_interval=2.0):
    clock = FakeClock()
    return ErrorLimiter(limit, interval, LOGGER, probe_interval=probe_interval, clock=clock), clock


def suppress(limiter, node=NODE):
    for _ in range(limiter.limit + 1):
        limiter.error(node, "test")
    assert limiter.is_limited(node)


def test_a_node_is_suppressed_after_more_than_limit_errors():
    limiter, _ = make_limiter(limit=2)
    limiter.error(NODE, "one")
    limiter.error(NODE, "two")
    assert not limiter.is_limited(NODE) and limiter.admit(NODE)
    limiter.error(NODE, "three")
    assert limiter.is_limited(NODE) and not limiter.admit(NODE)


def test_one_probe_per_interval_goes_to_a_suppressed_node():
    limiter, clock = make_limiter(probe_interval=2.0)
    suppress(limiter)
    clock.now += 1.9
    assert not limiter.admit(NODE)
    clock.now += 0.2
    assert limiter.admit(NODE)  # the probe
    assert not limiter.admit(NODE)  # only one until the next interval
    assert limiter.is_limited(NODE)
    clock.now += 2.1
    assert limiter.admit(NODE)  # the probe never reported: another one


def test_a_probes_success_lifts_the_suppression():
    limiter, clock = make_limiter()
    suppress(limiter)
    clock.now += 2.5
    assert limiter.admit(NODE)
    limiter.success(NODE)
    assert not limiter.is_limited(NODE)
    assert all(limiter.admit(NODE) for _ in range(5))
    limiter.error(NODE, "one error after coming back")
    assert not limiter.is_limited(NODE)  # the error streak started again


def test_a_probes_failure_re_arms_it():
    limiter, clock = make_limiter(probe_interval=2.0)
    suppress(limiter)
    clock.now += 2.5
    assert limiter.admit(NODE)
    clock.now += 0.5
    limiter.error(NODE, "probe failed")
    clock.now += 1.9
    assert not limiter.admit(NODE)  # two seconds from the failed probe, not from the grant
    clock.now += 0.2
    assert limiter.admit(NODE)


def test_suppression_ends_after_the_interval_without_errors():
    limiter, clock = make_limiter(interval=60.0, probe_interval=1000.0)
    suppress(limiter)
    clock.now += 59
    assert limiter.is_limited(NODE)
    clock.now += 2
    assert not limiter.is_limited(NODE) and limiter.admit(NODE)


def test_limit_now_suppresses_at_once_and_probes_like_any_other():
    limiter, clock = make_limiter()
    limiter.limit_now(NODE, "507")
    assert not limiter.admit(NODE)
    clock.now += 2.5
    assert limiter.admit(NODE)


# ---- the node iterator's quorum fallback ------------------------------------------

def key(node):
    return f"{node['ip']}:{node['port']}/{node['device']}"


def make_fanout():
    limiter, clock = make_limiter()
    cluster = FakeCluster()
    return FanOut(cluster.connect, limiter, LOGGER), cluster, clock


def put_account(fanout, ring, part, quorum=2):
    headers = {"X-Timestamp": "1700000000.00000"}
    return fanout.make_requests("PUT", ring, part, f"/{part}/a", [headers] * 3, quorum)


def test_suppressed_nodes_are_skipped_while_a_quorum_remains():
    ring = FakeRing(replicas=3, devices=3)  # no handoffs
    fanout, cluster, _ = make_fanout()
    primaries = ring.get_part_nodes(0)
    suppress(fanout.error_limiter, primaries[0])
    assert [key(n) for n in fanout.nodes(ring, 0)] == [key(n) for n in primaries[1:]]
    assert put_account(fanout, ring, 0).status == 201
    assert key(primaries[0]) not in {r[1] for r in cluster.requests("PUT")}


def test_suppressed_nodes_are_tried_when_fewer_than_a_quorum_would_remain():
    ring = FakeRing(replicas=3, devices=3)
    fanout, cluster, _ = make_fanout()
    primaries = ring.get_part_nodes(0)
    for node in primaries[:2]:
        suppress(fanout.error_limiter, node)
    assert fanout.nodes(ring, 0).below_quorum()
    assert [key(n) for n in fanout.nodes(ring, 0)] == \
        [key(n) for n in primaries[2:] + primaries[:2]]
    assert put_account(fanout, ring, 0).status == 201  # both came back meanwhile
    # the first passed-over node made the quorum: the other waits for its probe
    assert {r[1] for r in cluster.requests("PUT")} == {key(n) for n in primaries[::2]}
    assert not fanout.error_limiter.is_limited(primaries[0])
    assert fanout.error_limiter.is_limited(primaries[1])


def test_handoffs_count_towards_the_quorum_before_suppressed_nodes_are_tried():
    ring = FakeRing(replicas=3, devices=6)
    fanout, cluster, _ = make_fanout()
    primaries, handoffs = ring.get_part_nodes(0), list(ring.get_more_nodes(0))
    for node in primaries[:2]:
        suppress(fanout.error_limiter, node)
    assert not fanout.nodes(ring, 0).below_quorum()
    assert put_account(fanout, ring, 0).status == 201
    asked = {r[1] for r in cluster.requests("PUT")}
    assert asked == {key(primaries[2]), key(handoffs[0]), key(handoffs[1])}


def test_a_read_tries_suppressed_nodes_when_no_other_is_left():
    ring = FakeRing(replicas=3, devices=3)
    fanout, _, _ = make_fanout()
    primaries = ring.get_part_nodes(0)
    for node in primaries:
        suppress(fanout.error_limiter, node)
    assert [key(n) for n in fanout.read_nodes(ring, 0)] == [key(n) for n in primaries]
    reader_nodes = fanout.read_nodes(ring, 0)
    assert [key(n) for n in reader_nodes.primary_nodes()] == []
    assert [key(n) for n in reader_nodes.last_resort()] == [key(n) for n in primaries]
    suppressed_two = FanOut(FakeCluster().connect, make_limiter()[0], LOGGER)
    for node in primaries[:2]:
        suppress(suppressed_two.error_limiter, node)
    assert [key(n) for n in suppressed_two.read_nodes(ring, 0)] == [key(primaries[2])]


def test_a_write_after_a_restart_reaches_the_node_on_its_probe():
    ring = FakeRing(replicas=3, devices=3)
    fanout, cluster, clock = make_fanout()
    primaries = ring.get_part_nodes(0)
    suppress(fanout.error_limiter, primaries[0])
    put_account(fanout, ring, 0)
    assert key(primaries[0]) not in {r[1] for r in cluster.requests("PUT")}
    clock.now += 2.5  # the daemon is back: the next write is its probe
    assert put_account(fanout, ring, 0).status // 100 == 2
    assert key(primaries[0]) in {r[1] for r in cluster.requests("PUT")}
    assert not fanout.error_limiter.is_limited(primaries[0])


def test_a_node_that_just_erred_does_not_count_towards_the_quorum():
    """One node suppressed (back up, but not probed yet) and another just
    killed: the write goes to the suppressed node instead of failing, even
    the first one to meet the dead node."""
    ring = FakeRing(replicas=3, devices=3)
    fanout, cluster, clock = make_fanout()
    primaries = ring.get_part_nodes(0)
    suppress(fanout.error_limiter, primaries[0])
    cluster.faults[key(primaries[1])] = "refuse"
    assert not fanout.nodes(ring, 0).below_quorum()
    # replica 1 meets the dead node, then takes the suppressed one that replica 0 passed over
    assert put_account(fanout, ring, 0).status // 100 == 2
    assert fanout.error_limiter.is_failing(primaries[1])
    assert not fanout.error_limiter.is_limited(primaries[0])
    clock.now += 2.5
    assert not fanout.error_limiter.is_failing(primaries[1])  # an old error is forgiven
