"""Command-line entry for every server daemon: ``--config``, logging, serve.

The scripts in ``bin/`` are one line each: ``run_daemon("object-server", ...)``.
"""
from __future__ import annotations

import argparse
import configparser
import http.client
import logging
import sys
from typing import Callable

import eventlet
import eventlet.green.http.client

from objstore.common.config import ConfigError, load_config, section
from objstore.common.constraints import load_constraints
from objstore.common.logs import get_logger
from objstore.common.wsgi import WSGIApp, serve

AppFactory = Callable[[configparser.ConfigParser, logging.Logger], WSGIApp]


def allow_header_count(count: int) -> None:
    """Let the HTTP server parse requests with up to ``count`` headers (the
    stdlib stops at 100 with 431, before a request with too much metadata can
    get its 400 saying why)."""
    http.client._MAXHEADERS = count  # type: ignore[attr-defined]
    eventlet.green.http.client._MAXHEADERS = count  # type: ignore[attr-defined]


def run_daemon(name: str, app_factory: AppFactory, default_port: int,
               trust_txn_id: bool = True, argv: list[str] | None = None) -> None:
    """Parse args, load the ``[name]`` section, build the app and serve it."""
    parser = argparse.ArgumentParser(prog=f"objstore-{name}", description=f"Run the objstore {name}.")
    parser.add_argument("--config", help="config file (default: $OBJSTORE_CONFIG or "
                                         "/etc/objstore/objstore.conf)")
    args = parser.parse_args(argv)
    eventlet.monkey_patch(all=False, socket=True, select=True, thread=True, time=True)
    try:
        conf = load_config(args.config)
        options = section(conf, name)
        logger = get_logger(name, options.get("log_level", "INFO"),
                            log_file=options.get("log_file") or None)
        allow_header_count(load_constraints(conf).max_header_count)
        app = app_factory(conf, logger)
    except ConfigError as err:
        sys.exit(f"objstore-{name}: {err}")
    serve(app, options, logger, default_port=default_port, trust_txn_id=trust_txn_id)
