"""``objstore-aio``: an all-in-one cluster (proxy + N storage nodes) on 127.0.0.1.

    objstore-aio start [--dir DIR] [--nodes 3] [--replicas 3] [--part-power 10]
                       [--port 8080] [--config EXTRA.conf] [--auth swauth|tempauth]
    objstore-aio status | stop | restart | reset
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import time

from aio import auth_users, layout as lay
from aio import processes, rings
from aio.layout import ClusterState, Daemon, Layout, LayoutError, NodePorts
from objstore.common.background import stats_path
from objstore.common.config import load_config
from objstore.common.recon import describe_last_pass, read_stats

DEFAULT_PROXY_PORT = 8080
FIRST_STORAGE_PORT = 6200  # the default cluster's storage ports: 6200, 6201, ...
# Other clusters (tests, experiments) start at a random port below the kernel's
# ephemeral range, so clusters created while another one is stopped rarely collide.
OTHER_STORAGE_PORTS = range(20000, 30000)
HEALTH_TIMEOUT = 60.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="objstore-aio", description="Run an all-in-one objstore cluster on this machine.")
    parser.add_argument("--dir", help=f"cluster directory (default ${lay.DIR_ENV} or {lay.DEFAULT_DIR})")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    start = commands.add_parser("start", help="create the cluster if needed and start its daemons")
    restart = commands.add_parser("restart", help="stop, then start")
    for sub in (start, restart):
        sub.add_argument("--dir", default=argparse.SUPPRESS, help="cluster directory")
        sub.add_argument("--nodes", type=int, help="storage nodes (new cluster only; default 3)")
        sub.add_argument("--replicas", type=int, help="replicas (new cluster only; default 3)")
        sub.add_argument("--part-power", type=int, help="ring partition power (new cluster only; default 10)")
        sub.add_argument("--port", type=int, help=f"proxy port (default {DEFAULT_PROXY_PORT})")
        sub.add_argument("--config", metavar="EXTRA.conf",
                         help="INI sections merged into every daemon's config")
        sub.add_argument("--auth", choices=lay.AUTH_SYSTEMS,
                         help="swauth: users kept in the cluster, managed with objstore-auth-* "
                              "(default for a new cluster); tempauth: the static users of the "
                              "proxy config (kept until changed)")
        sub.add_argument("--timeout", type=float, default=HEALTH_TIMEOUT,
                         help="seconds to wait for the daemons to become healthy")
    for name, text in (("status", "show each daemon's pid, port and health, and each background "
                                  "daemon's last pass"),
                       ("stop", "stop every daemon (SIGTERM, then SIGKILL)"),
                       ("reset", "stop every daemon and delete the cluster directory")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--dir", default=argparse.SUPPRESS, help="cluster directory")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    layout = Layout(lay.resolve_dir(args.dir))
    try:
        if args.command == "start":
            return cmd_start(layout, args)
        if args.command == "restart":
            check_start_options(layout, args)  # refuse before stopping anything
            cmd_stop(layout)
            return cmd_start(layout, args)
        if args.command == "status":
            return cmd_status(layout)
        if args.command == "stop":
            return cmd_stop(layout)
        return cmd_reset(layout)
    except BrokenPipeError:  # e.g. piped into head: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (LayoutError, RuntimeError, OSError) as err:
        print(f"objstore-aio: {err}", file=sys.stderr)
        return 1


def check_start_options(layout: Layout, args: argparse.Namespace) -> None:
    """Raise LayoutError for an unreadable --config or a layout option the cluster cannot change."""
    if args.config:
        lay.read_extra(args.config)
    if not layout.exists():
        return
    state = layout.load_state()
    for option in ("nodes", "replicas", "part_power"):
        wanted = getattr(args, option)
        if wanted is not None and wanted != getattr(state, option):
            raise LayoutError(
                f"{layout.base} was created with --{option.replace('_', '-')} "
                f"{getattr(state, option)}; 'objstore-aio reset' first to change it")


def prepare(layout: Layout, args: argparse.Namespace) -> ClusterState:
    """Create the cluster on first use, or check the options against the existing one."""
    check_start_options(layout, args)
    if layout.exists():
        state = layout.load_state()
        if args.port is not None and args.port != state.proxy_port:
            proxy = next(d for d in layout.daemons(state) if d.kind == "proxy")
            if processes.read_pid(layout, proxy) is not None:
                raise LayoutError(f"the proxy is running on port {state.proxy_port}; "
                                  f"use 'objstore-aio restart --port {args.port}' to move it")
            state.proxy_port = args.port
        if args.auth is not None:
            state.auth = args.auth
        if not state.super_admin_key:
            state.super_admin_key = lay.new_admin_key()
    else:
        nodes = 3 if args.nodes is None else args.nodes
        proxy_port = DEFAULT_PROXY_PORT if args.port is None else args.port
        if processes.port_in_use(proxy_port):  # say so before creating anything
            raise LayoutError(port_taken(proxy_port, "proxy"))
        first = FIRST_STORAGE_PORT if layout.base == os.path.expanduser(lay.DEFAULT_DIR) else \
            random.choice(OTHER_STORAGE_PORTS)
        ports = processes.free_ports(3 * max(nodes, 0), first, taken={proxy_port})
        node_ports = [NodePorts(*ports[i:i + 3]) for i in range(0, len(ports), 3)]
        state = lay.new_state(nodes, 3 if args.replicas is None else args.replicas,
                              10 if args.part_power is None else args.part_power,
                              proxy_port, node_ports, args.auth or lay.AUTH_SYSTEMS[0])
    layout.make_dirs(state)
    if args.config:
        if not (os.path.exists(layout.extra_config)
                and os.path.samefile(args.config, layout.extra_config)):
            shutil.copyfile(args.config, layout.extra_config)
    lay.write_configs(layout, state)
    if not rings.rings_exist(layout):
        rings.build_rings(layout, state, rings.missing_rings(layout))
    layout.save_state(state)
    return state


def cmd_start(layout: Layout, args: argparse.Namespace) -> int:
    state = prepare(layout, args)
    daemons = layout.daemons(state)
    to_start = [d for d in daemons if processes.read_pid(layout, d) is None]
    for daemon in to_start:
        if processes.port_in_use(daemon.port):
            raise LayoutError(port_taken(daemon.port, daemon.name))
    started = {daemon.name: processes.start(layout, daemon) for daemon in to_start}
    try:
        late = processes.wait_healthy(layout, daemons, args.timeout, started)
    except processes.Died as died:
        print(f"objstore-aio: {died.daemon.name} exited while starting ('objstore-aio stop' "
              f"stops the others); the end of {layout.log_file(died.daemon.name)}:\n"
              f"{died.log_tail}", file=sys.stderr)
        return 1
    if late:
        names = ", ".join(d.name for d in late)
        print(f"objstore-aio: not healthy after {args.timeout:.0f}s: {names} "
              f"(logs in {layout.logs})", file=sys.stderr)
        return 1
    if state.auth == "swauth":
        auth_users.ensure_users(state)
    # the background daemons last: their first pass finds every server up
    background = [d for d in layout.background_daemons(state) if processes.read_pid(layout, d) is None]
    for daemon in background:
        processes.start(layout, daemon)
    to_start += background
    summary = ("started " + ", ".join(d.name for d in to_start) if to_start
               else "already running ('objstore-aio restart' applies config changes)")
    print(f"objstore all-in-one cluster in {layout.base}: {summary}")
    print(usage_text(layout, state))
    return 0


def port_taken(port: int, daemon: str) -> str:
    hint = " (pass --port to use another)" if daemon == "proxy" else ""
    return f"port {port} is already in use by another program; the {daemon} daemon needs it{hint}"


def usage_text(layout: Layout, state: ClusterState) -> str:
    auth = f"http://127.0.0.1:{state.proxy_port}/auth/v1.0"
    return f"""
  auth URL: {auth}
  user:     test:tester
  key:      testing
{users_text(layout, state)}

