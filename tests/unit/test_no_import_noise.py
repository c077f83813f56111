"""Starting a daemon or a tool prints nothing before its own output (no eventlet notice)."""
import subprocess
import sys

import pytest


def test_importing_the_daemon_runner_is_silent():
    result = subprocess.run([sys.executable, "-W", "default", "-c", "import objstore.common.wsgi_daemon, objstore.common.background"],
                            capture_output=True, text=True, timeout=60, check=True)
    assert result.stderr == ""


@pytest.mark.parametrize("module", ["replicator.object_auditor", "replicator.db_auditor",
                                    "replicator.object_updater", "replicator.object_expirer"])
def test_importing_a_background_daemon_is_silent(module):
    """As its bin/ script runs it (webob's own DeprecationWarning is hidden there)."""
    result = subprocess.run([sys.executable, "-c", f"import {module}"],
                            capture_output=True, text=True, timeout=60, check=True)
    assert result.stderr == ""
