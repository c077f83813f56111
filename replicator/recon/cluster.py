"""Find every storage server in the rings and ask each one its ``/recon`` checks.

The servers answer from their own stats files and disks
(``objstore.common.recon``); what needs the rings is worked out here: which
of a node's partitions (object partition directories, the partitions of its
container and account DBs) are handoffs still waiting to move.
"""
from __future__ import annotations

import configparser
import dataclasses
import http.client
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from objstore.common.policies import load_policies
from objstore.common.recon import SERVER_TYPES, still_to_sync
from ring.ring import Ring, load_ring

# check -> the server types that answer it and the /recon path for one type
CHECKS = {
    "replication": (SERVER_TYPES, "replication/{type}"),
    "auditor": (SERVER_TYPES, "auditor/{type}"),
    "updater": (("object",), "updater/object"),
    "async": (("object",), "async"),
    "quarantined": (SERVER_TYPES, "quarantined"),
}
QUARANTINED_KEY = {"object": "objects", "container": "containers", "account": "accounts"}
# what a DB server names its partitions in /recon/partitions (an object server: objects[-N])
DB_PARTITIONS_KEY = {"container": "containers", "account": "accounts"}


class ReconError(Exception):
    """A server did not answer a check (down, timed out, not JSON)."""


@dataclasses.dataclass
class StorageServer:
    """One server of one ring: its address and the ring devices it holds."""

    server_type: str
    ip: str
    port: int
    devices: list[dict]

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"


def ring_servers(server_type: str, ring: Ring) -> list[StorageServer]:
    """The servers of one ring, in address order."""
    found: dict[tuple[str, int], StorageServer] = {}
    for dev in ring.devs:
        if dev is None:
            continue
        key = (dev["ip"], int(dev["port"]))
        found.setdefault(key, StorageServer(server_type, key[0], key[1], [])).devices.append(dev)
    return [found[key] for key in sorted(found)]


def fetch(server: StorageServer, what: str, timeout: float) -> Any:
    """``GET /recon/<what>`` on the server, decoded."""
    conn = http.client.HTTPConnection(server.ip, server.port, timeout=timeout)
    try:
        conn.request("GET", f"/recon/{what}")
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise ReconError(f"{server.address} /recon/{what}: HTTP {response.status}")
        return json.loads(body)
    except (OSError, http.client.HTTPException, ValueError) as err:
        raise ReconError(f"{server.address} /recon/{what}: {err}") from None
    finally:
        conn.close()


def handoffs_left(server: StorageServer, partitions: dict, rings: dict[str, Ring]) -> int:
    """Partitions on the server's devices whose primaries do not include that
    device (``partitions`` is its /recon/partitions answer; ``rings`` maps each
    of its keys, ``objects[-N]``, ``containers``, ``accounts``, to its ring)."""
    count = 0
    for dev in server.devices:
        for dir_name, parts in partitions.get(dev["device"], {}).items():
            ring = rings.get(dir_name)
            if ring is None:
                continue
            ring_dev = _same_device(ring, server, dev["device"])
            count += sum(1 for part in parts if ring_dev is None or part >= ring.partition_count
                         or ring_dev not in {node["id"] for node in ring.get_part_nodes(part)})
    return count


def _same_device(ring: Ring, server: StorageServer, device: str) -> int | None:
    for dev in ring.devs:
        if dev and (dev["ip"], int(dev["port"]), dev["device"]) == (server.ip, server.port, device):
            return dev["id"]
    return None


class ClusterRecon:
    """The cluster's rings and a way to ask all of their servers at once."""

    def __init__(self, conf: configparser.ConfigParser, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self.rings = {server_type: load_ring(conf, server_type) for server_type in SERVER_TYPES}
        # /recon/partitions keys -> their rings
        self.partition_rings = {policy.data_dir: load_ring(conf, "object", policy.index)
                                for policy in load_policies(conf)}
        self.partition_rings.update({key: self.rings[server_type]
                                     for server_type, key in DB_PARTITIONS_KEY.items()})
        self.servers = [server for server_type in SERVER_TYPES
                        for server in ring_servers(server_type, self.rings[server_type])]

    def report(self, checks: list[str]) -> dict[str, dict[str, dict]]:
        """``{server type: {address: {check: answer or {"error": ...}}}}``."""
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(lambda server: self.server_report(server, checks), self.servers))
        report: dict[str, dict[str, dict]] = {server_type: {} for server_type in SERVER_TYPES}
        for server, answer in zip(self.servers, answers):
            report[server.server_type][server.address] = answer
        return report

    def server_report(self, server: StorageServer, checks: list[str]) -> dict:
        report: dict[str, Any] = {"devices": [dev["device"] for dev in server.devices]}
        for check in checks:
            types, path = CHECKS[check]
            if server.server_type not in types:
                continue
            try:
                report[check] = self._answer(server, check, path.format(type=server.server_type))
            except ReconError as err:
                report[check] = {"error": str(err)}
        return report

    def _answer(self, server: StorageServer, check: str, what: str) -> Any:
        answer = fetch(server, what, self.timeout)
        if check == "quarantined":
            return answer.get(QUARANTINED_KEY[server.server_type], 0)
        if check == "async":
            return answer.get("async_pending", 0)
        last = answer.get("last_pass")
        summary = {"finished": last["finished"], "duration": last["duration"],
                   "outcome": last["outcome"], "counters": last["counters"]} if last else None
        if check == "replication":
            if last:
                summary["to_sync"] = still_to_sync(last)
            return {"last_pass": summary, "handoffs_left": handoffs_left(
                server, fetch(server, "partitions", self.timeout), self.partition_rings)}
        return {"last_pass": summary}
