"""GET /recon/<check> on a storage server: answered from the node's stats files and devices."""
import configparser
import io
import json
import logging

import pytest
from webob import Request

from objstore.account.server import app_factory as account_app
from objstore.container.server import app_factory as container_app
from objstore.common.recon import Recon, describe_last_pass, server_recon, still_to_sync
from tests.unit.obj_helpers import make_app
from tests.unit.test_container_server import make_conf


def inner_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"the server itself"]


def call(app, path, method="GET"):
    status = []
    environ = {"PATH_INFO": path, "REQUEST_METHOD": method, "wsgi.input": io.BytesIO()}
    body = b"".join(app(environ, lambda line, headers: status.append(line)))
    return status[0], body


def get_json(app, path):
    status, body = call(app, path)
    assert status == "200 OK", (path, status, body)
    return json.loads(body)


@pytest.fixture
def node(tmp_path):
    """A node config (stats under recon/, devices under nodes/) and its recon app."""
    conf = configparser.ConfigParser(interpolation=None)
    conf["objstore"] = {"recon_cache_path": str(tmp_path / "recon")}
    conf["object-server"] = {"devices": str(tmp_path / "nodes")}
    conf["object-updater"] = {"stats_file": str(tmp_path / "elsewhere" / "updater.json")}
    (tmp_path / "recon").mkdir()
    (tmp_path / "nodes" / "d1").mkdir(parents=True)
    (tmp_path / "nodes" / "d2").mkdir()
    (tmp_path / "nodes" / "not-a-device").write_text("")
    return tmp_path, server_recon(inner_app, conf, "object-server")


def write_stats(path, last_pass):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"daemon": path.stem, "last_pass": last_pass, "totals": {}}))


def make_files(base, *relative):
    for rel in relative:
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")


def test_other_paths_reach_the_server(node):
    _, app = node
    assert call(app, "/d1/1/a/c/o") == ("200 OK", b"the server itself")
    assert call(app, "/reconnaissance") == ("200 OK", b"the server itself")


@pytest.mark.parametrize("path, daemon, stats_file", [
    ("/recon/replication/object", "object-replicator", "recon/object-replicator.json"),
    ("/recon/replication/container", "container-replicator", "recon/container-replicator.json"),
    ("/recon/replication/account", "account-replicator", "recon/account-replicator.json"),
    ("/recon/auditor/object", "object-auditor", "recon/object-auditor.json"),
    ("/recon/auditor/container", "container-auditor", "recon/container-auditor.json"),
    ("/recon/expirer/object", "object-expirer", "recon/object-expirer.json"),
    ("/recon/updater/object", "object-updater", "elsewhere/updater.json"),  # its own stats_file
])
def test_daemon_checks_answer_the_daemons_stats_file(node, path, daemon, stats_file):
    base, app = node
    assert get_json(app, path) == {"daemon": daemon, "last_pass": None}  # no pass yet
    last = {"finished": 1700000000.5, "duration": 2.5, "outcome": "done", "done": 4, "total": 4,
            "counters": {"failures": 1}}
    write_stats(base / stats_file, last)
    assert get_json(app, path)["last_pass"] == last


def test_async_counts_pendings_of_every_policy_and_device(node):
    base, app = node
    assert get_json(app, "/recon/async") == {"async_pending": 0}
    make_files(base / "nodes", "d1/async_pending/abc/h1-1", "d1/async_pending/abc/h2-1",
               "d1/async_pending/def/h3-1", "d2/async_pending-1/abc/h4-1",
               "d2/objects/5/abc/h5/1.data")
    assert get_json(app, "/recon/async") == {"async_pending": 4}


def test_quarantined_counts_objects_per_policy_containers_and_accounts(node):
    base, app = node
    make_files(base / "nodes", "d1/quarantined/objects/h1/1.data", "d1/quarantined/objects/h2/1.data",
               "d2/quarantined/objects/h3/1.data", "d2/quarantined/objects-1/h4/1.data",
               "d1/quarantined/containers/c1-1.msgpack", "d2/quarantined/accounts/a1-1.msgpack",
               "d2/quarantined/async_pending/p1")
    assert get_json(app, "/recon/quarantined") == {
        "objects": 4, "containers": 1, "accounts": 1, "policies": {"0": 3, "1": 1}}


