"""Where an all-in-one cluster keeps its files, and the config files it writes.

One directory holds everything::

    DIR/aio.json            the cluster's settings (ports, replicas, hash salt): kept across restarts
    DIR/etc/proxy.conf      the proxy's config
    DIR/etc/node<N>.conf    node N's object, container and account servers
    DIR/etc/extra.conf      a copy of ``start --config EXTRA.conf``, merged into every config
    DIR/rings/              *.builder and *.ring.gz
    DIR/nodes/<N>/d<N>/     node N's disk for the replicated policy and the DBs (``devices = DIR/nodes/<N>``)
    DIR/nodes/<N>/d<N>ec<i>/ node N's disks of the erasure-coding policy's ring (k + m of them in all)
    DIR/recon/<N>/          node N's background daemons' stats files (its recon_cache_path)
    DIR/recon/proxy/        the proxy config's recon_cache_path (the token cleaner's stats)
    DIR/logs/<daemon>.log   each daemon's output
    DIR/run/<daemon>.pid    each daemon's pid

Everything here is pure (no sockets, no processes) so it is unit-testable.
"""
from __future__ import annotations

import configparser
import dataclasses
import importlib.util
import json
import os
import secrets

STATE_FILE = "aio.json"
STORAGE_KINDS = ("object", "container", "account")
DEFAULT_DIR = "~/.objstore-aio"
DIR_ENV = "OBJSTORE_AIO_DIR"

# ``--auth`` choices: the Swauth-style store in the cluster (the default), or
# tempauth's static users from the proxy config.
AUTH_SYSTEMS = ("swauth", "tempauth")


@dataclasses.dataclass(frozen=True)
class SaioUser:
    """A user every all-in-one has (Swift's SAIO users, which its functional tests expect)."""

    account: str
    user: str
    key: str
    admin: bool = False
    reseller_admin: bool = False
    groups: tuple[str, ...] = ()  # more groups, e.g. "service" for service tokens

    @property
    def name(self) -> str:
        return f"{self.account}:{self.user}"

    @property
    def roles(self) -> str:
        return " ".join(([".admin"] if self.admin else []) +
                        ([".reseller_admin"] if self.reseller_admin else []) + list(self.groups))


# Created in the Swauth-style store at every start unless they exist.
SWAUTH_USERS = (
    SaioUser("test", "tester", "testing", admin=True),
    SaioUser("test2", "tester2", "testing2", admin=True),
    SaioUser("test", "tester3", "testing3"),
    SaioUser("test5", "tester5", "testing5", groups=("service",)),
    SaioUser("test", "tester6", "testing6", reseller_admin=True),
)
# --auth tempauth: its static users (account, user, key, roles).
TEMPAUTH_USERS = (
    ("test", "tester", "testing", ".admin"),
    ("test2", "tester2", "testing2", ".admin"),
    ("test", "tester3", "testing3", ""),
    ("admin", "admin", "admin", ".admin .reseller_admin"),
)

# Middleware in pipeline order and their modules.  A filter is only put in
# the pipeline when its module is installed, so the all-in-one keeps working
# while middleware are added; of the auth filters (AUTH_SYSTEMS), only the
# cluster's own.
PIPELINE_FILTERS = (
    ("catch_errors", "proxy.middleware.catch_errors"),
    ("healthcheck", "objstore.common.healthcheck"),
    ("tempurl", "proxy.middleware.tempurl"),
    ("s3api", "proxy.s3.middleware"),
    ("formpost", "proxy.middleware.formpost"),
    ("swauth", "auth.swauth.middleware"),
    ("tempauth", "auth.tempauth"),
    ("dlo", "proxy.middleware.dlo"),
    ("slo", "proxy.middleware.slo"),
    ("copy", "proxy.middleware.copy"),
)



@dataclasses.dataclass(frozen=True)
class BackgroundProgram:
    """A background daemon every node runs: its name (config section and stats
    file), entry point (when its script is not installed) and pass interval."""

    name: str
    entry_point: str
    interval: int

    @property
    def program(self) -> str:
        return f"objstore-{self.name}"


# S3 allows 10,000 parts per multipart upload, and each one is a segment of an SLO:
# 16 MiB of manifest JSON holds 10,000 entries even for the longest keys.
SLO_FOR_S3 = {"max_manifest_segments": "10000", "max_manifest_size": str(16 * 1024 * 1024)}

