"""The one INI configuration file shared by every daemon and tool.

Lookup order: an explicit ``--config`` path, then ``$OBJSTORE_CONFIG``, then
``/etc/objstore/objstore.conf``.  Each section belongs to one daemon or
middleware (``[object-server]``, ``[proxy-server]``, ``[filter:tempauth]``...);
``[objstore]`` holds cluster-wide settings such as the path-hash affixes and
the directory holding the rings.
"""
from __future__ import annotations

import configparser
import os
from typing import Mapping

DEFAULT_CONFIG_PATH = "/etc/objstore/objstore.conf"
CONFIG_ENV = "OBJSTORE_CONFIG"
CLUSTER_SECTION = "objstore"
DEFAULT_RING_DIR = "/etc/objstore"

TRUE_VALUES = frozenset({"true", "1", "yes", "on", "t", "y"})


class ConfigError(Exception):
    """The configuration is missing or wrong; the message says what to fix."""


def config_true_value(value: object) -> bool:
    """Swift's reading of a boolean option or header: true/1/yes/on/t/y, any case."""
    return value is True or (isinstance(value, str) and value.strip().lower() in TRUE_VALUES)


def resolve_config_path(explicit: str | None = None) -> str:
    return explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH


def load_config(path: str | None = None) -> configparser.ConfigParser:
    """Read the config file; raise ConfigError with a readable reason."""
    path = resolve_config_path(path)
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keep option case: user_<account>_<user> lines are case-sensitive
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path} (use --config or ${CONFIG_ENV})") from None
    except (OSError, configparser.Error) as err:
        raise ConfigError(f"cannot read config {path}: {err}") from None
    return parser


def section(conf: configparser.ConfigParser, name: str) -> dict[str, str]:
    """A section as a plain dict (empty if absent)."""
    return dict(conf[name]) if conf.has_section(name) else {}


def hash_path_affixes(conf: configparser.ConfigParser) -> tuple[bytes, bytes]:
    """The secret salt for path hashing; at least one of the two must be set."""
    cluster = section(conf, CLUSTER_SECTION)
    prefix = cluster.get("hash_path_prefix", "").encode()
    suffix = cluster.get("hash_path_suffix", "").encode()
    if not prefix and not suffix:
        raise ConfigError(f"[{CLUSTER_SECTION}] must set hash_path_prefix or hash_path_suffix")
    return prefix, suffix


def ring_dir(conf: configparser.ConfigParser) -> str:
    return section(conf, CLUSTER_SECTION).get("ring_dir", DEFAULT_RING_DIR)


def _get_number(options: Mapping[str, str], key: str, default, convert, what: str):
    """``options[key]`` through ``convert``; ``default`` when unset or empty."""
    raw = options.get(key)
    if raw is None or raw == "":
        return default
    try:
        return convert(raw)
    except ValueError:
        raise ConfigError(f"{key} must be {what}, got {raw!r}") from None


def get_int(options: Mapping[str, str], key: str, default: int) -> int:
    return _get_number(options, key, default, int, "an integer")


def get_float(options: Mapping[str, str], key: str, default: float) -> float:
    return _get_number(options, key, default, float, "a number")
