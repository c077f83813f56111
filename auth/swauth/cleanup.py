"""Removing expired tokens from the store: one function, a daemon, an admin call.

Tokens are never deleted when they expire (a token check just refuses them),
so their objects pile up in the 16 ``.token_*`` containers.  One pass
(``remove_expired_tokens``) lists each container and deletes every token
whose ``expires`` has passed (and any record that is not a token).  Three
ways to run it, all the same function:

- ``objstore-auth-token-cleaner --config proxy.conf [--once]``: a background
  daemon (``objstore.common.background``: a pass every ``interval`` seconds
  of ``[auth-token-cleaner]``, default 30; stats in the recon cache)
  reading the store through the in-process proxy built from the proxy
  config, with ``[filter:swauth]``'s reseller prefix;
- ``POST /auth/v2/.cleanup_tokens`` (super admin): one pass in the proxy,
  answering ``{"checked": N, "removed": M}``;
- ``remove_expired_tokens(store)`` from any code holding an ``AuthStore``.
"""
from __future__ import annotations

import configparser
import logging
import time
from typing import Callable

from auth.authorize import parse_reseller_prefixes
from auth.swauth.store import AuthStore, StoreError
from auth.swauth.tokens import TOKEN_CONTAINERS
from objstore.common.background import BackgroundDaemon, PassProgress, run_background_daemon
from objstore.common.config import section
from proxy.internal.client import InternalClient

SECTION = "auth-token-cleaner"
SWAUTH_SECTION = "filter:swauth"


def remove_expired_tokens(store: AuthStore, now: float | None = None,
                          progress: PassProgress | None = None) -> dict[str, int]:
    """One pass over the token containers; counters ``checked``, ``removed``, ``failed``."""
    now = time.time() if now is None else now
    counters = {"checked": 0, "removed": 0, "failed": 0}
    for container in TOKEN_CONTAINERS:
        if progress is not None and progress.stopping:
            break
        try:
            for digest in list(store.token_names(container)):
                counters["checked"] += 1
                record = store.get_token(digest)
                if record is not None and float(record.get("expires", 0) or 0) > now:
                    continue
                store.delete_token(digest)
                counters["removed"] += 1
        except (StoreError, ValueError, TypeError):
            counters["failed"] += 1  # this container again next pass
        if progress is not None:
            progress.advance()
    return counters


class TokenCleaner(BackgroundDaemon):
    unit = "token containers"

    def __init__(self, conf: configparser.ConfigParser, logger: logging.Logger, *,
                 store: AuthStore | None = None, now: Callable[[], float] = time.time) -> None:
        prefixes, _ = parse_reseller_prefixes(section(conf, SWAUTH_SECTION))
        self.store = store or AuthStore(
            InternalClient.from_config(conf, logger, source="auth-token-cleaner"), prefixes[0])
        self.now = now

    def run_once(self, progress: PassProgress) -> dict[str, int]:
        progress.set_total(len(TOKEN_CONTAINERS))
        return remove_expired_tokens(self.store, self.now(), progress)


def main(argv: list[str] | None = None) -> int:
    return run_background_daemon(SECTION, TokenCleaner, argv)