swift CLI (pip install python-swiftclient):
  swift -A {auth} -U test:tester -K testing stat
  swift -A {auth} -U test:tester -K testing upload mycontainer README.md

objstore CLI:
  export ST_AUTH={auth} ST_USER=test:tester ST_KEY=testing
  objstore upload mycontainer bigfile --segment-size 100M
  objstore list mycontainer

python (python-swiftclient):
  from swiftclient.client import Connection
  conn = Connection(authurl="{auth}", user="test:tester", key="testing")
  conn.put_object("mycontainer", "hello.txt", b"hello")

{s3_text(state)}

objstore-aio status | stop | restart | reset   (logs: {layout.logs})
objstore-recon --config {layout.proxy_config}   (replication, async pendings, quarantines per node)"""


def s3_text(state: ClusterState) -> str:
    """The S3 endpoint, its key pair (made at start with swauth, tempauth's own user
    otherwise) and examples for boto3, the AWS CLI and s3cmd that work as printed."""
    endpoint = f"http://127.0.0.1:{state.proxy_port}"
    host = f"127.0.0.1:{state.proxy_port}"
    _, _, access_key, secret = auth_users.S3_KEY
    return f"""S3 API (same port, path-style buckets, region us-east-1):
  endpoint:   {endpoint}
  access key: {access_key}
  secret key: {secret}

