"""The all-in-one's directory layout, generated configs, ring commands and pid handling."""
import configparser
import json
import os
import socket
import subprocess
import sys

import pytest

from aio import auth_users, cli, layout as lay, processes, rings
from aio.layout import Layout, LayoutError, NodePorts
from tests.support import wait_for


def make_state(nodes=3, replicas=3):
    ports = [NodePorts(7000 + 3 * i, 7001 + 3 * i, 7002 + 3 * i) for i in range(nodes)]
    return lay.new_state(nodes, replicas, 8, 8080, ports)


def read_conf(path):
    conf = configparser.ConfigParser(interpolation=None)
    conf.optionxform = str
    conf.read(path)
    return conf


def test_state_round_trips_and_salt_is_random(tmp_path):
    layout = Layout(str(tmp_path))
    state = make_state()
    layout.save_state(state)
    assert layout.load_state() == state
    assert len(state.hash_path_suffix) == 32
    assert make_state().hash_path_suffix != state.hash_path_suffix


def test_bad_state_file_is_a_clear_error(tmp_path):
    layout = Layout(str(tmp_path))
    with pytest.raises(LayoutError, match="objstore-aio start"):
        layout.load_state()
    (tmp_path / lay.STATE_FILE).write_text("{not json")
    with pytest.raises(LayoutError, match="damaged"):
        layout.load_state()


@pytest.mark.parametrize("nodes,replicas,power", [(0, 1, 8), (2, 3, 8), (3, 0, 8), (3, 3, 30)])
def test_new_state_rejects_impossible_settings(nodes, replicas, power):
    with pytest.raises(LayoutError):
        lay.new_state(nodes, replicas, power, 8080, [])


def test_node_configs_share_cluster_section_and_own_ports(tmp_path):
    layout = Layout(str(tmp_path))
    state = make_state()
    layout.make_dirs(state)
    lay.write_configs(layout, state, filters=[])
    suffixes = set()
    for node in (1, 2, 3):
        conf = read_conf(layout.node_config(node))
        suffixes.add(conf["objstore"]["hash_path_suffix"])
        assert conf["objstore"]["ring_dir"] == layout.rings
        for kind in lay.STORAGE_KINDS:
            server = conf[f"{kind}-server"]
            assert server["bind_ip"] == "127.0.0.1"
            assert int(server["bind_port"]) == state.node_ports[node - 1].port(kind)
            assert server["devices"] == layout.devices(node)
            assert server["mount_check"] == "false"
        assert os.path.isdir(os.path.join(layout.devices(node), f"d{node}"))
    assert suffixes == {state.hash_path_suffix}


def test_proxy_config_pipeline_and_users(tmp_path):
    layout = Layout(str(tmp_path))
    state = make_state()
    layout.make_dirs(state)
    lay.write_configs(layout, state, filters=[("tempauth", "auth.tempauth"), ("slo", "proxy.slo")])
    conf = read_conf(layout.proxy_config)
    assert conf["pipeline:main"]["pipeline"] == "tempauth slo proxy-server"
    assert conf["filter:slo"]["use"] == "proxy.slo:filter_factory"
    # S3's 10,000 parts a multipart upload
    assert conf["filter:slo"]["max_manifest_segments"] == "10000"
    auth = conf["filter:tempauth"]
    assert auth["use"] == "auth.tempauth:filter_factory"
    assert auth["user_test_tester"] == "testing .admin"
    assert auth["user_test2_tester2"] == "testing2 .admin"
    assert auth["user_test_tester3"] == "testing3"
    assert ".reseller_admin" in auth["user_admin_admin"]
    assert conf["proxy-server"]["bind_port"] == "8080"


