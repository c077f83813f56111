"""``objstore-aio`` itself: status, idempotent start, and a daemon that dies while starting."""
import subprocess

from aio.processes import program
from tests.support import free_port


def server_lines(status_output: str) -> list[str]:
    """The servers' table of ``objstore-aio status`` (the background daemons' follows it)."""
    return status_output.split("\n\n")[0].splitlines()[1:]


def test_status_and_second_start(cluster):
    status = cluster.aio("status")
    lines = server_lines(status.stdout)
    assert len(lines) == 4 * 3 + 1
    assert all(line.endswith("healthy") for line in lines), status.stdout
    again = cluster.aio("start")
    assert "already running ('objstore-aio restart' applies config changes)" in again.stdout
    assert "objstore-aio status | stop | restart | reset" in again.stdout
    refused = cluster.aio("restart", "--part-power", "12", check=False)
    assert refused.returncode == 1 and "reset' first" in refused.stderr
    bad_config = cluster.aio("restart", "--config", "/nonexistent.conf", check=False)
    assert bad_config.returncode == 1 and "cannot read extra config" in bad_config.stderr
    # refused before stopping anything: the cluster still serves
    assert all(line.endswith("healthy") for line in server_lines(cluster.aio("status").stdout))
    assert cluster.auth_url in again.stdout


def test_a_daemon_dying_at_start_is_reported_with_its_log(tmp_path):
    extra = tmp_path / "extra.conf"
    extra.write_text("[object-server]\nworkers = lots\n")
    base = str(tmp_path / "broken")

    def aio(*args):
        return subprocess.run(program("objstore-aio") + [args[0], "--dir", base, *args[1:]],
                              capture_output=True, text=True, timeout=120, check=False)
    try:
        result = aio("start", "--nodes", "1", "--replicas", "1", "--part-power", "2",
                     "--port", str(free_port()), "--config", str(extra), "--timeout", "30")
        assert result.returncode == 1
        assert "object-1 exited while starting" in result.stderr
        assert "workers" in result.stderr  # the end of its log says why
    finally:
        assert aio("stop").returncode == 0