# The background daemons of every node; one line per daemon.  Intervals are
# short so that an all-in-one converges within seconds of a change.
BACKGROUND_DAEMONS = (
    BackgroundProgram("object-auditor", "replicator.object_auditor:main", 30),
    BackgroundProgram("container-auditor", "replicator.db_auditor:main_container_auditor", 30),
    BackgroundProgram("account-auditor", "replicator.db_auditor:main_account_auditor", 30),
    BackgroundProgram("object-updater", "replicator.object_updater:main", 10),
    BackgroundProgram("container-replicator", "replicator.db_replicator:main_container", 15),
    BackgroundProgram("account-replicator", "replicator.db_replicator:main_account", 15),
    BackgroundProgram("object-replicator", "replicator.object_replicator:main", 15),
    BackgroundProgram("object-expirer", "replicator.object_expirer:main", 15),
    BackgroundProgram("object-reconstructor", "replicator.object_reconstructor:main", 15),
)
# With the Swauth-style store, one more for the whole cluster, on the proxy's
# config (it reads the store through the proxy pipeline): expired tokens go.
TOKEN_CLEANER = BackgroundProgram("auth-token-cleaner", "auth.swauth.cleanup:main", 30)

# The policies every all-in-one has: the replicated default and, next to it, an
# erasure-coding 4+2 policy (containers choose it with X-Storage-Policy: ec42).
POLICY_SECTIONS = {
    "storage-policy:0": {"name": "Policy-0", "default": "yes"},
    "storage-policy:1": {"name": "ec42", "policy_type": "erasure_coding",
                         "ec_type": "liberasurecode_rs_vand", "ec_num_data_fragments": "4",
                         "ec_num_parity_fragments": "2"},
}
EC_POLICY_INDEX = 1
EC_FRAGMENTS = 6

# Keys the all-in-one decides itself: an extra config cannot override them.
OWNED_KEYS = frozenset({"bind_ip", "bind_port", "devices", "mount_check", "ring_dir",
                        "hash_path_prefix", "hash_path_suffix", "log_file", "pipeline", "use",
                        "recon_cache_path", "stats_file", "super_admin_key"})


class LayoutError(Exception):
    """The directory or options are inconsistent; the message says what to do."""


@dataclasses.dataclass
class NodePorts:
    object: int
    container: int
    account: int

    def port(self, kind: str) -> int:
        return getattr(self, kind)


@dataclasses.dataclass
class ClusterState:
    """Settings fixed when the cluster is created (the rings depend on them)."""

    nodes: int
    replicas: int
    part_power: int
    proxy_port: int
    hash_path_suffix: str
    node_ports: list[NodePorts]
    auth: str = AUTH_SYSTEMS[0]
    # the proxy's super_admin_key; a cluster made before the Swauth-style store gets one at start
    super_admin_key: str = ""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "ClusterState":
        raw = json.loads(text)
        raw["node_ports"] = [NodePorts(**ports) for ports in raw["node_ports"]]
        return cls(**raw)


@dataclasses.dataclass(frozen=True)
class Daemon:
    """One process of the cluster: its name (``proxy``, ``object-2``...), port and config."""

    name: str
    kind: str  # proxy, object, container, account or a background daemon's name
    port: int  # 0 for a background daemon
    config: str
    node: int = 0


def resolve_dir(explicit: str | None) -> str:
    return os.path.abspath(os.path.expanduser(explicit or os.environ.get(DIR_ENV) or DEFAULT_DIR))


