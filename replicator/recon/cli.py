"""``objstore-recon``: per storage node, its last replication pass, what is
still to sync, handoffs left, quarantined files and async pendings.

    objstore-recon [--config PATH] [-r] [-a] [-q] [--auditor] [--updater] [--all] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from objstore.common.config import ConfigError, load_config
from objstore.common.recon import describe_last_pass
from replicator.recon.cluster import CHECKS, QUARANTINED_KEY, ClusterRecon
from ring.errors import RingError

OPTIONS = (  # (flags, check, help)
    (("-r", "--replication"), "replication", "last replication pass, what is still to sync, handoffs left"),
    (("-a", "--async"), "async", "async pendings (container updates not yet replayed)"),
    (("-q", "--quarantined"), "quarantined", "quarantined objects, containers and accounts"),
    (("--auditor",), "auditor", "last auditor pass"),
    (("--updater",), "updater", "last object updater pass"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="objstore-recon",
        description="Ask every storage server in the rings what its background daemons and "
                    "disks say (GET /recon/...). Without a check option: --all.")
    parser.add_argument("--config", help="a config with the cluster's [objstore] section "
                                         "(ring_dir, hash path affixes), e.g. the proxy's")
    for flags, check, text in OPTIONS:
        parser.add_argument(*flags, dest="checks", action="append_const", const=check, help=text)
    parser.add_argument("--all", action="store_true", help="every check")
    parser.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per request")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    checks = list(CHECKS) if args.all or not args.checks else \
        [check for check in CHECKS if check in args.checks]
    try:
        report = ClusterRecon(load_config(args.config), args.timeout).report(checks)
    except (ConfigError, RingError) as err:
        print(f"objstore-recon: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=1, sort_keys=True))
    else:
        print(render(report, time.time()))
    unreachable = any("error" in answer for servers in report.values()
                      for server in servers.values() for answer in server.values()
                      if isinstance(answer, dict))
    return 2 if unreachable else 0


def render(report: dict[str, dict[str, dict]], now: float) -> str:
    """The report as text, one block per storage server."""
    lines = []
    for server_type, servers in report.items():
        lines.append(f"{server_type} servers ({len(servers)}):")
        for address, server in servers.items():
            lines.append(f"  {address} ({', '.join(server['devices'])})")
            lines.extend(f"    {check}: {describe(check, server[check], server_type, now)}"
                         for check in CHECKS if check in server)
    return "\n".join(lines)


def describe(check: str, answer, server_type: str, now: float) -> str:
    if isinstance(answer, dict) and "error" in answer:
        return f"unreachable ({answer['error']})"
    if check == "async":
        return f"{answer} pending"
    if check == "quarantined":
        return f"{answer} {QUARANTINED_KEY[server_type]}"
    text = describe_last_pass(answer["last_pass"], now)
    if check == "replication":
        if answer["last_pass"]:
            text += f", {answer['last_pass']['to_sync']} still to sync"
        if "handoffs_left" in answer:
            text += f", {answer['handoffs_left']} handoff partitions left"
    return text
