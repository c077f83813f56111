"""The proxy-server WSGI app (last in the pipeline) and the daemon's entry point.

``Application`` parses the path, asks the auth middleware (``swift.authorize``)
and hands the request to the account, container or object controller, which
talk to the storage nodes found in the rings.  ``app_factory`` wraps it in the
``[pipeline:main]`` middleware.
"""
from __future__ import annotations

import configparser
import json
import logging
from typing import Callable, Iterable

from objstore.common.checks import path_names_error
from objstore.common.config import ConfigError, config_true_value, get_float, get_int, section
from objstore.common.constraints import load_constraints, wsgi_to_str
from objstore.common.error_limiter import ErrorLimiter
from objstore.common.fanout import FanOut
from objstore.common.paths import API_VERSIONS, leading_path, split_path
from objstore.common.wsgi_daemon import run_wsgi_daemon
from objstore.common.policies import StoragePolicy, load_policies
from objstore.common.wsgi import WSGIApp
from proxy import cors
from objstore.common.backend_http import BackendConnection, ConnectionPool, Connector, backend_path
from proxy.controllers.account import AccountController
from proxy.controllers.base import AuthRequest, Controller
from proxy.controllers.container import ContainerController
from proxy.controllers.obj import object_controller
from proxy.controllers.reader import Reader
from objstore.common.http import HTTPError, Response, error_response
from proxy.http import Request
from proxy.info import capabilities
from proxy.internal.subrequest import is_system_request
from proxy.infocache import (INFOCACHE, Generations, TTLCache, account_info_from, account_key,
                             container_info_from, container_key)
from proxy.pipeline import load_pipeline
from ring.errors import RingError
from ring.ring import Ring, load_ring

SECTION = "proxy-server"
RingLoader = Callable[[configparser.ConfigParser, str, int], object]


def _load_ring(conf: configparser.ConfigParser, kind: str, policy_index: int = 0) -> Ring:
    try:
        return load_ring(conf, kind, policy_index)
    except RingError as err:
        raise ConfigError(f"cannot load the {kind} ring: {err}") from None


def unknown_policy(policy_index: str | int) -> HTTPError:
    """A container names a storage policy this proxy's config lacks.  503, as
    Swift answers ("Unknown Storage Policy"): the request is fine, and the
    likely cause is a policy added to the cluster's config after this proxy
    started, which a restart with that config cures; the body says so, so it
    is not mistaken for storage nodes being down."""
    return HTTPError(503, f"Unknown storage policy {policy_index}: this proxy's config has no "
                          "policy with that index (added after the proxy started? restart it with "
                          "the cluster's config)")