def test_the_slo_limits_hold_an_s3_upload_of_10000_parts_of_the_longest_key():
    segment = "/" + "b" * 63 + "+segments/" + "k" * 1024  # object names: 1,024 bytes at most
    put_form = [{"path": segment, "etag": "f" * 32, "size_bytes": 5 * 1024 ** 3}] * 10000
    stored = [{"name": segment, "bytes": 5 * 1024 ** 3, "hash": "f" * 32,
               "content_type": "application/octet-stream",
               "last_modified": "2026-12-02T10:00:00.000000"}] * 10000
    limit = int(lay.SLO_FOR_S3["max_manifest_size"])
    assert int(lay.SLO_FOR_S3["max_manifest_segments"]) == 10000
    assert len(json.dumps(put_form)) <= limit  # the manifest S3's Complete PUTs
    assert len(json.dumps(stored)) <= 2 * limit  # the stored one, read back within twice that


def test_extra_config_is_merged_but_cannot_move_ports(tmp_path):
    layout = Layout(str(tmp_path))
    state = make_state()
    layout.make_dirs(state)
    (tmp_path / "etc" / "extra.conf").write_text(
        "[filter:tempauth]\nuser_Acct_Bob = secret .admin\n"
        "[constraints]\nmax_file_size = 1048576\n"
        "[proxy-server]\nbind_port = 1\nworkers = 1\n")
    lay.write_configs(layout, state, filters=[("tempauth", "auth.tempauth")])
    proxy = read_conf(layout.proxy_config)
    assert proxy["filter:tempauth"]["user_Acct_Bob"] == "secret .admin"
    assert proxy["filter:tempauth"]["user_test_tester"] == "testing .admin"
    assert proxy["constraints"]["max_file_size"] == "1048576"
    assert proxy["proxy-server"]["bind_port"] == "8080"
    assert proxy["proxy-server"]["workers"] == "1"
    assert read_conf(layout.node_config(2))["constraints"]["max_file_size"] == "1048576"


def test_only_installed_middleware_join_the_pipeline(monkeypatch):
    installed = {"auth.tempauth", "proxy.middleware.slo"}
    monkeypatch.setattr(lay, "module_exists", lambda name: name in installed)
    assert lay.available_filters("tempauth") == [("tempauth", "auth.tempauth"),
                                       ("slo", "proxy.middleware.slo")]


def test_ring_commands_put_each_node_in_its_own_zone(tmp_path):
    layout = Layout(str(tmp_path))
    state = make_state()
    commands = rings.builder_commands(layout, state, "container")
    builder = os.path.join(layout.rings, "container.builder")
    assert commands[0] == [builder, "create", "8", "3", "1"]
    assert commands[1:4] == [[builder, "add", f"r1z{n}-127.0.0.1:{7001 + 3 * (n - 1)}/d{n}", "100"]
                             for n in (1, 2, 3)]
    assert commands[-1] == [builder, "rebalance"]


def test_daemons_storage_first_proxy_last(tmp_path):
    layout = Layout(str(tmp_path))
    names = [d.name for d in layout.daemons(make_state(nodes=2, replicas=2))]
    assert names == ["object-1", "container-1", "account-1",
                     "object-2", "container-2", "account-2", "proxy"]


def test_free_ports_skip_ports_in_use():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert processes.port_in_use(port)
        found = processes.free_ports(2, port, taken={port + 1})
    assert port not in found and port + 1 not in found
    assert len(found) == 2


def test_pid_file_only_counts_for_a_live_process_with_our_config(tmp_path):
    layout = Layout(str(tmp_path))
    os.makedirs(layout.run)
    config = str(tmp_path / "node1.conf")
    daemon = lay.Daemon("object-1", "object", 1, config, 1)
    assert processes.read_pid(layout, daemon) is None
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", config])
    try:
        with open(layout.pid_file("object-1"), "w") as handle:
            handle.write(f"{sleeper.pid}\n")
        # until the child has exec'd, its command line is still the parent's
        wait_for(lambda: processes.read_pid(layout, daemon) == sleeper.pid, timeout=10,
                 what="the sleeper to exec")
        other = lay.Daemon("object-1", "object", 1, str(tmp_path / "other.conf"), 1)
        assert processes.read_pid(layout, other) is None
        assert processes.stop(layout, [daemon], timeout=5) == ["object-1"]
        sleeper.wait(5)
        assert not os.path.exists(layout.pid_file("object-1"))
    finally:
        sleeper.kill()
        sleeper.wait()


