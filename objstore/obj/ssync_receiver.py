"""The receiving end of ssync (protocol: ``objstore/obj/ssync.py``).

The missing check only lists hash directories.  Updates are stored one file
at a time through the same writer as a PUT (temp file in ``<dev>/tmp``,
metadata, fsync, rename, directory fsync), so a receiver killed mid-push
leaves at most a temp file, never a partial visible one; a ``.data`` whose
bytes do not match its ETag and Content-Length is refused.  A version older
than what the receiver holds, or a tombstone old enough to be reclaimed, is
skipped: pushes never move an object backwards.
"""
from __future__ import annotations

import errno
import logging
import os
import time
from typing import BinaryIO, Iterable

import msgpack

from objstore.common.http import CHUNK_SIZE
from objstore.common.timestamp import Timestamp
from objstore.obj import ondisk, ssync
from objstore.obj.diskfile import DiskFile, DiskFileManager

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

    def __init__(self, manager: DiskFileManager, logger: logging.Logger) -> None:
        self.manager = manager
        self.logger = logger

    def handle(self, phase: str, stream: BinaryIO, dev_path: str, data_dir: str,
               partition: str) -> bytes:
        """The msgpack answer to one SSYNC request; raises SsyncError."""
        try:
            if phase == ssync.MISSING_CHECK:
                return self.missing_check(_read_body(stream, MAX_CHECK_BODY), dev_path,
                                          data_dir, partition)
            if phase == ssync.UPDATES:
                return self.updates(stream, dev_path, data_dir, partition)
        except ssync.ProtocolError as err:
            raise BadRequest(str(err)) from None
        except OSError as err:
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                raise InsufficientStorage(f"Not enough space on the device: {err.strerror}") \
                    from None
            raise
        raise BadRequest(f"{ssync.PHASE_HEADER} must be {ssync.MISSING_CHECK} or {ssync.UPDATES}")

    def _reclaimable(self, file_name: str) -> bool:
        return file_name.endswith(ondisk.TOMBSTONE) and \
            ondisk.file_timestamp(file_name).seconds < time.time() - self.manager.reclaim_age

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

    def updates(self, stream: BinaryIO, dev_path: str, data_dir: str, partition: str) -> bytes:
        stored: list[str] = []
        skipped: list[str] = []
        failed: list[tuple[str, str]] = []
        while (frame := ssync.read_frame(stream)) is not None:
            content = ssync.read_content(stream, frame.length, CHUNK_SIZE)
            try:
                diskfile = self._diskfile(frame, dev_path, data_dir, partition)
            except _Refused as err:
                for _ in content:  # keep the stream in step with the frames
                    pass
                failed.append(("", f"{frame.file}: {err}"))
                continue
            try:
                (stored if self._store(diskfile, frame, content) else skipped).append(diskfile.hash)
            except _Refused as err:
                self.logger.warning("ssync: refused %s %s: %s", diskfile.name, frame.file, err)
                failed.append((diskfile.hash, str(err)))
        return ssync.encode_result(stored, skipped, failed)

    def _diskfile(self, frame: ssync.Frame, dev_path: str, data_dir: str,
                  partition: str) -> DiskFile:
        name = frame.metadata.get("name")
        parts = name.split("/", 3) if isinstance(name, str) else []
        if len(parts) != 4 or parts[0] or not all(parts[1:]):
            raise _Refused(f"metadata name {name!r} is not /account/container/object")
        try:
            if Timestamp(frame.metadata.get("X-Timestamp", "")) != \
                    ondisk.file_timestamp(frame.file):
                raise ValueError
        except (TypeError, ValueError):
            raise _Refused("metadata X-Timestamp does not match the file name") from None
        return self.manager.diskfile(dev_path, data_dir, partition, *parts[1:])

    def _store(self, diskfile: DiskFile, frame: ssync.Frame, content: Iterable[bytes]) -> bool:
        """Store one pushed file; False if it is not newer than what is here
        (its content is read either way, to reach the next frame)."""
        timestamp = ondisk.file_timestamp(frame.file)
        ext = frame.file[frame.file.rindex("."):]
        diskfile.list()
        if ext == ondisk.META:
            current = diskfile.meta_timestamp if diskfile.fileset.data else None
            obsolete = current is None or current >= timestamp
        else:
            obsolete = (diskfile.timestamp is not None and diskfile.timestamp >= timestamp) \
                or self._reclaimable(frame.file)
        writer = None if obsolete else diskfile.writer()
        try:
            for chunk in content:
                if writer is not None:
                    writer.write(chunk)
            if writer is None:
                return False
            if ext == ondisk.DATA:
                expected = (frame.metadata.get("Content-Length"), frame.metadata.get("ETag"))
                if expected != (str(writer.size), writer.etag):
                    raise _Refused(f"{writer.size} bytes with MD5 {writer.etag} do not match "
                                   f"Content-Length {expected[0]} and ETag {expected[1]}")
            writer.commit(frame.metadata, timestamp, ext)
            return True
        finally:
            if writer is not None:
                writer.close()
