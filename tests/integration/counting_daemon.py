"""A background daemon for tests of the shared runner: each pass "processes"
``items`` numbers; at item ``block_at`` (if set) it marks ``busy_file`` and
works until a stop arrives, like a long unit of work that checks for one.

Run as ``python -m tests.integration.counting_daemon --config ... [--once]``.
"""
from __future__ import annotations

import configparser
import logging
from pathlib import Path

from objstore.common.background import BackgroundDaemon, PassProgress, run_background_daemon
from objstore.common.config import get_int, section

NAME = "counting-daemon"


class CountingDaemon(BackgroundDaemon):
    unit = "numbers"

    def __init__(self, conf: configparser.ConfigParser, logger: logging.Logger) -> None:
        options = section(conf, NAME)
        self.items = get_int(options, "items", 5)
        self.block_at = get_int(options, "block_at", -1)
        self.busy_file = Path(options.get("busy_file", "busy"))

    def run_once(self, progress: PassProgress) -> dict[str, int]:
        processed = 0
        for number in progress.items(range(self.items)):
            if number == self.block_at:
                self.busy_file.touch()
                progress.pause(60)  # ends as soon as SIGTERM arrives
                break
            processed += 1
        return {"processed": processed}


if __name__ == "__main__":
    raise SystemExit(run_background_daemon(NAME, CountingDaemon))
