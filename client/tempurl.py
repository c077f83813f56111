"""``objstore tempurl``: sign a temporary URL, as ``swift tempurl`` does (no request is made).

    objstore tempurl GET 1h /v1/AUTH_test/photos/cat.jpg "$KEY"
    /v1/AUTH_test/photos/cat.jpg?temp_url_sig=...&temp_url_expires=1764672000

The client is a standalone tool (standard library only), so it signs with its own
few lines; the proxy checks with ``objstore.common.tempurl_signature``, and
``tests/unit/test_tempurl.py`` sends this module's URLs through the proxy.
"""
from __future__ import annotations

import argparse
import base64
import calendar
import hashlib
import hmac
import re
import time
import urllib.parse

from client.connection import ClientError

DIGESTS = ("sha1", "sha256", "sha512")
ISO8601 = "%Y-%m-%dT%H:%M:%SZ"

_UNITS = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}
METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")


def add_arguments(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("method", help="the method the URL allows: " + ", ".join(METHODS))
    cmd.add_argument("time", help="how long it is valid: seconds, or 30m, 12h, 7d; or an "
                                  "ISO 8601 UTC time (2030-01-02T03:04:05Z) it expires at")
    cmd.add_argument("path", help="/v1/<account>/<container>/<object> (or a URL ending with it)")
    cmd.add_argument("temp_url_key", metavar="key", help="the account's or container's Temp-URL-Key")
    cmd.add_argument("--absolute", action="store_true", help="TIME is a unix time, not a duration")
    cmd.add_argument("--prefix-based", action="store_true",
                     help="valid for every object whose name starts with the path's object part")
    cmd.add_argument("--iso8601", action="store_true", help="write the expiry as ISO 8601")
    cmd.add_argument("--ip-range", help="only clients from this address or network (10.0.0.0/8)")
    cmd.add_argument("--digest", default="sha256", choices=DIGESTS, help="HMAC digest (default sha256)")


def expiry(spec: str, absolute: bool, now: float | None = None) -> int:
    """The unix time a URL expires at, from ``objstore tempurl``'s TIME argument."""
    match = re.fullmatch(r"(\d+)(s|m|min|h|hr|d)?", spec)
    if match:
        number = int(match.group(1))
        if absolute:
            return number
        return int(time.time() if now is None else now) + number * _UNITS[match.group(2) or ""]
    try:
        return calendar.timegm(time.strptime(spec, ISO8601))
    except ValueError:
        raise ClientError(f"time {spec!r} must be seconds (optionally with s, m, h or d), "
                          "or an ISO 8601 UTC time like 2030-01-02T03:04:05Z") from None


def temp_url(method: str, expires: int, path: str, key: str, *, prefix_based: bool = False,
             iso: bool = False, ip_range: str | None = None, digest: str = "sha256") -> str:
    """``path`` (``/v1/a/c/o`` or a URL) with its signature and expiry appended."""
    if method.upper() not in METHODS:
        raise ClientError(f"method {method!r} must be one of {', '.join(METHODS)}")
    parts = urllib.parse.urlsplit(path)
    object_path = urllib.parse.unquote(parts.path)
    names = object_path.split("/", 4)
    if len(names) < 5 or names[0] or names[1] != "v1" or not names[2] or not names[3] \
            or not (names[4] or prefix_based):
        raise ClientError(f"path {path!r} must be /v1/<account>/<container>/<object>"
                          + (" (or .../<prefix> with --prefix-based)" if not prefix_based else ""))
    body = f"{method.upper()}\n{expires}\n{'prefix:' if prefix_based else ''}{object_path}"
    if ip_range:
        body = f"ip={ip_range}\n{body}"
    mac = hmac.new(key.encode("utf-8"), body.encode("utf-8"), getattr(hashlib, digest))
    # Swift wants SHA-512 as <digest>:<base64> (hex would be 128 characters)
    signature = ("sha512:" + base64.urlsafe_b64encode(mac.digest()).decode() if digest == "sha512"
                 else mac.hexdigest())
    stamp = time.strftime(ISO8601, time.gmtime(expires)) if iso else str(expires)
    query = {"temp_url_sig": signature, "temp_url_expires": stamp}
    if prefix_based:
        query["temp_url_prefix"] = names[4]
    if ip_range:
        query["temp_url_ip_range"] = ip_range
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query, safe=":")))


def cmd_tempurl(args: argparse.Namespace) -> None:
    print(temp_url(args.method, expiry(args.time, args.absolute), args.path, args.temp_url_key,
                   prefix_based=args.prefix_based, iso=args.iso8601, ip_range=args.ip_range,
                   digest=args.digest))