class Layout:
    """Paths of one all-in-one directory."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.etc = os.path.join(base, "etc")
        self.rings = os.path.join(base, "rings")
        self.logs = os.path.join(base, "logs")
        self.run = os.path.join(base, "run")
        self.state_file = os.path.join(base, STATE_FILE)
        self.extra_config = os.path.join(self.etc, "extra.conf")
        self.proxy_config = os.path.join(self.etc, "proxy.conf")

    def node_config(self, node: int) -> str:
        return os.path.join(self.etc, f"node{node}.conf")

    def devices(self, node: int) -> str:
        return os.path.join(self.base, "nodes", str(node))

    @staticmethod
    def device_name(node: int) -> str:
        return f"d{node}"

    @staticmethod
    def ec_device_names(node: int, nodes: int) -> list[str]:
        """Node ``node``'s devices in the EC ring: enough on every node for
        k + m devices in all (2 each on 3 nodes)."""
        return [f"d{node}ec{i}" for i in range(-(-EC_FRAGMENTS // nodes))]

    def recon_cache(self, node: int) -> str:
        return os.path.join(self.base, "recon", str(node))

    @property
    def proxy_recon_cache(self) -> str:
        return os.path.join(self.base, "recon", "proxy")

    def log_file(self, daemon: str) -> str:
        return os.path.join(self.logs, f"{daemon}.log")

    def pid_file(self, daemon: str) -> str:
        return os.path.join(self.run, f"{daemon}.pid")

    def exists(self) -> bool:
        return os.path.exists(self.state_file)

    def load_state(self) -> ClusterState:
        try:
            with open(self.state_file, encoding="utf-8") as handle:
                return ClusterState.from_json(handle.read())
        except FileNotFoundError:
            raise LayoutError(f"no all-in-one cluster in {self.base} (run 'objstore-aio start')") from None
        except (ValueError, TypeError, KeyError) as err:
            raise LayoutError(f"{self.state_file} is damaged ({err}); "
                              "'objstore-aio reset' wipes the cluster") from None

    def save_state(self, state: ClusterState) -> None:
        write_atomically(self.state_file, state.to_json())

    def make_dirs(self, state: ClusterState) -> None:
        for path in (self.etc, self.rings, self.logs, self.run):
            os.makedirs(path, exist_ok=True)
        for node in range(1, state.nodes + 1):
            for device in [self.device_name(node)] + self.ec_device_names(node, state.nodes):
                os.makedirs(os.path.join(self.devices(node), device), exist_ok=True)
            os.makedirs(self.recon_cache(node), exist_ok=True)
        os.makedirs(self.proxy_recon_cache, exist_ok=True)

    def daemons(self, state: ClusterState) -> list[Daemon]:
        """Every process of the cluster, storage nodes first, the proxy last."""
        found = [Daemon(f"{kind}-{node}", kind, ports.port(kind), self.node_config(node), node)
                 for node, ports in enumerate(state.node_ports, start=1) for kind in STORAGE_KINDS]
        found.append(Daemon("proxy", "proxy", state.proxy_port, self.proxy_config))
        return found

    def background_daemons(self, state: ClusterState) -> list[Daemon]:
        """Every node's background daemons (``object-auditor-1``...), node by node,
        then the token cleaner if the cluster keeps its users in the store."""
        found = [Daemon(f"{program.name}-{node}", program.name, 0, self.node_config(node), node)
                 for node in range(1, state.nodes + 1) for program in BACKGROUND_DAEMONS]
        if state.auth == "swauth":
            found.append(Daemon(TOKEN_CLEANER.name, TOKEN_CLEANER.name, 0, self.proxy_config))
        return found


def new_state(nodes: int, replicas: int, part_power: int, proxy_port: int,
              node_ports: list[NodePorts], auth: str = AUTH_SYSTEMS[0]) -> ClusterState:
    if nodes < 1:
        raise LayoutError("--nodes must be at least 1")
    if not 1 <= replicas <= nodes:
        raise LayoutError(f"--replicas must be between 1 and the number of nodes ({nodes})")
    if not 0 <= part_power <= 24:
        raise LayoutError("--part-power must be between 0 and 24")
    return ClusterState(nodes=nodes, replicas=replicas, part_power=part_power,
                        proxy_port=proxy_port, hash_path_suffix=secrets.token_hex(16),
                        node_ports=node_ports, auth=auth, super_admin_key=new_admin_key())


def new_admin_key() -> str:
    """A super admin key that pastes into a shell and never reads as an option (hex)."""
    return secrets.token_hex(16)


def module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def available_filters(auth: str) -> list[tuple[str, str]]:
    """(filter name, module) for each middleware that is installed, in pipeline order,
    with ``auth`` the one auth filter."""
    return [(name, module) for name, module in PIPELINE_FILTERS
            if (name == auth or name not in AUTH_SYSTEMS) and module_exists(module)]


def _cluster_section(layout: Layout, state: ClusterState) -> dict[str, str]:
    return {"hash_path_suffix": state.hash_path_suffix, "ring_dir": layout.rings}


def node_config(layout: Layout, state: ClusterState, node: int) -> configparser.ConfigParser:
    conf = new_parser()
    conf["objstore"] = {**_cluster_section(layout, state),
                        "recon_cache_path": layout.recon_cache(node)}
    conf.read_dict(POLICY_SECTIONS)
    ports = state.node_ports[node - 1]
    for kind in STORAGE_KINDS:
        conf[f"{kind}-server"] = {
            "bind_ip": "127.0.0.1",
            "bind_port": str(ports.port(kind)),
            "devices": layout.devices(node),
            "mount_check": "false",
            "workers": "0",
            "log_level": "INFO",
        }
    for program in BACKGROUND_DAEMONS:
        conf[program.name] = {"interval": str(program.interval), "log_level": "INFO"}
    # every node runs an expirer over the one cluster-wide queue: each takes its share
    conf["object-expirer"].update(processes=str(state.nodes), process=str(node - 1))
    return conf


def proxy_config(layout: Layout, state: ClusterState,
                 filters: list[tuple[str, str]]) -> configparser.ConfigParser:
    conf = new_parser()
    conf["objstore"] = {**_cluster_section(layout, state),
                        "recon_cache_path": layout.proxy_recon_cache}
    conf.read_dict(POLICY_SECTIONS)
    conf["proxy-server"] = {"bind_ip": "127.0.0.1", "bind_port": str(state.proxy_port),
                            "workers": "2", "log_level": "INFO"}
    conf["pipeline:main"] = {"pipeline": " ".join([name for name, _ in filters] + ["proxy-server"])}
    for name, module in filters:
        conf[f"filter:{name}"] = {"use": f"{module}:filter_factory"}
    for name in ("filter:tempurl", "filter:formpost"):
        if conf.has_section(name):
            # SHA-1 too (Swift's default is SHA-256 and SHA-512 only), so old clients' URLs work
            conf[name]["allowed_digests"] = "sha1 sha256 sha512"
    if conf.has_section("filter:tempauth"):
        for account, user, key, roles in TEMPAUTH_USERS:
            conf["filter:tempauth"][f"user_{account}_{user}"] = f"{key} {roles}".strip()
    if conf.has_section("filter:slo"):
        conf["filter:slo"].update(SLO_FOR_S3)
    if conf.has_section("filter:swauth"):
        # SERVICE_ accounts need a second token from a "service" user (test5:tester5), as in
        # Swift's SAIO
        conf["filter:swauth"].update({"super_admin_key": state.super_admin_key,
                                      "reseller_prefix": "AUTH, SERVICE",
                                      "SERVICE_require_group": "service"})
        conf[TOKEN_CLEANER.name] = {"interval": str(TOKEN_CLEANER.interval), "log_level": "INFO"}
    return conf


def new_parser() -> configparser.ConfigParser:
    conf = configparser.ConfigParser(interpolation=None)
    conf.optionxform = str  # user_<account>_<user> keys are case-sensitive
    return conf


def merge_extra(conf: configparser.ConfigParser, extra: configparser.ConfigParser) -> None:
    """Add the extra config's sections and keys; the all-in-one's own keys stay."""
    for name in extra.sections():
        if not conf.has_section(name):
            conf.add_section(name)
        for key, value in extra[name].items():
            if key not in OWNED_KEYS:
                conf[name][key] = value


def read_extra(path: str) -> configparser.ConfigParser:
    extra = new_parser()
    try:
        with open(path, encoding="utf-8") as handle:
            extra.read_file(handle)
    except (OSError, configparser.Error) as err:
        raise LayoutError(f"cannot read extra config {path}: {err}") from None
    return extra


def render(conf: configparser.ConfigParser) -> str:
    lines = []
    for name in conf.sections():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {value}" for key, value in conf[name].items())
        lines.append("")
    return "\n".join(lines)


def write_configs(layout: Layout, state: ClusterState,
                  filters: list[tuple[str, str]] | None = None) -> None:
    """(Re)write every daemon's config from the state and the extra config."""
    extra = read_extra(layout.extra_config) if os.path.exists(layout.extra_config) else new_parser()
    if filters is None:
        filters = available_filters(state.auth)
    configs = {layout.proxy_config: proxy_config(layout, state, filters)}
    for node in range(1, state.nodes + 1):
        configs[layout.node_config(node)] = node_config(layout, state, node)
    for path, conf in configs.items():
        merge_extra(conf, extra)
        write_atomically(path, render(conf))


def write_atomically(path: str, text: str) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
