"""Talking to a Swift v1 endpoint with http.client: auth v1, keep-alive per thread, retries.

Every thread keeps its own persistent HTTP connection (``HTTPPool``, which the
admin client of ``client.auth_admin`` uses too), so parallel segment
uploads each reuse one socket.  A request is retried once on a fresh
connection when a kept-alive socket turns out to be closed, and once after
re-authenticating when the token expired (401).  Bodies are streamed from
file-like objects; they are rewound for a retry.
"""
from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from typing import IO, Iterator

TIMEOUT = 60.0
BLOCK_SIZE = 65536
LISTING_PAGE = 10000


class ClientError(Exception):
    """A failed operation; the message is one line for the user."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


Headers = dict[str, str]
Body = bytes | IO[bytes] | None


def quote(name: str) -> str:
    return urllib.parse.quote(name, safe="/")


class HTTPPool:
    """Keep-alive HTTP(S) connections, one per thread and host, for any client of ours."""

    def __init__(self, timeout: float = TIMEOUT) -> None:
        self.timeout = timeout
        self._local = threading.local()

    def _http(self, url: urllib.parse.SplitResult, fresh: bool = False) -> http.client.HTTPConnection:
        pool = self._local.__dict__.setdefault("conns", {})
        key = (url.scheme, url.netloc)
        if fresh and key in pool:
            pool.pop(key).close()
        if key not in pool:
            if url.scheme == "https":
                pool[key] = http.client.HTTPSConnection(url.netloc, timeout=self.timeout,
                                                        blocksize=BLOCK_SIZE)
            elif url.scheme == "http":
                pool[key] = http.client.HTTPConnection(url.netloc, timeout=self.timeout,
                                                       blocksize=BLOCK_SIZE)
            else:
                raise ClientError(f"not an http(s) URL: {urllib.parse.urlunsplit(url)}")
        return pool[key]

    def send(self, method: str, url: str, headers: Headers,
             body: Body) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """One request; retried once on a fresh socket if the kept-alive one was dead."""
        parts = urllib.parse.urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        start = _position(body)
        for attempt in (0, 1):
            conn = self._http(parts, fresh=attempt > 0)
            try:
                conn.request(method, target, body=body, headers=headers)
                return conn, conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as err:
                conn.close()
                if attempt or not _rewind(body, start):
                    raise ClientError(f"{method} {url}: connection lost: {err}") from None
            except (OSError, http.client.HTTPException) as err:
                conn.close()
                raise ClientError(f"{method} {url}: {err}") from None
        raise AssertionError("unreachable")


class Connection:
    """One user's session with one Swift endpoint."""

    def __init__(self, auth_url: str, user: str, key: str, timeout: float = TIMEOUT) -> None:
        if not (auth_url and user and key):
            raise ClientError("auth URL, user and key are needed: -A/-U/-K or $ST_AUTH/$ST_USER/$ST_KEY")
        self.auth_url = auth_url
        self.user = user
        self.key = key
        self.timeout = timeout
        self.storage_url = ""
        self.token = ""
        self._pool = HTTPPool(timeout)
        self._auth_lock = threading.Lock()

    def sibling(self) -> "Connection":
        """Another session with the same token, for requests made while a response streams."""
        other = Connection(self.auth_url, self.user, self.key, self.timeout)
        other.storage_url, other.token = self.storage_url, self.token
        return other

    def authenticate(self) -> None:
        """Auth v1: trade user and key for a storage URL and token."""
        _, resp = self._pool.send("GET", self.auth_url,
                             {"X-Auth-User": self.user, "X-Auth-Key": self.key}, None)
        body = resp.read()
        if resp.status // 100 != 2:
            detail = "wrong user or key" if resp.status == 401 else body.decode("utf-8", "replace")[:200]
            raise ClientError(f"auth failed at {self.auth_url}: {resp.status} {resp.reason}: {detail}",
                              resp.status)
        self.storage_url = resp.getheader("X-Storage-Url", "")
        self.token = resp.getheader("X-Auth-Token", "") or resp.getheader("X-Storage-Token", "")
        if not self.storage_url or not self.token:
            raise ClientError(f"auth at {self.auth_url} returned no storage URL or token")

    def request(self, method: str, container: str | None = None, obj: str | None = None, *,
                query: dict[str, str] | None = None, headers: Headers | None = None,
                body: Body = None, stream: bool = False, ok: tuple[int, ...] = ()) -> "Response":
        """A request to the account, a container or an object.

        Raises ClientError for statuses >= 300 not listed in ``ok``.  With
        ``stream`` the caller reads (and must finish) ``Response.raw``.
        """
        with self._auth_lock:
            if not self.token:
                self.authenticate()
        path = urllib.parse.urlsplit(self.storage_url).path
        if container is not None:
            path += "/" + quote(container)
            if obj is not None:
                path += "/" + quote(obj)
        url_parts = urllib.parse.urlsplit(self.storage_url)
        url = urllib.parse.urlunsplit((url_parts.scheme, url_parts.netloc, path,
                                       urllib.parse.urlencode(query or {}), ""))
        start = _position(body)
        for attempt in (0, 1):
            conn, raw = self._pool.send(method, url, {"X-Auth-Token": self.token, **(headers or {})},
                                   body)
            if raw.status == 401 and attempt == 0 and _rewind(body, start):
                raw.read()  # the token expired: get a new one and send again
                with self._auth_lock:
                    self.authenticate()
                continue
            break
        resp = Response(conn, raw, method, url)
        if raw.status >= 300 and raw.status not in ok:
            raise resp.error()
        if not stream:
            resp.read()
        return resp

    def listing(self, container: str | None = None, **params: str) -> Iterator[dict]:
        """Every entry of an account or container listing, page by page (JSON)."""
        marker = params.pop("marker", "")
        while True:
            query = {"format": "json", "limit": str(LISTING_PAGE), **params}
            if marker:
                query["marker"] = marker
            resp = self.request("GET", container, query=query, ok=(404,) if container else ())
            if resp.status == 404:
                raise ClientError(f"container {container} not found", 404)
            page = json.loads(resp.body or b"[]")
            if not page:
                return
            yield from page
            last = page[-1]
            marker = last.get("name") or last.get("subdir", "")
            if len(page) < int(query["limit"]):
                return


