"""Prepare an all-in-one's Swauth-style auth store and create its SAIO users and S3 key, at
every start.

Everything goes through the admin API with the ``objstore-auth-*`` commands,
as ``.super_admin`` with the cluster's ``super_admin_key``: the same calls an
operator makes.  ``.prep`` is idempotent and the users and the S3 key are added with
``--if-missing``, so a start never changes a user or key that exists (an operator's
new key stays, and so do its tokens).  All the commands run in one child
process (``client.auth_cli.main``, the code behind the programs), sparing a
Python start-up per command: about 0.4 s each here.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

from aio.layout import SWAUTH_USERS, ClusterState, LayoutError, SaioUser

# Runs each (command, arguments) read from stdin through objstore-auth-<command>;
# stops at the first failure (which has printed its one-line error).
_RUNNER = """
import json, sys
from client.auth_cli import main
for command, args in json.load(sys.stdin):
    status = main(command, args)
    if status:
        sys.exit(status)
"""
SETUP_TIMEOUT = 60.0
RETRY_DELAY = 1.0  # after a 503 (the store's containers not answering yet)
# The S3 key pair every all-in-one has: test:tester's, with the values tempauth would
# take (access key account:user, secret its key), so S3 examples work on either auth.
S3_KEY = ("test", "tester", "test:tester", "testing")  # account, user, access key, secret


def admin_url(state: ClusterState) -> str:
    return f"http://127.0.0.1:{state.proxy_port}/auth/"


def add_user_arguments(user: SaioUser) -> list[str]:
    """Storage account ``AUTH_<account>`` (``-s``), as with tempauth and in Swift's SAIO."""
    flags = (["-a"] if user.admin else []) + (["-r"] if user.reseller_admin else []) + \
        (["-g", ",".join(user.groups)] if user.groups else [])
    return flags + ["-s", user.account, user.account, user.user, user.key]


def setup_commands(state: ClusterState) -> list[tuple[str, list[str]]]:
    """The objstore-auth-* commands that prepare the store and add the missing SAIO users."""
    admin = ["-A", admin_url(state), "-K", state.super_admin_key]
    commands = [("prep", admin)]
    commands += [("add-user", admin + ["--if-missing"] + add_user_arguments(user))
                 for user in SWAUTH_USERS]
    account, user, access_key, secret = S3_KEY
    commands.append(("add-s3-key", admin + ["--if-missing", "--access-key", access_key,
                                            "--secret-key", secret, account, user]))
    return commands


def ensure_users(state: ClusterState) -> None:
    """Run the setup commands against the running proxy; LayoutError says what failed.

    Fresh daemons on a loaded machine may answer 503 for a while: every command is
    idempotent, so the whole setup runs again until it passes or SETUP_TIMEOUT ends."""
    deadline = time.monotonic() + SETUP_TIMEOUT
    while True:
        try:
            result = subprocess.run([sys.executable, "-c", _RUNNER],
                                    input=json.dumps(setup_commands(state)), capture_output=True,
                                    text=True, timeout=max(1.0, deadline - time.monotonic()),
                                    check=False)
        except subprocess.TimeoutExpired:
            raise LayoutError(f"preparing the auth store took more than "
                              f"{SETUP_TIMEOUT:.0f}s") from None
        if not result.returncode:
            return
        if " 503 " not in result.stderr or time.monotonic() + RETRY_DELAY > deadline:
            raise LayoutError(f"preparing the auth store failed: {result.stderr.strip()}")
        time.sleep(RETRY_DELAY)
