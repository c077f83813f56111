"""In-memory rings and storage nodes for the proxy's unit tests (no sockets).

``FakeCluster.connect`` replaces the proxy's backend connector: each fake node
keeps accounts, containers and objects in dicts and speaks enough of the
backend protocol for the proxy's logic; ``cluster.faults`` injects failures per
node (refused connections, timeouts, error statuses, bodies that break off,
a dict of headers every answer carries).
"""
from __future__ import annotations

import configparser
import hashlib
import json
import socket
import zlib
from typing import Callable
from urllib.parse import parse_qsl, unquote

import eventlet
from webob import Request, Response

from objstore.common import ranges
from objstore.common.logs import get_logger
from objstore.common.timestamp import Timestamp


class FakeRing:
    """``replicas`` primaries chosen round-robin from ``devices`` fake devices."""

    def __init__(self, replicas: int = 3, devices: int = 6, port: int = 6200,
                 partitions: int = 16) -> None:
        self.replica_count = float(replicas)
        self.partition_count = partitions
        self.devs = [{"id": i, "region": 1, "zone": i, "ip": f"10.0.0.{i + 1}", "port": port,
                      "replication_ip": f"10.0.0.{i + 1}", "replication_port": port,
                      "device": f"sd{chr(97 + i)}", "weight": 1.0, "meta": ""}
                     for i in range(devices)]

    def get_part(self, account, container=None, obj=None) -> int:
        key = "/".join(p for p in (account, container, obj) if p is not None)
        return zlib.crc32(key.encode()) % self.partition_count

    def get_part_nodes(self, part: int) -> list[dict]:
        count = int(self.replica_count)
        return [dict(self.devs[(part + i) % len(self.devs)], index=i) for i in range(count)]

    def get_nodes(self, account, container=None, obj=None):
        part = self.get_part(account, container, obj)
        return part, self.get_part_nodes(part)

    def get_more_nodes(self, part: int):
        count = int(self.replica_count)
        for i in range(count, len(self.devs)):
            yield dict(self.devs[(part + i) % len(self.devs)], handoff_index=i)


def rings(replicas: int = 3, devices: int = 6) -> dict[str, FakeRing]:
    return {"account": FakeRing(replicas, devices, 6202),
            "container": FakeRing(replicas, devices, 6201),
            "object": FakeRing(replicas, devices, 6200)}


class Record:
    def __init__(self, headers: dict[str, str], body: bytes, timestamp: str,
                 deleted: bool = False) -> None:
        self.headers = headers
        self.body = body
        self.timestamp = timestamp
        self.deleted = deleted