def _position(body: Body) -> int:
    return body.tell() if body is not None and not isinstance(body, bytes) else 0


def _rewind(body: Body, position: int) -> bool:
    """Make the body sendable again; False if it is a stream that cannot go back."""
    if body is None or isinstance(body, bytes):
        return True
    if not hasattr(body, "seek"):
        return False
    body.seek(position)
    return True


class Response:
    """Status, lower-cased headers and (unless streamed) the body of one response."""

    def __init__(self, conn: http.client.HTTPConnection, raw: http.client.HTTPResponse,
                 method: str, url: str) -> None:
        self._conn = conn
        self.raw = raw
        self.status = raw.status
        self.reason = raw.reason
        self.headers = {name.lower(): value for name, value in raw.getheaders()}
        self.method = method
        self.url = url
        self.body = b""

    def read(self) -> bytes:
        self.body = self.raw.read()
        return self.body

    def close(self) -> None:
        """Done with a streamed body: a socket with unread bytes cannot be reused."""
        if not self.raw.isclosed():
            self.raw.close()
            self._conn.close()

    def error(self) -> ClientError:
        body = self.raw.read() if not self.raw.isclosed() else self.body
        return ClientError(error_message(self.method, self.url, self.status, self.reason, body),
                           self.status)


def error_message(method: str, url: str, status: int, reason: str, body: bytes) -> str:
    """``METHOD /path: 404 Not Found: <what the body says>``, on one line."""
    detail = " ".join(body.decode("utf-8", "replace").split())[:300]
    if detail == reason:
        detail = ""  # "404 Not Found: Not Found" says it twice
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    return f"{method} {path}: {status} {reason}" + (f": {detail}" if detail else "")
