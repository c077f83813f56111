"""``GET /healthcheck`` -> ``200 OK`` for load balancers and the all-in-one.

Used as the outermost useful layer of every daemon; setting ``disable_path``
to an existing file makes it answer 503 so an operator can drain a node.
"""
from __future__ import annotations

import configparser
import os
from typing import Callable, Iterable

from objstore.common.config import section
from objstore.common.http import Response
from objstore.common.wsgi import WSGIApp


class HealthCheck:
    def __init__(self, app: WSGIApp, disable_path: str = "") -> None:
        self.app = app
        self.disable_path = disable_path

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/healthcheck":
            return self.app(environ, start_response)
        if self.disable_path and os.path.exists(self.disable_path):
            status, body = 503, b"DISABLED BY FILE"
        else:
            status, body = 200, b"OK"
        return Response(status, {"content-type": "text/plain"}, body)(environ, start_response)


def server_healthcheck(app: WSGIApp, conf: configparser.ConfigParser,
                       section_name: str) -> HealthCheck:
    """A storage server's ``app`` behind /healthcheck, drained by the
    ``disable_path`` of its own config section."""
    return HealthCheck(app, section(conf, section_name).get("disable_path", ""))


def filter_factory(conf, options: dict) -> Callable[[WSGIApp], WSGIApp]:
    """Pipeline entry for the proxy (``healthcheck`` in ``[pipeline:main]``)."""
    return lambda app: HealthCheck(app, options.get("disable_path", ""))
