"""Keep internal headers internal.

Clients may not send ``X-Backend-*`` or system metadata
(``X-{Account,Container,Object}-Sysmeta-*``, ``X-Object-Transient-Sysmeta-*``):
those are how middleware and the proxy talk to storage nodes.  The same
headers are removed from responses.  Runs right after ``catch_errors`` so that
middleware further in may set them on their own sub-requests.

It also removes the pre-authorized system request mark
(``proxy.internal.subrequest.SYSTEM_REQUEST``) from every request: whatever
set it left of here (a WSGI server, a filter listed earlier) is not trusted
to speak for the cluster itself.
"""
from __future__ import annotations

import configparser
from typing import Callable, Iterable

from objstore.common.wsgi import WSGIApp
from proxy.internal.subrequest import SYSTEM_REQUEST

INTERNAL_PREFIXES = ("x-backend-", "x-account-sysmeta-", "x-container-sysmeta-",
                     "x-object-sysmeta-", "x-object-transient-sysmeta-")
_ENVIRON_PREFIXES = tuple("HTTP_" + p.upper().replace("-", "_") for p in INTERNAL_PREFIXES)


class Gatekeeper:
    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        for key in [k for k in environ if k.startswith(_ENVIRON_PREFIXES)]:
            del environ[key]
        environ.pop(SYSTEM_REQUEST, None)

        def filtered_start_response(status, headers, exc_info=None):
            headers = [(k, v) for k, v in headers if not k.lower().startswith(INTERNAL_PREFIXES)]
            return start_response(status, headers, exc_info)

        return self.app(environ, filtered_start_response)


def filter_factory(conf: configparser.ConfigParser, options: dict) -> Callable[[WSGIApp], WSGIApp]:
    return Gatekeeper
