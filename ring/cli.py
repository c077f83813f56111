"""``objstore-ring-builder BUILDER_FILE [COMMAND] [ARGS]``: create and change rings.

Commands follow swift-ring-builder's.  Every change saves the builder
atomically and keeps a copy under ``backups/``.  Errors are one line on stderr
and exit status 1; ``rebalance`` also exits 1 when nothing could be moved.
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from typing import Any, Callable, TextIO

import numpy as np

from ring import devices as devlib
from ring.builder import RingBuilder
from ring.errors import RingError, RingBuilderError
from ring.ringfile import read_ring_file
from ring.tiers import LEVELS

EXIT_OK = 0
EXIT_ERROR = 1

CommandFunc = Callable[["Context", list[str]], int]
COMMANDS: dict[str, CommandFunc] = {}


class UsageError(RingBuilderError):
    """Wrong arguments for a command."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as RingBuilderError (one line, exit 1)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def command(name: str, usage: str) -> Callable[[CommandFunc], CommandFunc]:
    """Register ``func`` as the ``name`` command, shown in help with ``usage``."""
    def register(func: CommandFunc) -> CommandFunc:
        func.usage = usage
        COMMANDS[name] = func
        return func
    return register


class Context:
    """The builder file being worked on."""

    def __init__(self, path: str, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.path = path
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._builder: RingBuilder | None = None

    @property
    def name(self) -> str:
        base = os.path.basename(self.path)
        return base[:-len(".builder")] if base.endswith(".builder") else base

    @property
    def ring_path(self) -> str:
        return os.path.join(os.path.dirname(os.path.abspath(self.path)), f"{self.name}.ring.gz")

    @property
    def builder(self) -> RingBuilder:
        if self._builder is None:
            self._builder = RingBuilder.load(self.path)
        return self._builder

    def create(self, builder: RingBuilder) -> None:
        """Start a new builder file (refusing to overwrite one)."""
        if os.path.exists(self.path):
            raise RingBuilderError(f"{self.path} already exists; remove it first to start over")
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise RingBuilderError(f"directory does not exist: {directory}")
        self._builder = builder
        self.save()

    def save(self) -> None:
        self.builder.save(self.path)

    def print(self, text: str = "") -> None:
        print(text, file=self.out)

    def warn(self, text: str) -> None:
        print(text, file=self.err)


def _parser(prog: str) -> _Parser:
    return _Parser(prog=prog, add_help=False)


def _add_search_options(parser: argparse.ArgumentParser) -> None:
    for flag, dest, kind in (("--id", "id", int), ("--region", "region", int), ("--zone", "zone", int),
                             ("--ip", "ip", str), ("--port", "port", int),
                             ("--replication-ip", "replication_ip", str),
                             ("--replication-port", "replication_port", int),
                             ("--device", "device", str), ("--meta", "meta", str),
                             ("--weight", "weight", float)):
        parser.add_argument(flag, dest=dest, type=kind)


def _device_change_parser(prog: str, positional: str) -> _Parser:
    """Parser of a command that changes the devices it finds: search values (or
    value/change pairs) as ``positional``, search options, and --yes to allow
    several matches."""
    parser = _parser(prog)
    parser.add_argument(positional, nargs="*")
    parser.add_argument("--yes", "-y", action="store_true")
    _add_search_options(parser)
    return parser


def _criteria_from(args: argparse.Namespace, value: str | None) -> dict[str, Any]:
    criteria = devlib.parse_search_value(value) if value else {}
    for key in devlib.DEV_KEYS:
        option = getattr(args, key, None)
        if option is not None:
            criteria[key] = option
    if not criteria:
        raise UsageError("give a search value (d<id>, r<region>z<zone>-<ip>:<port>/<device>, <ip>, "
                         "...) or search options (--id, --ip, --device, ...)")
    return criteria


def _find(ctx: Context, criteria: dict[str, Any], allow_many: bool) -> list[dict]:
    found = ctx.builder.search_devs(criteria)
    if not found:
        raise RingBuilderError(f"no device matches {_describe(criteria)}")
    if len(found) > 1 and not allow_many:
        raise RingBuilderError(f"{len(found)} devices match {_describe(criteria)}; "
                               "add --yes to change all of them")
    return found


def _describe(criteria: dict[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in criteria.items())


def _format_dev_row(dev: dict, parts: int, balance: float, flags: str = "") -> str:
    return (f"{dev['id']:>6} {dev['region']:>6} {dev['zone']:>4} "
            f"{devlib.format_address(dev['ip'], dev['port']):>21} "
            f"{devlib.format_address(dev['replication_ip'], dev['replication_port']):>21} "
            f"{dev['device']:>10} {dev['weight']:>9.2f} {parts:>10} {balance:>8.2f} {flags:>5} "
            f"{dev['meta']}")


DEV_HEADER = (f"{'id':>6} {'region':>6} {'zone':>4} {'ip address:port':>21} "
              f"{'replication ip:port':>21} {'name':>10} {'weight':>9} {'partitions':>10} "
              f"{'balance':>8} {'flags':>5} meta")


def _print_devs(ctx: Context, devs: list[dict]) -> None:
    counts = ctx.builder.slot_counts()
    balances = ctx.builder.dev_balances()
    ctx.print(DEV_HEADER)
    for dev in devs:
        flags = "DEL" if dev["id"] in ctx.builder.pending_removal else ""
        ctx.print(_format_dev_row(dev, int(counts[dev["id"]]), balances[dev["id"]], flags))


# -- commands ------------------------------------------------------------------------------
@command("create", "create <part_power> <replicas> <min_part_hours>")
def cmd_create(ctx: Context, argv: list[str]) -> int:
    parser = _parser("create")
    parser.add_argument("part_power", type=int)
    parser.add_argument("replicas", type=float)
    parser.add_argument("min_part_hours", type=int)
    parser.add_argument("--overload", default="0")
    args = parser.parse_args(argv)
    ctx.create(RingBuilder(args.part_power, args.replicas, args.min_part_hours, args.overload))
    ctx.print(f"Created {ctx.path}: {ctx.builder.partition_count} partitions, "
              f"{ctx.builder.replicas:g} replicas, min_part_hours {ctx.builder.min_part_hours}")
    return EXIT_OK


@command("add", "add r<region>z<zone>-<ip>:<port>[R<ip>:<port>]/<device>[_<meta>] <weight> "
                "[<dev> <weight> ...] | add --region N --zone N --ip IP --port N "
                "[--replication-ip IP --replication-port N] --device NAME --weight W [--meta M]")
def cmd_add(ctx: Context, argv: list[str]) -> int:
    parser = _parser("add")
    parser.add_argument("pairs", nargs="*")
    for flag, dest, kind in (("--region", "region", int), ("--zone", "zone", int), ("--ip", "ip", str),
                             ("--port", "port", int), ("--replication-ip", "replication_ip", str),
                             ("--replication-port", "replication_port", int),
                             ("--device", "device", str), ("--weight", "weight", str),
                             ("--meta", "meta", str), ("--id", "id", int)):
        parser.add_argument(flag, dest=dest, type=kind)
    args = parser.parse_args(argv)
    new_devs = []
    if args.pairs:
        if len(args.pairs) % 2:
            raise UsageError("add needs <device> <weight> pairs, e.g. r1z1-127.0.0.1:6200/sdb 100")
        for value, weight in zip(args.pairs[::2], args.pairs[1::2]):
            dev = devlib.parse_add_value(value)
            dev["weight"] = devlib.parse_weight(weight)
            new_devs.append(dev)
    else:
        dev = {key: getattr(args, key) for key in devlib.DEV_KEYS if getattr(args, key) is not None}
        if "region" not in dev:
            dev["region"] = 1
        missing = [f"--{key}" for key in ("zone", "ip", "port", "device", "weight") if key not in dev]
        if missing:
            raise UsageError(f"add: missing {', '.join(missing)}")
        new_devs.append(dev)
    builder = ctx.builder
    for dev in new_devs:
        dev_id = builder.add_dev(dev)
        ctx.print(f"Device {devlib.format_dev(builder.devs[dev_id])} with "
                  f"{builder.devs[dev_id]['weight']:g} weight got id {dev_id}")
    ctx.save()
    return EXIT_OK


@command("search", "search <search-value> | search --ip IP --device NAME ...")
def cmd_search(ctx: Context, argv: list[str]) -> int:
    parser = _parser("search")
    parser.add_argument("search", nargs="?")
    _add_search_options(parser)
    args = parser.parse_args(argv)
    found = _find(ctx, _criteria_from(args, args.search), allow_many=True)
    _print_devs(ctx, found)
    return EXIT_OK


@command("remove", "remove <search-value> [<search-value> ...] [--yes]")
def cmd_remove(ctx: Context, argv: list[str]) -> int:
    parser = _device_change_parser("remove", "values")
    args = parser.parse_args(argv)
    for value in args.values or [None]:
        for dev in _find(ctx, _criteria_from(args, value), args.yes):
            ctx.builder.remove_dev(dev["id"])
            ctx.print(f"Device {devlib.format_dev(dev)} marked for removal; run rebalance to "
                      "move its partitions")
    ctx.save()
    return EXIT_OK


@command("set_weight", "set_weight <search-value> <weight> [<search-value> <weight> ...] [--yes] | "
                       "set_weight --id N <weight>")
def cmd_set_weight(ctx: Context, argv: list[str]) -> int:
    parser = _device_change_parser("set_weight", "pairs")
    args = parser.parse_args(argv)
    searched = any(getattr(args, key, None) is not None for key in devlib.DEV_KEYS)
    if len(args.pairs) == 1 and searched:   # options name the devices, the value is the weight
        changes = [(_criteria_from(args, None), args.pairs[0])]
    elif args.pairs and not len(args.pairs) % 2:
        changes = [(_criteria_from(args, value), weight)
                   for value, weight in zip(args.pairs[::2], args.pairs[1::2])]
    else:
        raise UsageError("set_weight needs <search-value> <weight> pairs")
    for criteria, weight in changes:
        weight = devlib.parse_weight(weight)
        for dev in _find(ctx, criteria, args.yes):
            ctx.builder.set_dev_weight(dev["id"], weight)
            ctx.print(f"{devlib.format_dev(dev)} weight set to {weight:g}")
    ctx.save()
    return EXIT_OK


@command("set_info", "set_info <search-value> <ip>:<port>[R<ip>:<port>]/<device>_<meta> | "
                     "set_info <search-value> --change-ip IP --change-port N ...")
def cmd_set_info(ctx: Context, argv: list[str]) -> int:
    parser = _device_change_parser("set_info", "pairs")
    changes_opts = (("--change-ip", "ip"), ("--change-port", "port"),
                    ("--change-replication-ip", "replication_ip"),
                    ("--change-replication-port", "replication_port"),
                    ("--change-device", "device"), ("--change-meta", "meta"))
    for flag, dest in changes_opts:
        parser.add_argument(flag, dest=f"change_{dest}")
    args = parser.parse_args(argv)
    option_changes = {dest: getattr(args, f"change_{dest}") for _, dest in changes_opts
                      if getattr(args, f"change_{dest}") is not None}
    if option_changes:
        if len(args.pairs) > 1:
            raise UsageError("set_info: give change options or a change value, not both")
        work = [(_criteria_from(args, args.pairs[0] if args.pairs else None), option_changes)]
    else:
        if not args.pairs or len(args.pairs) % 2:
            raise UsageError("set_info needs <search-value> <change-value> pairs")
        work = [(_criteria_from(args, value), devlib.parse_change_value(change))
                for value, change in zip(args.pairs[::2], args.pairs[1::2])]
    for criteria, changes in work:
        for dev in _find(ctx, criteria, args.yes):
            before = devlib.format_dev(dev)
            ctx.builder.set_dev_info(dev["id"], changes)
            ctx.print(f"Device {before} is now {devlib.format_dev(dev)}")
    ctx.save()
    return EXIT_OK


@command("list_parts", "list_parts <search-value> [<search-value> ...]")
def cmd_list_parts(ctx: Context, argv: list[str]) -> int:
    parser = _parser("list_parts")
    parser.add_argument("values", nargs="*")
    _add_search_options(parser)
    args = parser.parse_args(argv)
    ids: set[int] = set()
    for value in args.values or [None]:
        ids.update(d["id"] for d in _find(ctx, _criteria_from(args, value), allow_many=True))
    table = np.where(ctx.builder.valid_mask(), ctx.builder.table, -1)
    hits = np.isin(table, sorted(ids)).sum(axis=0)
    parts = np.nonzero(hits)[0]
    order = parts[np.argsort(-hits[parts], kind="stable")]
    ctx.print(f"{'Partition':>10}   Matches")
    for part in order:
        ctx.print(f"{part:>10}   {hits[part]:>7}")
    return EXIT_OK


@command("rebalance", "rebalance [--seed N] [--force]")
def cmd_rebalance(ctx: Context, argv: list[str]) -> int:
    parser = _parser("rebalance")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--force", "-f", action="store_true",
                        help="save even if nothing moved; allow fewer devices than replicas")
    args = parser.parse_args(argv)
    builder = ctx.builder
    started = time.monotonic()
    big = builder.partition_count * builder.replicas >= 1 << 18

    def progress(message: str) -> None:
        if big:
            ctx.warn(f"rebalance: {message} ({time.monotonic() - started:.1f}s)")

    before = builder.get_balance()
    result = builder.rebalance(seed=args.seed, allow_fewer_devices=args.force, progress=progress)
    for dev in result.removed_devs:
        ctx.print(f"Removed device {devlib.format_dev(dev)}")
    if not result.parts_moved and not result.removed_devs:
        left = builder.min_part_seconds_left()
        if left and result.balance >= 1:
            reason = (f"; min_part_hours ({builder.min_part_hours}) has not passed yet for "
                      f"partitions that would move ({datetime.timedelta(seconds=int(left))} left)")
        else:
            reason = " (the ring is already as balanced as it can be)"
        ctx.warn(f"No partitions could be reassigned{reason}. Balance is {result.balance:.2f}.")
        if not args.force:
            return EXIT_ERROR
    ctx.save()
    builder.write_ring(ctx.ring_path)  # like swift-ring-builder: a rebalance ships a ring
    total = builder.partition_count
    ctx.print(f"Reassigned {result.slots_moved} replicas of {result.parts_moved} partitions "
              f"({100.0 * result.parts_moved / total:.2f}% of {total}) in {result.seconds:.2f}s. "
              f"Balance is now {result.balance:.2f} (was {before:.2f}). "
              f"Dispersion is now {result.dispersion:.2f}")
    ctx.print(f"Wrote {ctx.ring_path} (version {builder.version})")
    errors, _ = builder.validate()
    for error in errors:
        ctx.warn(f"warning: {error}")
    return EXIT_OK


@command("dispersion", "dispersion")
def cmd_dispersion(ctx: Context, argv: list[str]) -> int:
    _parser("dispersion").parse_args(argv)
    report = ctx.builder.dispersion_report()
    ctx.print(f"Dispersion is {report['dispersion']:.2f}: percent of partitions with replicas "
              "closer together than the tiers allow")
    ctx.print(f"{'Tier':<8} {'over limit':>10} {'sharing a node':>15}")
    for level in LEVELS:
        over, sharing = report["over"].get(level, 0), report["sharing"].get(level, 0)
        ctx.print(f"{level:<8} {over:>10} {sharing:>15}")
    return EXIT_OK


@command("validate", "validate")
def cmd_validate(ctx: Context, argv: list[str]) -> int:
    _parser("validate").parse_args(argv)
    errors, warnings = ctx.builder.validate()
    for warning in warnings:
        ctx.warn(f"warning: {warning}")
    if errors:
        raise RingBuilderError("; ".join(errors))
    ctx.print("Ring builder is valid")
    return EXIT_OK


@command("write_ring", "write_ring")
def cmd_write_ring(ctx: Context, argv: list[str]) -> int:
    _parser("write_ring").parse_args(argv)
    ctx.builder.write_ring(ctx.ring_path)
    ctx.print(f"Wrote {ctx.ring_path} (version {ctx.builder.version})")
    return EXIT_OK


@command("pretty_print", "pretty_print (the default command)")
def cmd_pretty_print(ctx: Context, argv: list[str]) -> int:
    _parser("pretty_print").parse_args(argv)
    builder = ctx.builder
    devs = [d for d in builder.devs if d is not None]
    regions = {d["region"] for d in devs}
    zones = {(d["region"], d["zone"]) for d in devs}
    assigned = bool((builder.table >= 0).any())
    ctx.print(f"{ctx.path}, build version {builder.version}, id {builder.id}")
    ctx.print(f"{builder.partition_count} partitions, {builder.replicas:.6f} replicas, "
              f"{len(regions)} regions, {len(zones)} zones, {len(devs)} devices, "
              f"{builder.get_balance():.2f} balance, "
              f"{builder.dispersion_report()['dispersion']:.2f} dispersion")
    left = builder.min_part_seconds_left()
    ctx.print(f"The minimum number of hours before a partition can be reassigned is "
              f"{builder.min_part_hours} ({datetime.timedelta(seconds=int(left))} remaining)")
    ctx.print(f"The overload factor is {builder.overload * 100:.2f}% ({builder.overload:.6f})")
    ctx.print(_ring_status(ctx, assigned))
    ctx.print("Devices:")
    _print_devs(ctx, devs)
    return EXIT_OK


def _ring_status(ctx: Context, assigned: bool) -> str:
    if not assigned:
        return "No partitions assigned yet: run rebalance"
    if not os.path.exists(ctx.ring_path):
        return f"Ring file {ctx.ring_path} not found: run write_ring"
    try:
        version = read_ring_file(ctx.ring_path).version
    except RingError as err:
        return f"Ring file {ctx.ring_path} is unreadable: {err}"
    if version == ctx.builder.version:
        return f"Ring file {ctx.ring_path} is up-to-date"
    return f"Ring file {ctx.ring_path} is obsolete (version {version}): run write_ring"


@command("set_overload", "set_overload <overload>  (a fraction like 0.1, or a percent like 10%)")
def cmd_set_overload(ctx: Context, argv: list[str]) -> int:
    parser = _parser("set_overload")
    parser.add_argument("overload")
    args = parser.parse_args(argv)
    ctx.builder.set_overload(args.overload)
    ctx.save()
    ctx.print(f"The overload factor is now {ctx.builder.overload * 100:.2f}% "
              f"({ctx.builder.overload:.6f}); run rebalance to apply it")
    return EXIT_OK


@command("set_min_part_hours", "set_min_part_hours <hours>")
def cmd_set_min_part_hours(ctx: Context, argv: list[str]) -> int:
    parser = _parser("set_min_part_hours")
    parser.add_argument("hours", type=int)
    args = parser.parse_args(argv)
    ctx.builder.set_min_part_hours(args.hours)
    ctx.save()
    ctx.print(f"The minimum number of hours before a partition can be reassigned is now "
              f"{ctx.builder.min_part_hours}")
    return EXIT_OK


@command("pretend_min_part_hours_passed", "pretend_min_part_hours_passed")
def cmd_pretend(ctx: Context, argv: list[str]) -> int:
    _parser("pretend_min_part_hours_passed").parse_args(argv)
    ctx.builder.pretend_min_part_hours_passed()
    ctx.save()
    ctx.print("Every partition may now be reassigned by the next rebalance")
    return EXIT_OK


@command("set_replicas", "set_replicas <replicas>")
def cmd_set_replicas(ctx: Context, argv: list[str]) -> int:
    parser = _parser("set_replicas")
    parser.add_argument("replicas", type=float)
    args = parser.parse_args(argv)
    ctx.builder.set_replicas(args.replicas)
    ctx.save()
    ctx.print(f"The replica count is now {ctx.builder.replicas:g}; run rebalance to apply it")
    return EXIT_OK


def usage() -> str:
    lines = ["usage: objstore-ring-builder BUILDER_FILE [COMMAND] [ARGS]", "", "commands:"]
    lines += [f"  {func.usage}" for func in COMMANDS.values()]
    lines += ["", "Search values: d<id>, r<region>z<zone>-<ip>:<port>/<device>, <ip>, d3, ...",
              "Exit status: 0 ok, 1 error (or rebalance with nothing to move)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return EXIT_OK if argv else EXIT_ERROR
    path, rest = argv[0], argv[1:]
    name = rest[0] if rest else "pretty_print"
    func = COMMANDS.get(name)
    if func is None:
        print(f"objstore-ring-builder: unknown command {name!r} (see --help)", file=sys.stderr)
        return EXIT_ERROR
    if any(arg in ("-h", "--help") for arg in rest[1:]):
        print(f"usage: objstore-ring-builder BUILDER_FILE {func.usage}")
        return EXIT_OK
    ctx = Context(path)
    try:
        return func(ctx, rest[1:])
    except RingError as err:
        print(f"objstore-ring-builder: {err}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:   # output piped into head & co: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as err:
        print(f"objstore-ring-builder: {err.strerror or err}: {err.filename or path}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("objstore-ring-builder: interrupted", file=sys.stderr)
        return EXIT_ERROR
