"""The proxy's parsed client request.

A ``Request`` parses the WSGI environ once (path, headers, query) for the
controllers; responses are ``objstore.common.http.Response``.
"""
from __future__ import annotations

from urllib.parse import parse_qsl

from objstore.common.constraints import wsgi_to_str


_ENVIRON_HEADERS = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}


def environ_headers(environ: dict) -> dict[str, str]:
    """Request headers as ``{lower-case name: value}``."""
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = value
        elif key in _ENVIRON_HEADERS and value != "":
            headers[_ENVIRON_HEADERS[key]] = value
    return headers


class Request:
    """The parts of a client request the controllers use, parsed once."""

    def __init__(self, environ: dict) -> None:
        self.environ = environ
        self.method: str = environ["REQUEST_METHOD"]
        self.path: str = environ.get("PATH_INFO", "")
        self.query_string: str = environ.get("QUERY_STRING", "")
        self.headers = environ_headers(environ)
        self._params: dict[str, str] | None = None

    @property
    def params(self) -> dict[str, str]:
        """Query parameters, values as WSGI strings (last one wins)."""
        if self._params is None:
            self._params = dict(parse_qsl(self.query_string, keep_blank_values=True,
                                          encoding="latin-1"))
        return self._params

    def param(self, name: str) -> str | None:
        """A query parameter decoded as UTF-8; raises ValueError if it is not."""
        value = self.params.get(name)
        if value is None:
            return None
        decoded = wsgi_to_str(value)
        if decoded is None:
            raise ValueError(f"query parameter {name!r} is not valid UTF-8")
        return decoded

    @property
    def txn_id(self) -> str:
        return self.environ.get("HTTP_X_TRANS_ID", "-")
