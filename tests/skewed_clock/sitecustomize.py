"""A process whose wall clock is ``$OBJSTORE_TEST_CLOCK_SKEW`` seconds off.

Put this directory on a process's PYTHONPATH (``tests/integration/test_hosts_faults.py``
does it for one proxy): Python imports ``sitecustomize`` at start-up, before
any objstore module, so ``time.time`` and ``time.time_ns`` (and so every
timestamp and Date header the process makes) are shifted.  Monotonic clocks
and sleeps are left alone.  Test-only: the product knows nothing of it.
"""
import os
import time

_SKEW = float(os.environ.get("OBJSTORE_TEST_CLOCK_SKEW", "0") or 0)
if _SKEW:
    _real_time, _real_time_ns = time.time, time.time_ns
    time.time = lambda: _real_time() + _SKEW
    time.time_ns = lambda: _real_time_ns() + int(_SKEW * 1e9)
