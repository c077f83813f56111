"""Limits on names, metadata and sizes, shared by the proxy and storage nodes.

Defaults match OpenStack Swift's so that real clients and conformance suites
see the same behaviour; a ``[constraints]`` config section overrides them and
the proxy publishes them at ``/info``.
"""
from __future__ import annotations

import configparser
import dataclasses

from objstore.common.config import get_int, section


@dataclasses.dataclass(frozen=True)
class Constraints:
    max_file_size: int = 5 * 1024 ** 3
    max_meta_name_length: int = 128
    max_meta_value_length: int = 256
    max_meta_count: int = 90
    max_meta_overall_size: int = 4096
    max_header_size: int = 8192
    extra_header_count: int = 0
    max_object_name_length: int = 1024
    container_listing_limit: int = 10000
    account_listing_limit: int = 10000
    max_account_name_length: int = 256
    max_container_name_length: int = 256

    @property
    def max_header_count(self) -> int:
        """Header lines a request may carry: every metadata item plus the usual
        headers (Swift's count, with its 1.6 margin for backend requests)."""
        return int((self.max_meta_count + 36 + max(self.extra_header_count, 0)) * 1.6)

    def as_info(self) -> dict[str, int]:
        """The ``swift`` section of ``/info``."""
        return dataclasses.asdict(self)


def load_constraints(conf: configparser.ConfigParser) -> Constraints:
    overrides = section(conf, "constraints")
    defaults = Constraints()
    values = {f.name: get_int(overrides, f.name, getattr(defaults, f.name))
              for f in dataclasses.fields(Constraints) if f.type == "int"}
    return dataclasses.replace(defaults, **values)


def wsgi_to_str(value: str) -> str | None:
    """WSGI strings carry raw bytes as latin-1; decode them as UTF-8 or None if invalid."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None


def str_to_wsgi(text: str) -> str:
    """The inverse of ``wsgi_to_str``: a decoded string as WSGI wants it, its
    UTF-8 bytes one latin-1 character each."""
    return text.encode("utf-8").decode("latin-1")