class FakeNode:
    """One device's storage: records by path ``/a``, ``/a/c``, ``/a/c/o``."""

    def __init__(self, key: str, cluster: "FakeCluster") -> None:
        self.key = key
        self.cluster = cluster
        self.records: dict[str, Record] = {}

    def handle(self, method: str, path: str, headers: dict[str, str],
               query: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        names = path.split("/", 5)[3:]  # an object name may hold slashes
        name_path = "/" + "/".join(names)
        kind = ("account", "container", "object")[len(names) - 1]
        handler = getattr(self, f"{kind}_{method.lower()}")
        return handler(name_path, headers, dict(parse_qsl(query)), body)

    def _live(self, path: str) -> Record | None:
        rec = self.records.get(path)
        return rec if rec is not None and not rec.deleted else None

    # objects
    def object_put(self, path, headers, query, body):
        old = self.records.get(path)
        if old is not None and Timestamp(old.timestamp) >= Timestamp(headers["x-timestamp"]):
            return 409, {"x-backend-timestamp": old.timestamp}, b""
        if headers.get("if-none-match") == "*" and self._live(path):
            return 412, {}, b""
        etag = hashlib.md5(body).hexdigest()
        if headers.get("etag") and headers["etag"].strip('"') != etag:
            return 422, {}, b"Unprocessable Entity"
        stored = {k: v for k, v in headers.items()
                  if k.startswith(("x-object-meta-", "x-object-sysmeta-")) or k in
                  ("content-type", "content-encoding", "content-disposition", "x-delete-at",
                   "x-object-manifest", "x-static-large-object")}
        stored["etag"] = etag
        self.records[path] = Record(stored, body, headers["x-timestamp"])
        self.cluster.container_update(headers, path, len(body), etag)
        return 201, {"etag": etag}, b""

    def object_get(self, path, headers, query, body, head=False):
        rec = self._live(path)
        if rec is None:
            old = self.records.get(path)
            return 404, ({"x-backend-timestamp": old.timestamp} if old else {}), b""
        if headers.get("if-match") and headers["if-match"].strip('"') != rec.headers["etag"]:
            return 412, {}, b""
        out = dict(rec.headers)
        ts = Timestamp(rec.timestamp)
        out.update({"x-timestamp": ts.normal, "x-backend-timestamp": ts.internal,
                    "last-modified": ts.http_date, "content-length": str(len(rec.body))})
        data, status = rec.body, 200
        try:
            spans = ranges.parse_range(headers.get("range"), len(data))
        except ranges.Unsatisfiable:
            return 416, {"content-range": f"bytes */{len(data)}"}, b"Requested Range Not Satisfiable"
        if spans:  # the first range only: enough for the proxy's logic
            first, last = spans[0][0], spans[0][1] - 1
            data, status = data[first:last + 1], 206
            out.update({"content-range": f"bytes {first}-{last}/{len(rec.body)}",
                        "content-length": str(len(data))})
        return status, out, b"" if head else data

    def object_head(self, path, headers, query, body):
        return self.object_get(path, headers, query, body, head=True)

    def object_post(self, path, headers, query, body):
        rec = self._live(path)
        if rec is None:
            return 404, {}, b""
        kept = {k: v for k, v in rec.headers.items() if not k.startswith("x-object-meta-")}
        kept.update({k: v for k, v in headers.items() if k.startswith("x-object-meta-")})
        rec.headers = kept
        return 202, {}, b""

    def object_delete(self, path, headers, query, body):
        existed = self._live(path) is not None
        self.records[path] = Record({}, b"", headers["x-timestamp"], deleted=True)
        self.cluster.container_update(headers, path, 0, "", deleted=True)
        return (204 if existed else 404), {}, b""

    # containers
    def container_put(self, path, headers, query, body):
        if path.count("/") == 3:  # object record from an object server
            self.records[path] = Record(headers, b"", headers["x-timestamp"])
            return 201, {}, b""
        policy = headers.get("x-backend-storage-policy-index", "0")
        rec = self._live(path)
        if rec is not None:
            if rec.headers["x-backend-storage-policy-index"] != policy:
                return 409, {"x-backend-storage-policy-index":
                             rec.headers["x-backend-storage-policy-index"]}, b""
            rec.headers.update(self._meta(headers, "container"))
            return 202, {}, b""
        stored = self._meta(headers, "container")
        stored["x-backend-storage-policy-index"] = policy
        self.records[path] = Record(stored, b"", headers["x-timestamp"])
        self.cluster.requests_log.append(("account-update", headers.get("x-account-host")))
        return 201, {}, b""

    @staticmethod
    def _merge(rec, meta):
        rec.headers.update(meta)
        for key in [k for k, v in rec.headers.items() if v == ""]:
            del rec.headers[key]

    @staticmethod
    def _meta(headers, kind):
        return {k: v for k, v in headers.items()
                if k.startswith((f"x-{kind}-meta-", f"x-{kind}-sysmeta-"))
                or k in ("x-container-read", "x-container-write")}

    def _children(self, path):
        prefix = path + "/"
        return sorted(p[len(prefix):] for p, r in self.records.items()
                      if p.startswith(prefix) and "/" not in p[len(prefix):] and not r.deleted)

    def container_get(self, path, headers, query, body, head=False):
        rec = self._live(path)
        if rec is None:
            return 404, {}, b""
        names = [n for n in self._children(path)
                 if n.startswith(query.get("prefix", "")) and n > query.get("marker", "")]
        out = dict(rec.headers)
        out.update({"x-container-object-count": str(len(names)), "x-container-bytes-used": "0",
                    "x-timestamp": Timestamp(rec.timestamp).normal,
                    "x-put-timestamp": Timestamp(rec.timestamp).normal})
        entries = [{"name": n, "bytes": int(self.records[f"{path}/{n}"].headers.get("x-size", 0)),
                    "hash": self.records[f"{path}/{n}"].headers.get("x-etag", "")} for n in names]
        return self._listing(out, entries, query, head)

    @staticmethod
    def _listing(out, entries, query, head):
        names = [entry["name"] for entry in entries]
        if query.get("format") == "json":
            data = json.dumps(entries).encode()
            out["content-type"] = "application/json; charset=utf-8"
        else:
            data = "".join(n + "\n" for n in names).encode()
            out["content-type"] = "text/plain; charset=utf-8"
        out["content-length"] = str(len(data))
        if not data:
            return 204, out, b""
        return (204 if head else 200), out, (b"" if head else data)

    def container_head(self, path, headers, query, body):
        return self.container_get(path, headers, query, body, head=True)

    def container_post(self, path, headers, query, body):
        rec = self._live(path)
        if rec is None:
            return 404, {}, b""
        self._merge(rec, self._meta(headers, "container"))
        return 204, {}, b""

    def container_delete(self, path, headers, query, body):
        if self._live(path) is None:
            return 404, {}, b""
        if self._children(path):
            return 409, {}, b"Conflict"
        self.records[path] = Record({}, b"", headers["x-timestamp"], deleted=True)
        return 204, {}, b""

    # accounts
    def account_put(self, path, headers, query, body):
        existed = self._live(path) is not None
        if not existed:
            self.records[path] = Record(self._meta(headers, "account"), b"", headers["x-timestamp"])
        return (202 if existed else 201), {}, b""

    def account_get(self, path, headers, query, body, head=False):
        rec = self._live(path)
        if rec is None:
            return 404, {}, b""
        out = dict(rec.headers)
        out.update({"x-account-container-count": "0", "x-account-object-count": "0",
                    "x-account-bytes-used": "0", "x-timestamp": Timestamp(rec.timestamp).normal})
        return self._listing(out, [], query, head)

    def account_head(self, path, headers, query, body):
        return self.account_get(path, headers, query, body, head=True)

    def account_post(self, path, headers, query, body):
        rec = self._live(path)
        if rec is None:
            return 404, {}, b""
        self._merge(rec, self._meta(headers, "account"))
        return 204, {}, b""

    def account_delete(self, path, headers, query, body):
        if self._live(path) is None:
            return 404, {}, b""
        self.records[path] = Record({}, b"", headers["x-timestamp"], deleted=True)
        return 204, {}, b""


class FakeResponse:
    def __init__(self, conn: "FakeConnection", status: int, headers: dict[str, str],
                 body: bytes, break_after: int | None = None) -> None:
        self.conn = conn
        self.status = status
        self.headers = headers
        self._body = body
        self._pos = 0
        self._break_after = break_after

    def getheader(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def read(self, amt: int = 65536) -> bytes:
        if self._break_after is not None and self._pos >= self._break_after:
            raise socket.timeout("fake mid-body timeout")
        end = self._pos + amt
        if self._break_after is not None:
            end = min(end, self._break_after)
        data = self._body[self._pos:end]
        self._pos += len(data)
        return data

    def read_all(self, limit: int = 1 << 24) -> bytes:
        return b"".join(iter(self.read, b""))

    def close(self) -> None:
        self.conn.closed = True


class FakeConnection:
    """Drop-in for objstore.common.backend_http.BackendConnection talking to a FakeNode."""

    def __init__(self, cluster: "FakeCluster", node: dict) -> None:
        self.cluster = cluster
        self.node = node
        self.key = f"{node['ip']}:{node['port']}/{node['device']}"
        self.fault = cluster.faults.get(self.key)
        self.closed = False
        self.body = bytearray()
        if self.fault == "refuse":
            raise ConnectionRefusedError(f"fake: {self.key} refuses connections")

    def send_request(self, method, path, headers, query_string="", body=b""):
        self.method, self.path, self.query = method, path, query_string
        self.body += body
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.cluster.requests_log.append((method, self.key, path, dict(self.headers)))

    def expect_continue(self):
        if self.fault == "timeout":
            raise socket.timeout("fake connect timeout")
        if isinstance(self.fault, int):
            return FakeResponse(self, self.fault, {}, b"fake error")
        return None

    def send(self, data: bytes) -> None:
        if self.fault == "send":
            raise BrokenPipeError("fake: node went away mid-upload")
        self.body += data

    def finish_body(self) -> None:
        pass

    def getresponse(self):
        if self.fault == "timeout":
            raise socket.timeout("fake node timeout")
        if self.fault == "slow":
            eventlet.sleep(2)
        if isinstance(self.fault, int):
            return FakeResponse(self, self.fault, {}, b"fake error")
        node = self.cluster.node(self.key)
        status, headers, body = node.handle(self.method, unquote(self.path), self.headers,
                                            self.query, bytes(self.body))
        break_after = self.fault[1] if isinstance(self.fault, tuple) else None
        if isinstance(self.fault, dict):  # a corrupt node: these headers in every answer
            headers = {**headers, **self.fault}
        return FakeResponse(self, status, headers, body, break_after)

    def set_timeout(self, timeout: float) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class FakeCluster:
    """Every fake node, the faults to inject and a log of backend requests."""

    def __init__(self) -> None:
        self.nodes: dict[str, FakeNode] = {}
        self.faults: dict[str, object] = {}
        self.requests_log: list[tuple] = []

    def node(self, key: str) -> FakeNode:
        if key not in self.nodes:
            self.nodes[key] = FakeNode(key, self)
        return self.nodes[key]

    def connect(self, node: dict, conn_timeout: float, node_timeout: float) -> FakeConnection:
        return FakeConnection(self, node)

    def container_update(self, headers: dict[str, str], obj_path: str, size: int, etag: str,
                         deleted: bool = False) -> None:
        host, device = headers.get("x-container-host"), headers.get("x-container-device")
        if host and device:
            record = {"x-timestamp": headers["x-timestamp"], "x-size": str(size), "x-etag": etag}
            self.node(f"{host}/{device}").records[obj_path] = Record(
                record, b"", headers["x-timestamp"], deleted)

    def requests(self, method: str | None = None) -> list[tuple]:
        return [r for r in self.requests_log if method is None or r[0] == method]


def make_conf(pipeline: str | None = None, **proxy_options: str) -> configparser.ConfigParser:
    conf = configparser.ConfigParser(interpolation=None)
    conf.optionxform = str
    conf["objstore"] = {"hash_path_suffix": "test"}
    # reads in ring order, so tests know which replica is asked first
    conf["proxy-server"] = {"sorting_method": "none", **proxy_options}
    conf["storage-policy:0"] = {"name": "gold", "default": "yes"}
    conf["storage-policy:1"] = {"name": "silver"}
    conf["storage-policy:2"] = {"name": "old", "deprecated": "yes"}
    if pipeline:
        conf["pipeline:main"] = {"pipeline": pipeline}
    return conf


def make_app(conf: configparser.ConfigParser | None = None, replicas: int = 3,
             devices: int = 6) -> tuple[Callable, FakeCluster]:
    """A proxy Application over fake rings and nodes (no pipeline)."""
    from proxy.server import Application

    cluster = FakeCluster()
    ring_set = rings(replicas, devices)
    app = Application(conf or make_conf(), get_logger("proxy-test", "ERROR"),
                      ring_loader=lambda conf, kind, index: ring_set[kind],
                      connect=cluster.connect)
    app.rings = ring_set
    return app, cluster


def call(app: Callable, path: str, method: str = "GET", body: bytes | None = None,
         **headers: str) -> Response:
    """One request through ``app`` (the proxy or a pipeline) and its response."""
    req = Request.blank(path, method=method, headers=headers)
    if body is not None:
        req.body = body
    return req.get_response(app)


TEMPAUTH_TEST_USERS = {"user_test_tester": "testing .admin", "user_test2_tester2": "testing2 .admin",
                       "user_test_tester3": "testing3",
                       "user_admin_admin": "admin .admin .reseller_admin"}


def make_pipeline(pipeline: str, **filter_options: dict[str, str]) -> Callable:
    """``pipeline`` (names, ending with proxy-server) over the fake proxy, with
    tempauth's test users and each ``filter_options[name]`` as ``[filter:<name>]``."""
    from proxy.pipeline import load_pipeline

    conf = make_conf(pipeline, account_autocreate="true")
    conf["filter:tempauth"] = dict(TEMPAUTH_TEST_USERS)
    for name, options in filter_options.items():
        conf[f"filter:{name}"] = options
    app, _ = make_app(conf)
    return load_pipeline(conf, app)


def auth_token(app: Callable, user: str = "test:tester", key: str = "testing") -> dict[str, str]:
    """``{"X-Auth-Token": ...}`` of a tempauth login through ``app``."""
    resp = call(app, "/auth/v1.0", **{"X-Auth-User": user, "X-Auth-Key": key})
    assert resp.status_int == 200, resp.status
    return {"X-Auth-Token": resp.headers["X-Auth-Token"]}