def test_changing_fixed_settings_of_an_existing_cluster_is_refused(tmp_path, capsys):
    layout = Layout(str(tmp_path))
    layout.save_state(make_state())
    assert cli.main(["--dir", str(tmp_path), "start", "--nodes", "4"]) == 1
    assert "--nodes 3" in capsys.readouterr().err


def test_status_and_reset_of_missing_cluster(tmp_path, capsys):
    assert cli.main(["status", "--dir", str(tmp_path / "none")]) == 1
    assert "objstore-aio start" in capsys.readouterr().err
    assert cli.main(["reset", "--dir", str(tmp_path / "none")]) == 0
    (tmp_path / "notaio").mkdir()
    assert cli.main(["reset", "--dir", str(tmp_path / "notaio")]) == 1
    assert (tmp_path / "notaio").exists()


def test_rings_built_with_the_ring_builder_place_replicas_on_distinct_nodes(tmp_path):
    from ring.ring import Ring
    layout = Layout(str(tmp_path))
    state = lay.new_state(4, 3, 4, 8080, [NodePorts(7000 + 3 * i, 7001 + 3 * i, 7002 + 3 * i)
                                          for i in range(4)])
    layout.make_dirs(state)
    rings.build_rings(layout, state)
    assert rings.rings_exist(layout)
    ring = Ring(layout.rings, "object", hash_suffix=state.hash_path_suffix.encode())
    assert ring.replica_count == 3 and ring.partition_count == 16
    for part in range(16):
        nodes = ring.get_part_nodes(part)
        assert len({node["zone"] for node in nodes}) == 3
        assert all(node["ip"] == "127.0.0.1" and node["device"] == f"d{node['zone']}"
                   for node in nodes)
    bad = lay.new_state(3, 3, 4, 8080, [NodePorts(1, 2, 3)] * 3)
    bad.part_power = 40
    with pytest.raises(LayoutError, match="part_power"):
        rings.build_rings(layout, bad)


def test_proxy_port_in_use_is_named_before_anything_is_created(tmp_path, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert cli.main(["start", "--dir", str(tmp_path / "c"), "--port", str(port)]) == 1
    assert f"port {port} is already in use" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_stop_kills_a_daemon_that_ignores_sigterm(tmp_path):
    layout = Layout(str(tmp_path))
    os.makedirs(layout.run)
    config = str(tmp_path / "node1.conf")
    daemon = lay.Daemon("object-1", "object", 1, config, 1)
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
         "print('ready', flush=True); time.sleep(60)", config],
        stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert stubborn.stdout.readline() == b"ready\n"
        with open(layout.pid_file("object-1"), "w") as handle:
            handle.write(f"{stubborn.pid}\n")
        assert processes.stop(layout, [daemon], timeout=0.3) == ["object-1"]
        assert stubborn.wait(5) == -9
    finally:
        stubborn.kill()
        stubborn.wait()


def test_every_node_runs_each_background_daemon_with_its_own_stats_directory(tmp_path):
    layout = Layout(str(tmp_path))
    state = make_state(nodes=2, replicas=2)
    layout.make_dirs(state)
    lay.write_configs(layout, state, filters=[])
    daemons = [d for d in layout.background_daemons(state) if d.node]
    assert [d.name for d in daemons] == [f"{program.name}-{node}" for node in (1, 2)
                                         for program in lay.BACKGROUND_DAEMONS]
    assert {d.config for d in daemons if d.node == 2} == {layout.node_config(2)}
    for node in (1, 2):
        conf = read_conf(layout.node_config(node))
        assert conf["objstore"]["recon_cache_path"] == layout.recon_cache(node)
        assert os.path.isdir(layout.recon_cache(node))
        for program in lay.BACKGROUND_DAEMONS:
            assert conf[program.name]["interval"] == str(program.interval)
    assert layout.recon_cache(1) != layout.recon_cache(2)


def test_every_background_daemon_has_an_entry_point_and_a_script():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for program in lay.BACKGROUND_DAEMONS:
        module, function = processes.ENTRY_POINTS[program.program].split(":")
        assert callable(getattr(__import__(module, fromlist=[function]), function))
        assert os.path.exists(os.path.join(repo, "bin", program.program))
        assert processes.PROGRAMS[program.name] == program.program


