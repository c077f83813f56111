"""Build the middleware pipeline declared in the config.

::

    [pipeline:main]
    pipeline = catch_errors healthcheck s3api tempauth dlo slo copy proxy-server

    [filter:mymw]
    use = mypkg.mymodule:filter_factory

Each name is a ``[filter:<name>]`` section whose ``use = module:callable``
names a ``filter_factory(conf, options) -> (app -> app)``; well-known names
need no ``use``.  The gatekeeper (strips internal headers clients must not
send or see) is inserted right after ``catch_errors`` unless listed.
"""
from __future__ import annotations

import configparser
import importlib
from typing import Callable

from objstore.common.config import ConfigError, section
from objstore.common.wsgi import WSGIApp

APP_NAME = "proxy-server"
BUILTIN_FILTERS = {
    "catch_errors": "proxy.middleware.catch_errors:filter_factory",
    "gatekeeper": "proxy.middleware.gatekeeper:filter_factory",
    "healthcheck": "objstore.common.healthcheck:filter_factory",
    "s3api": "proxy.s3.middleware:filter_factory",
    "tempauth": "auth.tempauth:filter_factory",
    "swauth": "auth.swauth.middleware:filter_factory",
    "slo": "proxy.middleware.slo:filter_factory",
    "dlo": "proxy.middleware.dlo:filter_factory",
    "copy": "proxy.middleware.copy:filter_factory",
    "tempurl": "proxy.middleware.tempurl:filter_factory",
    "formpost": "proxy.middleware.formpost:filter_factory",
}
DEFAULT_PIPELINE = "catch_errors gatekeeper healthcheck proxy-server"

Filter = Callable[[WSGIApp], WSGIApp]


def pipeline_names(conf: configparser.ConfigParser) -> list[str]:
    """The filter names in order, ending with ``proxy-server``."""
    line = section(conf, "pipeline:main").get("pipeline", DEFAULT_PIPELINE)
    names = line.split()
    if not names or names[-1] != APP_NAME:
        raise ConfigError(f"[pipeline:main] pipeline must end with {APP_NAME}, got {line!r}")
    if APP_NAME in names[:-1]:
        raise ConfigError(f"[pipeline:main] lists {APP_NAME} more than once")
    if "gatekeeper" not in names:
        at = names.index("catch_errors") + 1 if "catch_errors" in names else 0
        names.insert(at, "gatekeeper")
    return names


def load_filter(conf: configparser.ConfigParser, name: str) -> Filter:
    """Import ``[filter:<name>] use = module:callable`` and call it."""
    options = section(conf, f"filter:{name}")
    spec = options.get("use") or BUILTIN_FILTERS.get(name)
    if not spec:
        raise ConfigError(f"pipeline filter {name!r}: no [filter:{name}] section with "
                          f"'use = module:filter_factory' (known names: "
                          f"{', '.join(sorted(BUILTIN_FILTERS))})")
    module_name, _, attr = spec.partition(":")
    attr = attr or "filter_factory"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and module_name.startswith(err.name):
            raise ConfigError(f"pipeline filter {name!r}: module {module_name!r} "
                              f"not found (use = {spec})") from None
        raise ConfigError(f"pipeline filter {name!r}: importing {module_name!r} "
                          f"failed: {err}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ConfigError(f"pipeline filter {name!r}: {module_name!r} has no callable {attr!r}")
    return factory(conf, options)


def load_pipeline(conf: configparser.ConfigParser, app: WSGIApp,
                  names: list[str] | None = None) -> WSGIApp:
    """``app`` wrapped in the filters ``names`` (default: the configured
    pipeline's), first name outermost."""
    if names is None:
        names = pipeline_names(conf)[:-1]
    filters = [load_filter(conf, name) for name in names]
    for make in reversed(filters):
        app = make(app)
    return app