boto3 (pip install boto3):
  import boto3
  s3 = boto3.client("s3", endpoint_url="{endpoint}", region_name="us-east-1",
                    aws_access_key_id="{access_key}", aws_secret_access_key="{secret}")
  s3.create_bucket(Bucket="mybucket")
  s3.put_object(Bucket="mybucket", Key="hello.txt", Body=b"hello")
  print(s3.get_object(Bucket="mybucket", Key="hello.txt")["Body"].read())

aws CLI (pip install awscli):
  export AWS_ACCESS_KEY_ID={access_key} AWS_SECRET_ACCESS_KEY={secret} AWS_DEFAULT_REGION=us-east-1
  aws --endpoint-url {endpoint} s3 cp README.md s3://mybucket/README.md
  aws --endpoint-url {endpoint} s3 ls s3://mybucket

s3cmd (pip install s3cmd):
  s3cmd --access_key={access_key} --secret_key={secret} --host={host} --host-bucket={host} --no-ssl --region=us-east-1 ls s3://mybucket"""


def users_text(layout: Layout, state: ClusterState) -> str:
    """Who else can log in and, with the Swauth-style store, how to add users."""
    if state.auth == "tempauth":
        return ("  (also test2:tester2/testing2, test:tester3/testing3, and admin:admin/admin as "
                "reseller admin)")
    others = ", ".join(f"{user.name}/{user.key}" + (f" ({user.roles})" if user.roles else "")
                       for user in lay.SWAUTH_USERS[1:])
    return f"""  (also {others})
  super admin key: {state.super_admin_key}   (super_admin_key in {layout.proxy_config})

add a user, then use it (objstore-auth-list, -set-key, -delete-user... work alike):
  objstore-auth-add-user -A {auth_users.admin_url(state)} -K {state.super_admin_key} -a myaccount myuser mykey
  swift -A http://127.0.0.1:{state.proxy_port}/auth/v1.0 -U myaccount:myuser -K mykey stat"""


def cmd_status(layout: Layout) -> int:
    state = layout.load_state()
    print(f"{'daemon':<14} {'pid':>8} {'port':>6}  state")
    all_ok = True
    for daemon in layout.daemons(state):
        pid = processes.read_pid(layout, daemon)
        if pid is None:
            condition, all_ok = "stopped", False
        elif processes.healthy(daemon.port):
            condition = "healthy"
        else:
            condition, all_ok = "running, not answering /healthcheck", False
        print(f"{daemon.name:<14} {pid or '-':>8} {daemon.port:>6}  {condition}")
    print(f"\n{'background daemon':<24} {'pid':>8}  {'state':<8} last pass")
    now = time.time()
    for daemon in layout.background_daemons(state):
        pid = processes.read_pid(layout, daemon)
        all_ok = all_ok and pid is not None
        last_pass = (read_stats(stats_file(daemon)) or {}).get("last_pass")
        print(f"{daemon.name:<24} {pid or '-':>8}  {'running' if pid else 'stopped':<8} "
              f"{describe_last_pass(last_pass, now)}")
    return 0 if all_ok else 3


def stats_file(daemon: Daemon) -> str:
    """Where a background daemon writes its stats (its config may move them)."""
    return stats_path(load_config(daemon.config), daemon.kind)


def cmd_stop(layout: Layout) -> int:
    if not layout.exists():
        print(f"no all-in-one cluster in {layout.base}")
        return 0
    state = layout.load_state()
    stopped = processes.stop(layout, layout.background_daemons(state) + layout.daemons(state))
    print("stopped " + ", ".join(stopped) if stopped else "nothing was running")
    return 0


def cmd_reset(layout: Layout) -> int:
    if not os.path.isdir(layout.base):
        print(f"nothing to reset: {layout.base} does not exist")
        return 0
    if not layout.exists():
        raise LayoutError(f"{layout.base} is not an all-in-one cluster directory; not deleting it")
    cmd_stop(layout)
    shutil.rmtree(layout.base)
    print(f"deleted {layout.base}")
    return 0
