"""The command line every daemon shares: ``--config``, ``--verbose``, its
config section and its logger.

WSGI servers (``wsgi_daemon``) and background daemons (``background``) start
the same way, so an operator reads one set of options and one log format.
"""
from __future__ import annotations

import argparse
import configparser
import logging
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from objstore.common.config import ConfigError, load_config, section
from objstore.common.logs import get_logger


@dataclass(frozen=True)
class DaemonSetup:
    """What a daemon has once its command line and config are read."""
    conf: configparser.ConfigParser
    options: dict[str, str]  # the daemon's own ``[name]`` section
    logger: logging.Logger


def daemon_argument_parser(name: str, description: str) -> argparse.ArgumentParser:
    """``objstore-<name> [--config PATH] [--verbose]``; callers may add options."""
    parser = argparse.ArgumentParser(prog=f"objstore-{name}", description=description)
    parser.add_argument("--config", help="config file (default: $OBJSTORE_CONFIG or "
                                         "/etc/objstore/objstore.conf)")
    parser.add_argument("--verbose", action="store_true",
                        help="log at DEBUG level, whatever log_level says")
    return parser


def load_daemon_setup(name: str, args: argparse.Namespace) -> DaemonSetup:
    """Read the config and the ``[name]`` section; raises ConfigError."""
    conf = load_config(args.config)
    options = section(conf, name)
    level = "DEBUG" if args.verbose else options.get("log_level", "INFO")
    logger = get_logger(name, level, log_file=options.get("log_file") or None)
    return DaemonSetup(conf, options, logger)


@contextmanager
def exit_on_config_error(name: str) -> Iterator[None]:
    """A wrong config ends the daemon with one readable line, not a traceback."""
    try:
        yield
    except ConfigError as err:
        sys.exit(f"objstore-{name}: {err}")