def test_new_clusters_use_the_swauth_store_with_their_own_super_admin_key(tmp_path):
    layout = Layout(str(tmp_path))
    state = make_state()
    assert state.auth == "swauth"
    assert len(state.super_admin_key) == 32 and make_state().super_admin_key != state.super_admin_key
    layout.save_state(state)
    assert layout.load_state() == state
    layout.make_dirs(state)
    (tmp_path / "etc" / "extra.conf").write_text("[filter:swauth]\nsuper_admin_key = mine\n"
                                                 "token_life = 60\n")
    lay.write_configs(layout, state, filters=[("swauth", "auth.swauth.middleware")])
    conf = read_conf(layout.proxy_config)
    assert conf["pipeline:main"]["pipeline"] == "swauth proxy-server"
    assert conf["filter:swauth"]["use"] == "auth.swauth.middleware:filter_factory"
    # the all-in-one's commands use the key it generated: an extra config cannot change it
    assert conf["filter:swauth"]["super_admin_key"] == state.super_admin_key
    assert conf["filter:swauth"]["token_life"] == "60"
    assert not conf.has_section("filter:tempauth")


def test_only_the_clusters_auth_filter_joins_the_pipeline(monkeypatch):
    monkeypatch.setattr(lay, "module_exists", lambda name: True)
    names = {auth: [name for name, _ in lay.available_filters(auth)] for auth in lay.AUTH_SYSTEMS}
    assert "swauth" in names["swauth"] and "tempauth" not in names["swauth"]
    assert "tempauth" in names["tempauth"] and "swauth" not in names["tempauth"]


def test_a_cluster_made_before_the_swauth_store_gets_a_key_and_keeps_its_auth_until_told(
        tmp_path, monkeypatch):
    layout = Layout(str(tmp_path))
    old = make_state()
    raw = json.loads(old.to_json())
    del raw["auth"], raw["super_admin_key"]
    raw["auth"] = "tempauth"
    (tmp_path / lay.STATE_FILE).write_text(json.dumps(raw))
    monkeypatch.setattr(rings, "rings_exist", lambda layout: True)
    args = cli.build_parser().parse_args(["start", "--dir", str(tmp_path)])
    state = cli.prepare(layout, args)
    assert state.auth == "tempauth" and len(state.super_admin_key) == 32
    assert layout.load_state().super_admin_key == state.super_admin_key
    args = cli.build_parser().parse_args(["start", "--dir", str(tmp_path), "--auth", "swauth"])
    assert cli.prepare(layout, args).auth == "swauth"
    assert layout.load_state().auth == "swauth"
    state_without = dict(raw)
    del state_without["auth"]
    (tmp_path / lay.STATE_FILE).write_text(json.dumps(state_without))
    assert layout.load_state().auth == "swauth"


def test_setup_prepares_the_store_and_adds_each_saio_user_if_missing():
    state = make_state()
    commands = auth_users.setup_commands(state)
    admin = ["-A", "http://127.0.0.1:8080/auth/", "-K", state.super_admin_key]
    assert commands[0] == ("prep", admin)
    added = {tuple(args[len(admin):]) for command, args in commands[1:]
             if command == "add-user" and args[:len(admin)] == admin}
    # storage accounts AUTH_<account>, as tempauth's and Swift's SAIO's
    assert added == {("--if-missing", "-a", "-s", "test", "test", "tester", "testing"),
                     ("--if-missing", "-a", "-s", "test2", "test2", "tester2", "testing2"),
                     ("--if-missing", "-s", "test", "test", "tester3", "testing3"),
                     ("--if-missing", "-g", "service", "-s", "test5", "test5", "tester5",
                      "testing5"),
                     ("--if-missing", "-r", "-s", "test", "test", "tester6", "testing6")}
    # then test:tester's S3 key pair, the one the banner prints
    assert commands[-1] == ("add-s3-key", admin + ["--if-missing", "--access-key", "test:tester",
                                                   "--secret-key", "testing", "test", "tester"])


