"""Small filesystem helpers for writes that must survive a crash.

A file becomes visible only by ``rename`` after its data is fsynced, and the
directory that received the new entry is fsynced before anyone is told the
write happened.  Newly created directories are fsynced up to the first one
that already existed, so the path to a file is as durable as the file.
"""
from __future__ import annotations

import os
import uuid


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def makedirs_count(path: str) -> int:
    """Create ``path`` and missing parents; return how many levels were created."""
    created = 0
    missing = path
    pending = []
    while not os.path.isdir(missing):
        pending.append(missing)
        missing = os.path.dirname(missing)
    for directory in reversed(pending):
        try:
            os.mkdir(directory)
            created += 1
        except FileExistsError:
            pass
    return created


def durable_rename(src: str, dst: str, fsync: bool = True) -> None:
    """Rename ``src`` (already fsynced) to ``dst``; make the new entry durable.

    Missing parent directories are created (and fsynced) only when the rename
    says they are missing.  The leaf directory is fsynced first: on journaling
    filesystems that commits the journal, so the fsyncs of freshly created
    parents are nearly free.
    """
    directory = os.path.dirname(dst)
    created = 0
    try:
        os.rename(src, dst)
    except FileNotFoundError:
        created = makedirs_count(directory)
        os.rename(src, dst)
    if fsync:
        for _ in range(created + 1):
            fsync_dir(directory)
            directory = os.path.dirname(directory)


def fsync_close_rename(fd: int, src: str, dst: str) -> None:
    """fsync and close the temp file ``fd`` (written at ``src``), then durably
    rename it to ``dst``: the whole blocking part of a commit, for one thread hop."""
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    durable_rename(src, dst)


def tmp_path(tmp_dir: str) -> str:
    """A fresh, unique temp file name inside ``tmp_dir`` (same device as the target)."""
    return os.path.join(tmp_dir, uuid.uuid4().hex)


def write_file(tmp_dir: str, path: str, data: bytes, fsync: bool = True) -> None:
    """Atomically create ``path`` holding ``data``: temp file, fsync, rename, dir fsync."""
    os.makedirs(tmp_dir, exist_ok=True)
    tmp = tmp_path(tmp_dir)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if fsync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    os.close(fd)
    try:
        durable_rename(tmp, path, fsync)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
