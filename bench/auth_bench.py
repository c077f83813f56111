#!/usr/bin/env python3
"""Authenticated small-object GETs: tempauth beside swauth (users and tokens in the cluster).

    python bench/auth_bench.py [--objects 1000] [--concurrency 16] [--size 4096] [--workers 2]

For each auth filter in turn, starts the cluster of ``tests/cluster.py`` (3
storage nodes, 3 replicas, the proxy with ``--workers``), logs in as
``test:tester``, PUTs ``--objects`` objects and GETs them all twice with the
token on keep-alive connections; prints GET ops/s and latency percentiles,
and the ratio swauth/tempauth.  swauth checks a token against the store once
per ``token_cache_life`` per worker and answers from memory in between;
tempauth checks an HMAC.  Also prints the cost of a login.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.proxy_bench import run_phase  # noqa: E402
from tests.cluster import Cluster  # noqa: E402

SUPER = {"X-Auth-Admin-User": ".super_admin", "X-Auth-Admin-Key": "bench-admin-key"}
SETUPS = {
    "tempauth": ("catch_errors gatekeeper healthcheck tempauth dlo slo copy proxy-server",
                 {"filter:tempauth": {"user_test_tester": "testing .admin"}}),
    "swauth": ("catch_errors gatekeeper healthcheck swauth dlo slo copy proxy-server",
               {"filter:swauth": {"super_admin_key": SUPER["X-Auth-Admin-Key"]}}),
}


def add_swauth_user(cluster: Cluster) -> None:
    for path, extra in (("/auth/v2/.prep", {}), ("/auth/v2/test", {"X-Account-Suffix": "test"}),
                        ("/auth/v2/test/tester", {"X-Auth-User-Key": "testing",
                                                  "X-Auth-User-Admin": "true"})):
        status = cluster.request("POST" if path.endswith(".prep") else "PUT", path,
                                 headers={**SUPER, **extra})[0]
        assert status in (201, 202, 204), (path, status)


def login(cluster: Cluster) -> tuple[str, float]:
    started = time.perf_counter()
    status, headers, _ = cluster.request("GET", "/auth/v1.0", headers={
        "X-Auth-User": "test:tester", "X-Auth-Key": "testing"})
    assert status == 200, status
    return headers["x-auth-token"], time.perf_counter() - started


def measure(name: str, args: argparse.Namespace) -> dict[str, float]:
    pipeline, sections = SETUPS[name]
    with Cluster(nodes=3, pipeline=pipeline, proxy_options={"workers": str(args.workers)},
                 extra_sections=sections) as cluster:
        if name == "swauth":
            add_swauth_user(cluster)
        token, _ = login(cluster)
        logins = [login(cluster)[1] for _ in range(5)]
        auth = {"X-Auth-Token": token}
        assert cluster.request("PUT", "/v1/AUTH_test/bench", headers=auth)[0] in (201, 202)
        names = [f"/v1/AUTH_test/bench/o{i:06d}" for i in range(args.objects)]
        run_phase(cluster.proxy_port, "PUT", names, args.concurrency, os.urandom(args.size), auth)
        elapsed, lat, failures = run_phase(cluster.proxy_port, "GET", names + names,
                                           args.concurrency, b"", auth)
    lat.sort()
    return {"ops": len(lat) / elapsed, "p50": statistics.median(lat) * 1000,
            "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, "errors": failures,
            "login": statistics.median(logins) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"authenticated GETs of {args.objects} objects x2, {args.size} B, concurrency "
          f"{args.concurrency}, proxy workers {args.workers}")
    results = {name: measure(name, args) for name in SETUPS}
    print(f"{'auth':<10}{'GET ops/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'login ms':>10}")
    for name, row in results.items():
        print(f"{name:<10}{row['ops']:>11.0f}{row['p50']:>9.1f}{row['p99']:>9.1f}"
              f"{row['errors']:>8.0f}{row['login']:>10.0f}")
    print(f"swauth/tempauth GET ops/s: {results['swauth']['ops'] / results['tempauth']['ops']:.2f}")


if __name__ == "__main__":
    main()
