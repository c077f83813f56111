"""Command-line entry for every WSGI server daemon (proxy, object, container
and account servers): ``--config``, logging, serve.

Each server's ``main`` is one line: ``run_wsgi_daemon("object-server", ...)``.
"""
from __future__ import annotations

import configparser
import http.client
import logging
from typing import Callable

import eventlet
import eventlet.green.http.client

from objstore.common.constraints import load_constraints
from objstore.common.daemon_cli import daemon_argument_parser, exit_on_config_error, load_daemon_setup
from objstore.common.wsgi import WSGIApp, serve

AppFactory = Callable[[configparser.ConfigParser, logging.Logger], WSGIApp]


def allow_header_count(count: int) -> None:
    """Let the HTTP server parse requests with up to ``count`` headers (the
    stdlib stops at 100 with 431, before a request with too much metadata can
    get its 400 saying why)."""
    http.client._MAXHEADERS = count  # type: ignore[attr-defined]
    eventlet.green.http.client._MAXHEADERS = count  # type: ignore[attr-defined]


def run_wsgi_daemon(name: str, app_factory: AppFactory, default_port: int,
                    trust_txn_id: bool = True, argv: list[str] | None = None,
                    keep_header_case: bool = False) -> None:
    """Parse args, load the ``[name]`` section, build the app and serve it."""
    args = daemon_argument_parser(name, f"Run the objstore {name}.").parse_args(argv)
    eventlet.monkey_patch(all=False, socket=True, select=True, thread=True, time=True)
    with exit_on_config_error(name):
        setup = load_daemon_setup(name, args)
        allow_header_count(load_constraints(setup.conf).max_header_count)
        app = app_factory(setup.conf, setup.logger)
    serve(app, setup.options, setup.logger, default_port=default_port, trust_txn_id=trust_txn_id,
          keep_header_case=keep_header_case)
