"""The receiving end of ssync (protocol: ``objstore/obj/ssync.py``).

The missing check only lists hash directories.  Updates are stored one file
at a time through ``ObjectStore``, the one write path of a PUT (temp file in
``<dev>/tmp``, metadata, fsync, rename, directory fsync, suffix
invalidation), so a receiver killed mid-push leaves at most a temp file,
never a partial visible one; a ``.data`` whose bytes do not match its ETag
and Content-Length is refused.  A version older
than what the receiver holds, or a tombstone old enough to be reclaimed, is
skipped: pushes never move an object backwards.
"""
from __future__ import annotations

import logging
import os
import time
from typing import BinaryIO, Iterator

import msgpack

from objstore.common.http import CHUNK_SIZE
from objstore.common.paths import split_object_name
from objstore.common.policies import StoragePolicy
from objstore.common.timestamp import Timestamp
from objstore.obj import ondisk, ssync, store
from objstore.obj.store import ObjectPath, ObjectStore

MAX_CHECK_BODY = 64 << 20


class SsyncError(Exception):
    """Answer ``status`` with this message."""
    status = 500


class BadRequest(SsyncError):
    status = 400


class InsufficientStorage(SsyncError):
    status = 507


class _Refused(Exception):
    """This one file is not stored (the reason goes back to the sender)."""


def _read_body(stream: BinaryIO, limit: int) -> bytes:
    parts, size = [], 0
    while True:
        chunk = stream.read(CHUNK_SIZE)
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"missing-check body larger than {limit} bytes")
        parts.append(chunk)


def _free_bytes(path: str) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


class SsyncReceiver:
    """Answers one device partition's missing checks and stores its updates."""

    def __init__(self, object_store: ObjectStore, logger: logging.Logger) -> None:
        self.store = object_store
        self.logger = logger

    def handle(self, phase: str, stream: BinaryIO, device: str, dev_path: str,
               policy: StoragePolicy, partition: str) -> bytes:
        """The msgpack answer to one SSYNC request; raises SsyncError."""
        try:
            if phase == ssync.MISSING_CHECK:
                return self.missing_check(_read_body(stream, MAX_CHECK_BODY), dev_path,
                                          policy.data_dir, partition)
            if phase == ssync.UPDATES:
                return self.updates(stream, ObjectPath(device, dev_path, partition, "", "", "",
                                                       policy))
        except ssync.ProtocolError as err:
            raise BadRequest(str(err)) from None
        except store.DeviceFull as err:
            raise InsufficientStorage(str(err)) from None
        raise BadRequest(f"{ssync.PHASE_HEADER} must be {ssync.MISSING_CHECK} or {ssync.UPDATES}")

    def _reclaimable(self, file_name: str) -> bool:
        return file_name.endswith(ondisk.TOMBSTONE) and \
            ondisk.file_timestamp(file_name).seconds < time.time() - self.store.manager.reclaim_age

    def missing_check(self, body: bytes, dev_path: str, data_dir: str, partition: str) -> bytes:
        part_dir = os.path.join(dev_path, data_dir, partition)
        answer: dict[str, str] = {}
        incoming = 0
        for offer in ssync.decode_offers(body):
            if self._reclaimable(offer.winner):
                continue
            try:
                names = os.listdir(os.path.join(part_dir, offer.hash[-3:], offer.hash))
            except (FileNotFoundError, NotADirectoryError):
                names = []
            want = ssync.wanted(offer, ondisk.classify(names))
            if want:
                answer[offer.hash] = want
                if ssync.WANT_WINNER in want:
                    incoming += offer.size
        if incoming and incoming > _free_bytes(dev_path):
            raise InsufficientStorage(f"{incoming} bytes wanted, the device has less free")
        return msgpack.packb(answer, use_bin_type=True)

    def updates(self, stream: BinaryIO, partition: ObjectPath) -> bytes:
        """Store every framed file; ``partition`` is where they go (no name yet)."""
        stored: list[str] = []
        skipped: list[str] = []
        failed: list[tuple[str, str]] = []
        while (frame := ssync.read_frame(stream)) is not None:
            content = ssync.read_content(stream, frame.length, CHUNK_SIZE)
            try:
                target = _target(frame, partition)
            except _Refused as err:
                _drain(content)
                failed.append(("", f"{frame.file}: {err}"))
                continue
            obj_hash = self.store.diskfile(target).hash
            try:
                (stored if self._store(target, frame, content) else skipped).append(obj_hash)
            except _Refused as err:
                self.logger.warning("ssync: refused %s %s: %s", frame.metadata["name"],
                                    frame.file, err)
                failed.append((obj_hash, str(err)))
        return ssync.encode_result(stored, skipped, failed)

    def _store(self, target: ObjectPath, frame: ssync.Frame, content: Iterator[bytes]) -> bool:
        """Store one pushed file; False if it is not newer than what is here.
        Its content is read either way, to reach the next frame."""
        timestamp = ondisk.file_timestamp(frame.file)
        ext = frame.file[frame.file.rindex("."):]
        if ext == ondisk.DATA:
            return self._store_data(target, frame, timestamp, content)
        diskfile = self.store.diskfile(target).list()
        if ext == ondisk.META:
            current = diskfile.meta_timestamp if diskfile.fileset.data else None
            obsolete = current is None or current >= timestamp
        else:
            obsolete = (diskfile.timestamp is not None and diskfile.timestamp >= timestamp) \
                or self._reclaimable(frame.file)
        if obsolete:
            return False
        self.store.commit(diskfile.writer(), frame.metadata, timestamp, ext)
        return True

    def _store_data(self, target: ObjectPath, frame: ssync.Frame, timestamp: Timestamp,
                    content: Iterator[bytes]) -> bool:
        etag, length = frame.metadata.get("ETag"), frame.metadata.get("Content-Length", "")
        if not etag or not length.isdigit():
            _drain(content)
            raise _Refused("a .data needs its ETag and Content-Length")
        try:
            self.store.put(target, timestamp, frame.metadata, content, expected_etag=etag,
                           expected_length=int(length))
            return True
        except store.NewerExists:
            _drain(content)
            return False
        except (store.EtagMismatch, store.WrongLength) as err:
            _drain(content)
            raise _Refused(f"{err}: Content-Length {length}, ETag {etag}") from None


def _drain(content: Iterator[bytes]) -> None:
    for _ in content:
        pass


def _target(frame: ssync.Frame, partition: ObjectPath) -> ObjectPath:
    """Where the frame's file goes: the object its metadata names."""
    name = frame.metadata.get("name")
    names = split_object_name(name) if isinstance(name, str) else None
    if names is None:
        raise _Refused(f"metadata name {name!r} is not /account/container/object")
    try:
        if Timestamp(frame.metadata.get("X-Timestamp", "")) != ondisk.file_timestamp(frame.file):
            raise ValueError
    except (TypeError, ValueError):
        raise _Refused("metadata X-Timestamp does not match the file name") from None
    return partition._replace(account=names[0], container=names[1], obj=names[2])