class Application:
    """The Swift v1 API on top of the rings and storage nodes."""

    def __init__(self, conf: configparser.ConfigParser, logger: logging.Logger, *,
                 ring_loader: RingLoader = _load_ring,
                 connect: Connector | None = None) -> None:
        options = section(conf, SECTION)
        self.logger = logger
        self.constraints = load_constraints(conf)
        self.policies = load_policies(conf)
        self.cors_allow_origin = frozenset(options.get("cors_allow_origin", "").replace(",", " ").split())
        self.fanout = self._fanout(options, logger, connect)
        self.account_autocreate = config_true_value(options.get("account_autocreate", "true"))
        self.allow_account_management = config_true_value(
            options.get("allow_account_management", "false"))
        generations = Generations()  # made before the workers fork: shared by them
        self.container_cache = TTLCache(get_float(options, "recheck_container_existence", 10.0),
                                        generations=generations)
        self.account_cache = TTLCache(get_float(options, "recheck_account_existence", 10.0),
                                      generations=generations)
        if config_true_value(options.get("object_post_as_copy", "false")):
            logger.warning("object_post_as_copy = true is not supported; POST updates "
                           "metadata in place")
        self.account_ring = ring_loader(conf, "account", 0)
        self.container_ring = ring_loader(conf, "container", 0)
        self.object_rings = {p.index: ring_loader(conf, "object", p.index) for p in self.policies}

    @staticmethod
    def _fanout(options: dict[str, str], logger: logging.Logger, connect: Connector | None) -> FanOut:
        """The one FanOut of this worker: connection pool, timeouts, error limiter."""
        pool_size = get_int(options, "backend_pool_size", 32)
        sorting_method = options.get("sorting_method", "shuffle").lower()
        if sorting_method not in ("shuffle", "none"):
            raise ConfigError("[proxy-server] sorting_method must be 'shuffle' or 'none'")
        node_timeout = get_float(options, "node_timeout", 10.0)
        return FanOut(
            connect or (ConnectionPool(pool_size).connect if pool_size > 0 else BackendConnection),
            ErrorLimiter(get_int(options, "error_suppression_limit", 10),
                         get_float(options, "error_suppression_interval", 60.0), logger,
                         probe_interval=get_float(options, "error_suppression_probe_interval", 2.0)),
            logger,
            conn_timeout=get_float(options, "conn_timeout", 0.5),
            node_timeout=node_timeout,
            recoverable_node_timeout=get_float(options, "recoverable_node_timeout", node_timeout),
            post_quorum_timeout=get_float(options, "post_quorum_timeout", 0.5),
            shuffle_reads=sorting_method == "shuffle")

    # ---- helpers the controllers use ----------------------------------------------
    @staticmethod
    def backend_path(part: int, wsgi_path: str) -> str:
        return backend_path(part, wsgi_path)

    @staticmethod
    def wants_newest(req: Request) -> bool:
        return config_true_value(req.headers.get("x-newest", ""))

    def storage_policy(self, policy_index: str | int) -> StoragePolicy:
        """The policy a container names; HTTPError 503 if this proxy has none."""
        policy = self.policies.get_by_index(policy_index)
        if policy is None:
            self.logger.error("container names storage policy index %r, unknown to this proxy",
                              str(policy_index)[:40])
            raise unknown_policy(policy_index)
        return policy

    def object_ring(self, policy_index: str | int) -> Ring:
        return self.object_rings[self.storage_policy(policy_index).index]

    def _cache_for(self, key: str) -> TTLCache:
        return self.container_cache if key.startswith("container/") else self.account_cache

    def remember_info(self, env: dict, key: str, info: dict, generation: int | None = None) -> None:
        """Keep ``info`` for this request and (if it exists) this worker;
        ``generation``: the cache generation read before fetching it."""
        env.setdefault(INFOCACHE, {})[key] = info
        if info["status"] // 100 == 2:
            self._cache_for(key).put(key, info, generation)

    def info_generation(self, key: str) -> int:
        """Read before fetching info to ``remember_info`` (see infocache.Generations)."""
        return self._cache_for(key).generation(key)

    def forget_info(self, env: dict, key: str) -> None:
        env.setdefault(INFOCACHE, {}).pop(key, None)
        self._cache_for(key).pop(key)

    def _info(self, req: Request, wsgi_path: str, key: str, ring, names: tuple[str, ...],
              from_headers) -> dict:
        """``wsgi_path``: the raw path of the item or of something in it."""
        env = req.environ
        infocache = env.setdefault(INFOCACHE, {})
        info = infocache.get(key) or self._cache_for(key).get(key)
        if info is not None:
            infocache[key] = info
            return info
        generation = self.info_generation(key)
        part = ring.get_part(*names)
        wsgi_path = leading_path(wsgi_path, len(names))
        reader = Reader(self.fanout, self.fanout.read_nodes(ring, part), backend_path(part, wsgi_path),
                        {"X-Trans-Id": req.txn_id}, "HEAD", "")
        resp, status = reader.fetch()
        if resp is not None:
            resp.close()
        info = from_headers(status, resp.headers if resp else {})
        self.remember_info(env, key, info, generation)
        return info

    def container_info(self, req: Request, wsgi_path: str, account: str, container: str) -> dict:
        return self._info(req, wsgi_path, container_key(account, container), self.container_ring,
                          (account, container), container_info_from)

    def account_info(self, req: Request, wsgi_path: str, account: str) -> dict:
        return self._info(req, wsgi_path, account_key(account), self.account_ring, (account,),
                          account_info_from)

    def ensure_account(self, req: Request, wsgi_path: str, account: str) -> Response | None:
        """None if the account exists (auto-creating it if allowed), else the error."""
        status = self.account_info(req, wsgi_path, account)["status"]
        if status // 100 == 2:
            return None
        if status != 404:
            return error_response(503, "Account info unavailable: no account server answered")
        if not self.account_autocreate:
            return error_response(404, "Account not found")
        account_path = leading_path(wsgi_path, 1)
        created = AccountController(self, req, account_path, account).fan_out("PUT", {})
        if created.status // 100 != 2:
            return error_response(503 if created.status >= 500 else created.status,
                                  "Could not create the account")
        return None

    # ---- WSGI ---------------------------------------------------------------------
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        req = Request(environ)
        try:
            response = self.handle(req)
        except HTTPError as err:
            response = err.response
        return response(environ, start_response)

    def handle(self, req: Request) -> Response:
        if req.path.rstrip("/") == "/info":
            return self.info(req)
        parsed = self.parse_path(req)
        if isinstance(parsed, Response):
            return parsed
        handler = getattr(parsed, req.method, None) if req.method.isupper() else None
        if handler is None:
            return error_response(405, f"Method {req.method} not allowed here",
                                  {"allow": ", ".join(parsed.allowed_methods())})
        origin = req.headers.get("origin")
        if origin and req.method == "OPTIONS" and (
                parsed.container is not None or "access-control-request-method" in req.headers):
            # a browser's preflight carries no credentials: the CORS rules decide
            # (as in Swift, below an account an OPTIONS with Origin is a preflight,
            # 401 without an allowed Access-Control-Request-Method)
            return cors.preflight(origin, req.headers, self._cors_info(parsed),
                                  self.cors_allow_origin, parsed.allowed_methods())
        response = self._authorized(req, parsed, handler)
        if origin and isinstance(response, Response):
            cors.add_actual_headers(response, origin, self._cors_info(parsed),
                                    self.cors_allow_origin)
        return response

    def _authorized(self, req: Request, ctrl: Controller, handler: Callable[[], Response]) -> Response:
        """``handler()`` if the auth middleware (if any) allows it, else its denial."""
        env = req.environ
        authorize = env.get("swift.authorize")
        if is_system_request(env):
            env["swift_owner"] = True  # pre-authorized by the cluster itself: no one to ask
        elif authorize is None:
            env.setdefault("swift_owner", True)  # no auth middleware: no one to ask
        else:
            denial = authorize(AuthRequest(env))
            if denial is not None:
                if req.method not in ctrl.delay_denial:
                    return denial
                return handler()  # asks again once the container ACL is known
        if authorize is None:
            return handler()
        del env["swift.authorize"]
        try:
            return handler()
        finally:
            env["swift.authorize"] = authorize

    def _cors_info(self, ctrl: Controller) -> dict | None:
        """The container info holding the CORS rules (None at account level)."""
        if ctrl.container is None:
            return None
        return self.container_info(ctrl.req, ctrl.wsgi_path, ctrl.account, ctrl.container)

    def parse_path(self, req: Request) -> Controller | Response:
        """The controller for ``/v1/<account>[/<container>[/<object>]]``; errors
        as Swift: 404 for an empty name before the last one (``//v1/a``,
        ``/v1//c/o``, ``/v1/a//o``), 400 for an unknown API version, 412 ``Bad
        URL`` without an account (``/v1``, ``/v1/``)."""
        decoded = wsgi_to_str(req.path)
        if decoded is None or "\x00" in decoded:
            return error_response(412, "Invalid UTF8 or contains NULL", newline=False)
        try:
            version, *raw = split_path(req.path, 1, 4, rest_with_last=True)
        except ValueError:
            return error_response(404, "Not Found: the API is at /v1/<account>")
        raw = [name for name in raw if name is not None]  # account[, container[, object]]
        if raw and not raw[-1]:
            raw.pop()  # "/v1/a/" is the account, "/v1/a/c/" the container
        if "" in raw:
            return error_response(404, "Not Found: the API is at /v1/<account>")
        if raw and version not in API_VERSIONS:
            return error_response(400, f"Invalid API version {version!r}: the API is at /v1")
        if not raw:
            return error_response(412, "Bad URL", newline=False)
        names = [wsgi_to_str(p) for p in raw]
        bad_name = path_names_error(names, self.constraints)  # type: ignore[arg-type]
        if bad_name:
            return error_response(400, bad_name)
        wsgi_path = "/" + "/".join(raw)
        controller = (AccountController, ContainerController, object_controller)[len(names) - 1]
        return controller(self, req, wsgi_path, *names)

    def info(self, req: Request) -> Response:
        if req.method == "OPTIONS":
            return Response(200, {"allow": "GET, HEAD, OPTIONS", "content-length": "0"}, [])
        if req.method not in ("GET", "HEAD"):
            return error_response(405, "Method not allowed", {"allow": "GET, HEAD, OPTIONS"})
        swift = {"version": "objstore-0.1.0", **self.constraints.as_info(),
                 "valid_api_versions": list(API_VERSIONS), "strict_cors_mode": True,
                 "account_autocreate": self.account_autocreate,
                 "allow_account_management": self.allow_account_management,
                 "policies": [{"name": p.name, "aliases": p.name,
                               **({"default": True} if p.is_default else {}),
                               **({"policy_type": p.policy_type} if p.policy_type != "replication"
                                  else {})}
                              for p in self.policies if not p.is_deprecated]}
        info = capabilities()
        info["swift"] = {**swift, **info.get("swift", {})}
        body = json.dumps(info).encode()
        return Response(200, {"content-type": "application/json; charset=UTF-8"}, body)


def app_factory(conf: configparser.ConfigParser, logger: logging.Logger) -> WSGIApp:
    """The proxy app wrapped in the configured middleware pipeline."""
    return load_pipeline(conf, Application(conf, logger))


def main(argv: list[str] | None = None) -> None:
    # header names as written: S3 clients read x-amz-meta-* names from the wire as they are
    run_wsgi_daemon(SECTION, app_factory, 8080, trust_txn_id=False, argv=argv, keep_header_case=True)
