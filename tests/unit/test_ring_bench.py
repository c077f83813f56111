"""bench/ring_bench.py --quick runs and prints its table (so the benchmark does not rot)."""
from __future__ import annotations

import os
import subprocess
import sys

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "ring_bench.py")


def test_quick_benchmark_prints_a_table():
    done = subprocess.run([sys.executable, BENCH, "--quick", "--no-swift", "--lookups", "2000"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "rebalance from scratch (s)" in done.stdout
    assert "get_nodes per second" in done.stdout
    assert "replicas moved (%)" in done.stdout