def test_devices_and_partitions(node):
    base, app = node
    make_files(base / "nodes", "d1/objects/3/abc/h/1.data", "d1/objects/12/abc/h/1.data",
               "d2/objects-1/7/abc/h/1.data", "d2/objects/hashes.pkl", "d2/containers/lmdb/x")
    assert get_json(app, "/recon/devices") == {str(base / "nodes"): ["d1", "d2"]}
    assert get_json(app, "/recon/partitions") == {"d1": {"objects": [3, 12]},
                                                  "d2": {"objects": [], "objects-1": [7]}}


def test_unknown_checks_and_other_methods_are_refused(node):
    _, app = node
    for path in ("/recon/", "/recon/load", "/recon/replication/proxy", "/recon/auditor"):
        assert call(app, path)[0] == "404 Not Found", path
    assert call(app, "/recon/async", "PUT")[0] == "405 Method Not Allowed"
    assert call(app, "/recon/async", "HEAD") == ("200 OK", b"")


def test_an_unreadable_stats_file_is_no_pass_yet(tmp_path):
    conf = configparser.ConfigParser()
    conf["objstore"] = {"recon_cache_path": str(tmp_path)}
    (tmp_path / "object-auditor.json").write_text("{half a docu")
    app = Recon(inner_app, conf, str(tmp_path / "none"))
    assert get_json(app, "/recon/auditor/object") == {"daemon": "object-auditor", "last_pass": None}
    assert get_json(app, "/recon/devices") == {str(tmp_path / "none"): []}


def test_still_to_sync_is_failures_plus_work_never_reached():
    assert still_to_sync({"done": 10, "total": 10, "counters": {"failures": 2}}) == 2
    assert still_to_sync({"done": 4, "total": 10, "counters": {}}) == 6  # stopped early
    assert still_to_sync({"done": 3, "total": None, "counters": {"failed": 1}}) == 1


def test_a_last_pass_is_described_by_when_it_finished_and_how_long_it_took():
    assert describe_last_pass(None, 100.0) == "no pass finished yet"
    text = describe_last_pass({"finished": 90.0, "duration": 1.5, "outcome": "stopped"}, 100.0)
    assert text.endswith(" (10s ago), stopped in 1.50s")


def test_a_db_server_reports_the_partitions_of_its_dbs(tmp_path):
    """For objstore-recon's handoff count: each partition once, whatever its number of DBs."""
    log = logging.getLogger("objstore.test-recon")
    apps = {"containers": container_app(make_conf(tmp_path), log),
            "accounts": account_app(make_conf(tmp_path), log)}
    for key, app in apps.items():
        assert get_json(app, "/recon/partitions") == {}  # no store on the device yet
        for part, name in ((70000, "x"), (3, "y"), (3, "z"), (0, "w")):
            path = f"/sda/{part}/AUTH_{name}" + ("/c" if key == "containers" else "")
            response = Request.blank(path, method="PUT",
                                     headers={"X-Timestamp": "1700000000.00000"}).get_response(app)
            assert response.status_int == 201, (path, response.body)
        assert get_json(app, "/recon/partitions") == {"sda": {key: [0, 3, 70000]}}


def test_every_storage_server_answers_recon_over_its_own_devices(tmp_path):
    log = logging.getLogger("objstore.test-recon")
    apps = {"container": container_app(make_conf(tmp_path), log),
            "account": account_app(make_conf(tmp_path), log),
            "object": make_app(str(tmp_path / "objects-node"))}
    assert get_json(apps["container"], "/recon/devices") == {str(tmp_path / "node"): ["sda"]}
    assert get_json(apps["account"], "/recon/async") == {"async_pending": 0}
    assert get_json(apps["object"], "/recon/devices") == {str(tmp_path / "objects-node"): ["sda"]}
    assert call(apps["object"], "/healthcheck") == ("200 OK", b"OK")
