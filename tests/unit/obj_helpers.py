"""Shared fixtures for the object server unit tests (in-process WSGI, tmp devices)."""
from __future__ import annotations

import configparser
import errno
import logging
import os

from webob import Request

from objstore.obj.server import app_factory

TS = "1700000000.00000"


def make_conf(devices, **extra) -> configparser.ConfigParser:
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(f"""
[objstore]
hash_path_suffix = unit-test

[storage-policy:0]
name = gold
default = yes

[storage-policy:1]
name = silver

[object-server]
devices = {devices}
mount_check = false
""")
    for key, value in extra.items():
        conf.set("object-server", key, str(value))
    return conf


def make_app(devices, **extra):
    os.makedirs(os.path.join(devices, "sda"), exist_ok=True)
    return app_factory(make_conf(devices, **extra), logging.getLogger("objstore.test-object"))


def ts(offset: float = 0) -> str:
    from objstore.common.timestamp import Timestamp
    return Timestamp(float(TS) + offset).internal


def req(app, path, method="GET", body=None, **headers):
    headers = {key.replace("_", "-"): value for key, value in headers.items()}
    request = Request.blank(path, method=method, headers=headers)
    if body is not None:
        request.body = body
    return request.get_response(app)


def put(app, path="/sda/1/a/c/o", body=b"hello", timestamp=None, **headers):
    headers.setdefault("Content_Type", "text/plain")
    return req(app, path, "PUT", body, X_Timestamp=timestamp or ts(), **headers)


def files_under(root) -> list[str]:
    found = []
    for dirpath, _, names in os.walk(root):
        found.extend(os.path.relpath(os.path.join(dirpath, n), root) for n in names)
    return sorted(found)


def fill_device(monkeypatch) -> None:
    """Make every write of 10 bytes or more fail as on a full device (until
    ``monkeypatch.undo()``)."""
    real_write = os.write

    def full(fd, data):
        if len(data) >= 10:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)
    monkeypatch.setattr(os, "write", full)
