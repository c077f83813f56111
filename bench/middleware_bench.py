#!/usr/bin/env python3
"""Cost of the auth and large-object middleware, in-process (no sockets).

Prints a table: per-request overhead that tempauth + dlo + slo + copy add to a
plain object GET (over a constant-answer app, so only middleware time counts),
token issue/validate rates, and SLO/DLO GET throughput from an in-memory
backend (tests/fake_swift.py).

    python bench/middleware_bench.py [--seconds 2] [--cluster]

``--cluster`` also starts a real 3-node cluster (tests/cluster.py, proxy with
the same filters) and compares single-stream GET throughput of a plain object
with the same bytes as an SLO and a DLO, and times a server-side COPY.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from auth.tempauth import TempAuth  # noqa: E402
from proxy.middleware.copy import ServerSideCopy  # noqa: E402
from proxy.middleware.dlo import DynamicLargeObject  # noqa: E402
from proxy.middleware.slo import StaticLargeObject  # noqa: E402
from tests.fake_swift import FakeSwift  # noqa: E402

USERS = {"user_test_tester": "testing .admin"}
BODY = b"x" * 4096


def plain_app(environ, start_response):
    start_response("200 OK", [("Content-Length", str(len(BODY))), ("Etag", "0" * 32),
                              ("Content-Type", "application/octet-stream")])
    return [BODY]


def pipeline(app):
    return TempAuth(ServerSideCopy(DynamicLargeObject(StaticLargeObject(app, {}))), USERS)


def environ(path: str, token: str = "", **extra) -> dict:
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "bench",
           "SERVER_PORT": "8080", "wsgi.url_scheme": "http", "wsgi.input": None}
    if token:
        env["HTTP_X_AUTH_TOKEN"] = token
    env.update(extra)
    return env


def drain(app, env) -> int:
    status = []
    body = app(env, lambda s, h, e=None: status.append(s))
    size = sum(len(chunk) for chunk in body)
    getattr(body, "close", lambda: None)()
    return size


def rate(fn, seconds: float) -> tuple[float, int]:
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(100):
            fn()
        count += 100
    return count / (time.perf_counter() - started), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--cluster", action="store_true", help="also measure through real daemons")
    args = parser.parse_args()
    rows = in_process_rows(args.seconds)
    if args.cluster:
        rows += cluster_rows()
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'rate':>16}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>16}  {note}")


def in_process_rows(seconds: float) -> list[tuple[str, str, str]]:
    rows = []

    auth = TempAuth(plain_app, USERS)
    user = auth.users["test:tester"]
    token, _ = auth.issue_token(user)
    bare, _ = rate(lambda: drain(plain_app, environ("/v1/AUTH_test/c/o")), seconds)
    full_app = pipeline(plain_app)
    full, _ = rate(lambda: drain(full_app, environ("/v1/AUTH_test/c/o", token)), seconds)
    rows.append(("plain GET, bare app", f"{bare:,.0f} req/s", f"{1e6 / bare:.1f} us/req"))
    rows.append(("plain GET, tempauth+copy+dlo+slo", f"{full:,.0f} req/s",
                 f"+{1e6 / full - 1e6 / bare:.1f} us/req overhead"))
    issued, _ = rate(lambda: auth.issue_token(user), seconds)
    checked, _ = rate(lambda: auth.validate_token(token), seconds)
    rows.append(("token issue", f"{issued:,.0f} /s", ""))
    rows.append(("token validate", f"{checked:,.0f} /s", ""))

    swift = FakeSwift()
    segment = os.urandom(1 << 20)
    segs = []
    for i in range(64):
        etag = swift.put_object("AUTH_test", "segs", f"s/{i:04d}", segment)
        segs.append({"name": f"/segs/s/{i:04d}", "hash": etag, "bytes": len(segment),
                     "content_type": "application/octet-stream", "last_modified": ""})
    swift.put_object("AUTH_test", "c", "slo", json.dumps(segs).encode(),
                     {"X-Static-Large-Object": "True"})
    swift.put_object("AUTH_test", "c", "dlo", b"", {"X-Object-Manifest": "segs/s/"})
    lo_app = pipeline(swift)
    for name in ("slo", "dlo"):
        timings = []
        for _ in range(4):  # the first run warms up; report the best
            started = time.perf_counter()
            size = drain(lo_app, environ(f"/v1/AUTH_test/c/{name}", token))
            timings.append(time.perf_counter() - started)
        elapsed = min(timings[1:])
        rows.append((f"{name.upper()} GET 64 x 1 MiB (in-memory backend)",
                     f"{size / elapsed / (1 << 20):,.0f} MiB/s", f"{elapsed * 1000:.0f} ms"))
    return rows


def cluster_rows(segments: int = 16, segment_size: int = 4 << 20) -> list[tuple[str, str, str]]:
    from tests.cluster import Cluster

    pipeline = "catch_errors gatekeeper healthcheck tempauth copy dlo slo proxy-server"
    rows = []
    with Cluster(nodes=3, pipeline=pipeline, proxy_options={"workers": "2"},
                 extra_sections={"filter:tempauth": USERS}) as cluster:
        status, headers, _ = cluster.request("GET", "/auth/v1.0", headers={
            "X-Auth-User": "test:tester", "X-Auth-Key": "testing"})
        auth = {"X-Auth-Token": headers["x-auth-token"]}
        base = "/v1/AUTH_test/bench"
        cluster.request("PUT", base, headers=auth)
        block = os.urandom(segment_size)
        manifest = []
        for i in range(segments):
            _, headers, _ = cluster.request("PUT", f"{base}/seg/{i:04d}", block, auth)
            manifest.append({"path": f"/bench/seg/{i:04d}", "etag": headers["etag"],
                             "size_bytes": segment_size})
        total = segments * segment_size
        cluster.request("PUT", f"{base}/plain", block * segments, auth)
        started = time.perf_counter()
        status, _, _ = cluster.request("PUT", f"{base}/slo?multipart-manifest=put",
                                       json.dumps(manifest).encode(), auth)
        rows.append((f"SLO manifest PUT, {segments} segment HEADs", f"{status}",
                     f"{(time.perf_counter() - started) * 1000:.0f} ms"))
        cluster.request("PUT", f"{base}/dlo", b"", {**auth, "X-Object-Manifest": "bench/seg/"})
        for name in ("plain", "slo", "dlo"):
            started = time.perf_counter()
            status, _, body = cluster.request("GET", f"{base}/{name}", headers=auth)
            elapsed = time.perf_counter() - started
            assert status == 200 and len(body) == total, (name, status, len(body))
            rows.append((f"GET {total >> 20} MiB {name} (3-node cluster)",
                         f"{total / elapsed / (1 << 20):,.0f} MiB/s", f"{elapsed * 1000:.0f} ms"))
        started = time.perf_counter()
        status, _, _ = cluster.request("COPY", f"{base}/slo", headers={**auth, "Destination": "bench/flat"})
        elapsed = time.perf_counter() - started
        rows.append((f"COPY {total >> 20} MiB SLO -> plain object", f"{total / elapsed / (1 << 20):,.0f} MiB/s",
                     f"{elapsed * 1000:.0f} ms, status {status}"))
    return rows


if __name__ == "__main__":
    main()
