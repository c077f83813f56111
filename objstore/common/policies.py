"""Storage policies: which object ring and on-disk directory an object uses.

Declared in the config as ``[storage-policy:<index>]`` sections::

    [storage-policy:0]
    name = gold
    default = yes

    [storage-policy:1]
    name = ec42
    policy_type = erasure_coding
    ec_type = liberasurecode_rs_vand
    ec_num_data_fragments = 4
    ec_num_parity_fragments = 2
    # bytes per segment (default 1 MiB)
    ec_object_segment_size = 1048576

An erasure-coding policy is checked with pyeclib when the config is loaded
(an unknown ``ec_type`` or a scheme the library refuses is a ConfigError),
so a daemon never starts with a policy it cannot encode.

With no policy sections the cluster has one replicated policy 0 ("Policy-0").
"""
from __future__ import annotations

import configparser
import dataclasses
import re

from objstore.common.config import ConfigError, config_true_value, get_int
from objstore.common.erasure import SegmentLayout, driver

REPLICATION = "replication"
ERASURE_CODING = "erasure_coding"
POLICY_TYPES = (REPLICATION, ERASURE_CODING)
_SECTION = re.compile(r"^storage-policy:(\d+)$")
_VALID_NAME = re.compile(r"^[A-Za-z0-9-]+$")


def majority(replicas: int) -> int:
    """Copies that must agree when every node holds a whole copy (and for
    account and container records)."""
    return replicas // 2 + 1


@dataclasses.dataclass(frozen=True)
class StoragePolicy:
    index: int
    name: str
    policy_type: str = REPLICATION
    is_default: bool = False
    is_deprecated: bool = False
    ec_type: str | None = None
    ec_ndata: int = 0
    ec_nparity: int = 0
    ec_segment_size: int = 1048576

    def quorum(self, replicas: int) -> int:
        """Nodes whose success makes a write of this policy durable: a majority
        of whole replicas; for erasure coding, enough fragments to decode plus
        one (``ec_num_data_fragments + 1``, Swift's rule for Reed-Solomon:
        k + pyeclib's min_parity_fragments_needed, which is 1)."""
        if self.policy_type == ERASURE_CODING:
            return self.ec_ndata + 1
        return majority(replicas)

    @property
    def is_erasure_coded(self) -> bool:
        return self.policy_type == ERASURE_CODING

    @property
    def ec_layout(self) -> SegmentLayout:
        """Segments and fragments of this (erasure-coding) policy's objects."""
        return SegmentLayout(self.ec_type or "", self.ec_ndata, self.ec_nparity,
                             self.ec_segment_size)

    @property
    def node_count(self) -> int | None:
        """Primaries the object ring must have: k + m for erasure coding (None: any)."""
        return self.ec_ndata + self.ec_nparity if self.is_erasure_coded else None

    @property
    def ring_name(self) -> str:
        """``object`` for policy 0, ``object-N`` otherwise (file: <ring_name>.ring.gz)."""
        return "object" if self.index == 0 else f"object-{self.index}"

    @property
    def data_dir(self) -> str:
        """Per-device directory holding this policy's objects."""
        return "objects" if self.index == 0 else f"objects-{self.index}"

    @property
    def async_dir(self) -> str:
        return "async_pending" if self.index == 0 else f"async_pending-{self.index}"


class PolicyCollection:
    """The policies of one cluster, looked up by index or (case-insensitive) name."""

    def __init__(self, policies: list[StoragePolicy]) -> None:
        if not policies:
            policies = [StoragePolicy(0, "Policy-0", is_default=True)]
        self._by_index = {p.index: p for p in policies}
        if len(self._by_index) != len(policies):
            raise ConfigError("duplicate storage policy index")
        names = [p.name.lower() for p in policies]
        if len(set(names)) != len(names):
            raise ConfigError("duplicate storage policy name")
        defaults = [p for p in policies if p.is_default]
        if len(defaults) > 1:
            raise ConfigError("more than one storage policy is marked default")
        if not defaults:
            if len(policies) > 1:
                raise ConfigError("with several storage policies, one must be default = yes")
            defaults = [dataclasses.replace(policies[0], is_default=True)]
            self._by_index[defaults[0].index] = defaults[0]
        if defaults[0].is_deprecated:
            raise ConfigError("the default storage policy cannot be deprecated")
        self.default = defaults[0]

    def __iter__(self):
        return iter(sorted(self._by_index.values(), key=lambda p: p.index))

    def __len__(self) -> int:
        return len(self._by_index)

    def get_by_index(self, index: int | str | None) -> StoragePolicy | None:
        if index is None or index == "":
            return self._by_index.get(0)
        try:
            return self._by_index.get(int(index))
        except (TypeError, ValueError):
            return None

    def get_by_name(self, name: str) -> StoragePolicy | None:
        lowered = name.lower()
        return next((p for p in self._by_index.values() if p.name.lower() == lowered), None)


def load_policies(conf: configparser.ConfigParser) -> PolicyCollection:
    policies = []
    for name in conf.sections():
        match = _SECTION.match(name)
        if match:
            policies.append(_parse_policy(int(match.group(1)), dict(conf[name])))
    return PolicyCollection(policies)


def _parse_policy(index: int, options: dict[str, str]) -> StoragePolicy:
    name = options.get("name", "Policy-0" if index == 0 else "")
    if not name or not _VALID_NAME.match(name):
        raise ConfigError(f"storage-policy:{index} needs a name of letters, digits and '-'")
    policy_type = options.get("policy_type", REPLICATION)
    if policy_type not in POLICY_TYPES:
        raise ConfigError(f"storage-policy:{index}: policy_type must be one of {POLICY_TYPES}")
    policy = StoragePolicy(
        index=index, name=name, policy_type=policy_type,
        is_default=config_true_value(options.get("default", "no")),
        is_deprecated=config_true_value(options.get("deprecated", "no")),
    )
    if policy_type == ERASURE_CODING:
        policy = dataclasses.replace(
            policy,
            ec_type=options.get("ec_type") or None,
            ec_ndata=get_int(options, "ec_num_data_fragments", 0),
            ec_nparity=get_int(options, "ec_num_parity_fragments", 0),
            ec_segment_size=get_int(options, "ec_object_segment_size", 1048576),
        )
        if not policy.ec_type or policy.ec_ndata < 1 or policy.ec_nparity < 1:
            raise ConfigError(f"storage-policy:{index}: erasure coding needs ec_type, "
                              "ec_num_data_fragments and ec_num_parity_fragments")
        if policy.ec_segment_size < 1:
            raise ConfigError(f"storage-policy:{index}: ec_object_segment_size must be positive")
        _check_scheme(index, policy)
    return policy


def _check_scheme(index: int, policy: StoragePolicy) -> None:
    """ConfigError unless pyeclib can encode with the policy's scheme."""
    try:
        driver(policy.ec_type, policy.ec_ndata, policy.ec_nparity)
    except Exception as err:  # pyeclib raises its own ECDriverError family
        raise ConfigError(f"storage-policy:{index}: pyeclib refuses ec_type = {policy.ec_type} "
                          f"with {policy.ec_ndata}+{policy.ec_nparity} fragments: {err}") from None