def test_the_banner_tells_the_super_admin_key_and_how_to_add_a_user(tmp_path):
    layout = Layout(str(tmp_path))
    state = make_state()
    text = cli.usage_text(layout, state)
    assert f"super admin key: {state.super_admin_key}" in text
    add = (f"objstore-auth-add-user -A http://127.0.0.1:8080/auth/ -K {state.super_admin_key} "
           "-a myaccount myuser mykey")
    assert add in text.splitlines()[text.splitlines().index(
        "add a user, then use it (objstore-auth-list, -set-key, -delete-user... work alike):") + 1]
    assert "test:tester6/testing6 (.reseller_admin)" in text
    state.auth = "tempauth"
    text = cli.usage_text(layout, state)
    assert "super admin key" not in text and "admin:admin/admin" in text


def test_the_banner_tells_the_s3_endpoint_and_key_pair():
    text = cli.usage_text(Layout("/tmp/x"), make_state())
    assert "  endpoint:   http://127.0.0.1:8080\n  access key: test:tester\n" \
           "  secret key: testing\n" in text
    assert 'aws_access_key_id="test:tester", aws_secret_access_key="testing")' in text
    assert "  aws --endpoint-url http://127.0.0.1:8080 s3 ls s3://mybucket" in text
    assert "  s3cmd --access_key=test:tester --secret_key=testing --host=127.0.0.1:8080 " in text
    assert "later release" not in text


def test_the_swauth_store_gets_a_token_cleaner_on_the_proxy_config_and_service_accounts(tmp_path):
    layout = Layout(str(tmp_path))
    state = make_state(nodes=2, replicas=2)
    layout.make_dirs(state)
    lay.write_configs(layout, state, filters=[("swauth", "auth.swauth.middleware")])
    [cleaner] = [d for d in layout.background_daemons(state) if not d.node]
    assert (cleaner.name, cleaner.config) == ("auth-token-cleaner", layout.proxy_config)
    assert processes.PROGRAMS[cleaner.kind] == "objstore-auth-token-cleaner"
    assert processes.ENTRY_POINTS["objstore-auth-token-cleaner"] == "auth.swauth.cleanup:main"
    conf = read_conf(layout.proxy_config)
    assert conf["auth-token-cleaner"]["interval"] == "30"
    # its stats go to the all-in-one's directory, where 'status' reads them
    assert cli.stats_file(cleaner) == os.path.join(layout.proxy_recon_cache,
                                                   "auth-token-cleaner.json")
    assert os.path.isdir(layout.proxy_recon_cache)
    assert conf["filter:swauth"]["reseller_prefix"] == "AUTH, SERVICE"
    assert conf["filter:swauth"]["SERVICE_require_group"] == "service"
    state.auth = "tempauth"
    assert all(d.node for d in layout.background_daemons(state))


def test_an_ec_policy_is_defined_next_to_the_default_with_enough_devices(tmp_path):
    from ring.ring import Ring
    from objstore.common.policies import load_policies
    layout = Layout(str(tmp_path))
    state = lay.new_state(3, 3, 4, 8080, [NodePorts(7000 + 3 * i, 7001 + 3 * i, 7002 + 3 * i)
                                          for i in range(3)])
    layout.make_dirs(state)
    lay.write_configs(layout, state, filters=[])
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(layout.node_config(1))
    policies = load_policies(conf)
    assert policies.default.name == "Policy-0" and policies.get_by_name("ec42").node_count == 6
    rings.build_rings(layout, state)
    ring = Ring(layout.rings, "object-1", hash_suffix=state.hash_path_suffix.encode())
    assert ring.replica_count == 6
    for part in range(16):
        nodes = ring.get_part_nodes(part)
        assert len({node["device"] for node in nodes}) == 6
        assert sorted(node["zone"] for node in nodes) == [1, 1, 2, 2, 3, 3]
        assert all(os.path.isdir(os.path.join(layout.devices(node["zone"]), node["device"]))
                   for node in nodes)
    os.unlink(rings.ring_file(layout, "object-1"))
    assert rings.missing_rings(layout) == ["object-1"]
