"""Outermost proxy middleware: no traceback ever reaches a client.

Any exception below becomes a ``500`` with a short body (the traceback goes
to the log with the transaction id), and every response carries
``X-Trans-Id`` (and ``X-Openstack-Request-Id``, as Swift sends).
"""
from __future__ import annotations

import configparser
import logging
import sys
from typing import Callable, Iterable, Iterator

from objstore.common.logs import bind_txn_id, new_txn_id
from objstore.common.wsgi import WSGIApp

_ID_HEADERS = ("x-trans-id", "x-openstack-request-id")
_BODY = b"An error occurred while handling the request.\n"


class CatchErrors:
    def __init__(self, app: WSGIApp, logger: logging.Logger) -> None:
        self.app = app
        self.logger = logger

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        txn_id = environ.get("HTTP_X_TRANS_ID")
        if not txn_id:  # served without the AccessLog wrapper (tests, embedding)
            txn_id = environ["HTTP_X_TRANS_ID"] = new_txn_id()
            bind_txn_id(txn_id)
        started: list[bool] = []

        def tagged_start_response(status, headers, exc_info=None):
            started.append(True)
            headers = [(k, v) for k, v in headers if k.lower() not in _ID_HEADERS]
            headers += [("X-Trans-Id", txn_id), ("X-Openstack-Request-Id", txn_id)]
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, tagged_start_response)
        except Exception:
            self._log(environ)
            return self._error(environ, tagged_start_response, None)
        return self._guard(body, environ, tagged_start_response, started)

    def _guard(self, body: Iterable[bytes], environ: dict, start_response: Callable,
               started: list[bool]) -> Iterator[bytes]:
        sent = False
        try:
            for chunk in body:
                sent = sent or bool(chunk)
                yield chunk
        except Exception:
            self._log(environ)
            if sent:
                raise  # headers and part of the body are out: the server must drop the connection
            yield from self._error(environ, start_response, sys.exc_info() if started else None)
        finally:
            close = getattr(body, "close", None)
            if close:
                close()

    def _log(self, environ: dict) -> None:
        self.logger.exception("unhandled error in %s %s", environ.get("REQUEST_METHOD"),
                              environ.get("PATH_INFO"))

    @staticmethod
    def _error(environ: dict, start_response: Callable, exc_info) -> list[bytes]:
        start_response("500 Internal Server Error",
                       [("Content-Type", "text/plain; charset=UTF-8"),
                        ("Content-Length", str(len(_BODY)))], exc_info)
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [_BODY]


def filter_factory(conf: configparser.ConfigParser, options: dict) -> Callable[[WSGIApp], WSGIApp]:
    logger = logging.getLogger("objstore.proxy-server")
    return lambda app: CatchErrors(app, logger)
