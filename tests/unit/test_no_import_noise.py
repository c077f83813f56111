"""Starting a daemon or a tool prints nothing before its own output (no eventlet notice)."""
import subprocess
import sys


def test_importing_the_daemon_runner_is_silent():
    result = subprocess.run([sys.executable, "-W", "default", "-c", "import objstore.common.wsgi_daemon, objstore.common.background"],
                            capture_output=True, text=True, timeout=60, check=True)
    assert result.stderr == ""
