"""objstore-recon: servers from the rings, handoffs counted against the ring, the text report."""
from replicator.recon.cli import render
from replicator.recon.cluster import StorageServer, handoffs_left, ring_servers


class FakeRing:
    """A ring of 4 partitions on devices 0 (d1) and 1 (d2) of one server, and 2 (d3) of another."""

    partition_count = 4
    devs = [{"id": 0, "ip": "127.0.0.1", "port": 6200, "device": "d1"},
            {"id": 1, "ip": "127.0.0.1", "port": 6200, "device": "d2"},
            None,  # a removed device
            {"id": 3, "ip": "127.0.0.2", "port": 6200, "device": "d3"}]
    primaries = {0: [0, 3], 1: [1, 3], 2: [0, 1], 3: [3, 1]}

    def get_part_nodes(self, part):
        return [self.devs[i] for i in self.primaries[part]]


def test_ring_servers_group_devices_by_address():
    servers = ring_servers("object", FakeRing())
    assert [(s.address, [d["device"] for d in s.devices]) for s in servers] == [
        ("127.0.0.1:6200", ["d1", "d2"]), ("127.0.0.2:6200", ["d3"])]


def test_handoffs_are_partitions_whose_primaries_leave_out_the_device():
    ring = FakeRing()
    server = ring_servers("object", ring)[0]
    partitions = {"d1": {"objects": [0, 1, 2, 3, 9]},  # 1 and 3 are not d1's; 9 is past the ring
                  "d2": {"objects": [1, 2, 3], "objects-7": [0]}}  # no policy 7: not counted
    assert handoffs_left(server, partitions, {"objects": ring}) == 3
    assert handoffs_left(server, {}, {"objects": ring}) == 0
    gone = StorageServer("object", "127.0.0.9", 6200, [{"device": "d9"}])  # not in the ring
    assert handoffs_left(gone, {"d9": {"objects": [0, 1]}}, {"objects": ring}) == 2


def test_db_handoffs_are_counted_against_their_own_ring():
    ring = FakeRing()
    server = ring_servers("container", ring)[0]
    partitions = {"d1": {"containers": [0, 1, 2, 3]}, "d2": {"containers": [0]}}
    assert handoffs_left(server, partitions, {"containers": ring}) == 3  # 1, 3 on d1; 0 on d2
    assert handoffs_left(server, partitions, {"accounts": ring}) == 0  # another ring's key


def test_render_shows_every_server_and_check():
    last = {"finished": 1000.0, "duration": 1.25, "outcome": "done", "counters": {}, "to_sync": 2}
    report = {
        "object": {"127.0.0.1:6200": {"devices": ["d1"],
                                      "replication": {"last_pass": last, "handoffs_left": 5},
                                      "async": 3, "quarantined": 1}},
        "container": {"127.0.0.1:6201": {"devices": ["d1"], "replication": {"last_pass": None},
                                         "quarantined": {"error": "127.0.0.1:6201: refused"}}},
        "account": {},
    }
    text = render(report, now=1010.0)
    assert "object servers (1):\n  127.0.0.1:6200 (d1)\n" in text
    assert "done in 1.25s, 2 still to sync, 5 handoff partitions left" in text
    assert "(10s ago)" in text
    assert "    async: 3 pending\n    quarantined: 1 objects" in text
    assert "    replication: no pass finished yet\n    quarantined: unreachable" in text
    assert text.endswith("account servers (0):")
