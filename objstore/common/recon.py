"""``GET /recon/<what>``: what a storage node's background daemons and disks
say, as JSON, so an operator (``objstore-recon``) can watch a whole cluster.

Every storage server (object, container, account) answers every URL: the
daemons' stats files live in the node's one ``[objstore] recon_cache_path``
(see ``objstore.common.background.stats_path``) and the disks are the server's
own ``devices``.  The URL names are Swift's recon middleware's:

    /recon/replication/<object|container|account>   the replicator's stats file
    /recon/auditor/<object|container|account>       the auditor's stats file
    /recon/updater/object, /recon/expirer/object     the updater's, the expirer's
    /recon/async        {"async_pending": N}: container updates not yet replayed
    /recon/quarantined  {"objects", "containers", "accounts", "policies": {index: objects}}
    /recon/devices      {<devices dir>: [device, ...]}
    /recon/partitions   {device: {"objects[-N]" | "containers" | "accounts": [partition, ...]}}:
                        lets the CLI count handoffs (a DB server reports its store's)

A daemon that has not finished a pass yet answers ``{"daemon": ..., "last_pass": null}``.
"""
from __future__ import annotations

import configparser
import json
import os
import re
import time
from typing import Callable, Iterable

from objstore.common.background import stats_path
from objstore.common.config import section
from objstore.common.http import Response
from objstore.common.wsgi import WSGIApp

PREFIX = "/recon/"
# URL role -> the daemon name's suffix (the daemon is "<type>-<suffix>")
DAEMON_ROLES = {"replication": "replicator", "auditor": "auditor",
                "updater": "updater", "expirer": "expirer"}
SERVER_TYPES = ("object", "container", "account")
DEFAULT_DEVICES = "/srv/node"
_OBJECT_DIR = re.compile(r"^objects(?:-(\d+))?$")


def read_stats(path: str) -> dict | None:
    """A daemon's stats file, or None while it has none (or it is unreadable)."""
    try:
        with open(path, encoding="utf-8") as handle:
            stats = json.load(handle)
    except (OSError, ValueError):
        return None
    return stats if isinstance(stats, dict) else None


def still_to_sync(last_pass: dict) -> int:
    """Work the pass did not get done: its failures plus what it never reached
    (a pass stopped early)."""
    counters = last_pass.get("counters") or {}
    failed = counters.get("failures", counters.get("failed", 0))
    unreached = max((last_pass.get("total") or 0) - (last_pass.get("done") or 0), 0)
    return int(failed + unreached)


def describe_last_pass(last_pass: dict | None, now: float) -> str:
    """``2026-12-02 01:02:03 (12s ago), done in 0.42s``, for ``objstore-aio
    status`` and ``objstore-recon`` alike."""
    if not last_pass:
        return "no pass finished yet"
    finished = last_pass["finished"]
    return (f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(finished))} "
            f"({max(now - finished, 0):.0f}s ago), {last_pass['outcome']} in "
            f"{last_pass['duration']:.2f}s")


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


class NodeDisks:
    """Counts over one server's devices (directories, no database opened)."""

    def __init__(self, root: str) -> None:
        self.root = root

    def devices(self) -> list[str]:
        return [name for name in _listdir(self.root) if os.path.isdir(os.path.join(self.root, name))]

    def _device_dirs(self, *parts: str) -> Iterable[tuple[str, str]]:
        for device in self.devices():
            path = os.path.join(self.root, device, *parts)
            for name in _listdir(path):
                yield name, os.path.join(path, name)

    def async_pending(self) -> int:
        return sum(len(_listdir(os.path.join(path, suffix)))
                   for name, path in self._device_dirs() if name.startswith("async_pending")
                   for suffix in _listdir(path))

    def quarantined(self) -> dict:
        found = {"objects": 0, "containers": 0, "accounts": 0, "policies": {}}
        for name, path in self._device_dirs("quarantined"):
            count = len(_listdir(path))
            match = _OBJECT_DIR.match(name)
            if match:
                index = match.group(1) or "0"
                found["objects"] += count
                found["policies"][index] = found["policies"].get(index, 0) + count
            elif name in ("containers", "accounts"):
                found[name] += count
        return found

    def partitions(self) -> dict[str, dict[str, list[int]]]:
        found: dict[str, dict[str, list[int]]] = {}
        for device in self.devices():
            device_path = os.path.join(self.root, device)
            for name in _listdir(device_path):
                if _OBJECT_DIR.match(name):
                    parts = [int(part) for part in _listdir(os.path.join(device_path, name))
                             if part.isdigit()]
                    found.setdefault(device, {})[name] = sorted(parts)
        return found


PartitionsOnDevices = Callable[[], dict[str, dict[str, list[int]]]]


class Recon:
    """Answers ``/recon/...`` in front of a storage server's ``app``;
    ``partitions`` lists the partitions on each device (default: the object
    partition directories; a DB server passes its stores' partitions)."""

    def __init__(self, app: WSGIApp, conf: configparser.ConfigParser, devices: str,
                 partitions: PartitionsOnDevices | None = None) -> None:
        self.app = app
        self.conf = conf
        self.disks = NodeDisks(devices)
        self.partitions = partitions or self.disks.partitions

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return self.app(environ, start_response)
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return self._json(405, {"error": "GET only"})(environ, start_response)
        answer = self.answer(path[len(PREFIX):].strip("/"))
        if answer is None:
            return self._json(404, {"error": f"unknown recon check {path!r}"})(environ, start_response)
        return self._json(200, answer)(environ, start_response)

    def answer(self, what: str) -> dict | None:
        """The JSON document for ``/recon/<what>``, None for an unknown check."""
        role, _, server_type = what.partition("/")
        if role in DAEMON_ROLES and server_type in SERVER_TYPES:
            name = f"{server_type}-{DAEMON_ROLES[role]}"
            return read_stats(stats_path(self.conf, name)) or {"daemon": name, "last_pass": None}
        if what == "async":
            return {"async_pending": self.disks.async_pending()}
        if what == "quarantined":
            return self.disks.quarantined()
        if what == "devices":
            return {self.disks.root: self.disks.devices()}
        if what == "partitions":
            return self.partitions()
        return None

    @staticmethod
    def _json(status: int, document: dict) -> Response:
        return Response(status, {"content-type": "application/json"},
                        json.dumps(document, sort_keys=True).encode())


def server_recon(app: WSGIApp, conf: configparser.ConfigParser, section_name: str,
                 partitions: PartitionsOnDevices | None = None) -> Recon:
    """A storage server's ``app`` behind /recon, over the devices of its own section."""
    return Recon(app, conf, section(conf, section_name).get("devices", DEFAULT_DEVICES),
                 partitions)
