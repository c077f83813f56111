"""Object metadata: msgpack in xattrs, with a sidecar file when xattrs overflow.

Format
    The metadata dict (str -> str) is serialized with msgpack.  The bytes are
    split into chunks of ``XATTR_CHUNK`` stored under ``user.objstore.metadata``,
    ``user.objstore.metadata1``, ``user.objstore.metadata2``...; a reader stops
    as soon as the msgpack document is complete, so the common case costs one
    ``getxattr``.

Overflow
    ext4 keeps all of an inode's xattrs in one 4 KiB block, which is too small
    for Swift's limits (90 headers, 4 KiB of values, a 1 KiB name, sysmeta).
    When setting the xattrs fails (ENOSPC/E2BIG/ERANGE, or no xattr support)
    the whole document goes into a sidecar file ``<file>.xattr`` beside the
    data file instead: 16 bytes of MD5 then the msgpack bytes.  The sidecar is
    written with the same temp-fsync-rename care and renamed into place before
    the file it describes, so a visible file always has its metadata.  A file
    with neither xattrs nor a valid sidecar is unreadable and gets quarantined.
"""
from __future__ import annotations

import errno
import hashlib

import msgpack
import xattr

XATTR_KEY = "user.objstore.metadata"
XATTR_CHUNK = 2048
MAX_XATTR_CHUNKS = 32
SIDECAR_SUFFIX = ".xattr"
_OVERFLOW_ERRNOS = frozenset({errno.ENOSPC, errno.E2BIG, errno.ERANGE, errno.ENOTSUP,
                              errno.EOPNOTSUPP})

Metadata = dict[str, str]


class MetadataError(Exception):
    """The metadata of a file is missing or corrupt (the file should be quarantined)."""


def encode(metadata: Metadata) -> bytes:
    return msgpack.packb(metadata, use_bin_type=True)


def decode(blob: bytes) -> Metadata:
    try:
        metadata = msgpack.unpackb(blob, raw=False)
    except Exception as err:  # msgpack raises several types for garbage
        raise MetadataError(f"cannot decode metadata: {err}") from None
    if not isinstance(metadata, dict):
        raise MetadataError("metadata is not a dict")
    return metadata


def _key(index: int) -> str:
    return XATTR_KEY if index == 0 else f"{XATTR_KEY}{index}"


def set_xattrs(fd: int, blob: bytes) -> bool:
    """Store ``blob`` in xattrs of ``fd``; False (and nothing left behind) if it does not fit."""
    chunks = [blob[i:i + XATTR_CHUNK] for i in range(0, len(blob), XATTR_CHUNK)] or [b""]
    if len(chunks) > MAX_XATTR_CHUNKS:
        return False
    for index, chunk in enumerate(chunks):
        try:
            xattr.setxattr(fd, _key(index), chunk)
        except OSError as err:
            if err.errno not in _OVERFLOW_ERRNOS:
                raise
            for done in range(index):
                xattr.removexattr(fd, _key(done))
            return False
    return True


def read_xattrs(fd: int) -> Metadata | None:
    """The metadata stored in ``fd``'s xattrs, or None if there is none."""
    blob = b""
    for index in range(MAX_XATTR_CHUNKS):
        try:
            blob += xattr.getxattr(fd, _key(index))
        except OSError as err:
            if err.errno in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP) and index == 0:
                return None
            if err.errno == errno.ENODATA:
                break
            raise
        try:
            return _unpack_complete(blob)
        except _Incomplete:
            continue
    raise MetadataError("metadata xattrs are truncated")


class _Incomplete(Exception):
    pass


def _unpack_complete(blob: bytes) -> Metadata:
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(blob)
    try:
        metadata = unpacker.unpack()
    except msgpack.OutOfData:
        raise _Incomplete() from None
    except Exception as err:
        raise MetadataError(f"cannot decode metadata: {err}") from None
    if not isinstance(metadata, dict):
        raise MetadataError("metadata is not a dict")
    return metadata


def sidecar_bytes(blob: bytes) -> bytes:
    return hashlib.md5(blob, usedforsecurity=False).digest() + blob


def read_sidecar(path: str) -> Metadata:
    try:
        with open(path, "rb") as handle:
            content = handle.read()
    except FileNotFoundError:
        raise MetadataError("no metadata (no xattrs and no sidecar)") from None
    digest, blob = content[:16], content[16:]
    if hashlib.md5(blob, usedforsecurity=False).digest() != digest:
        raise MetadataError("metadata sidecar checksum mismatch")
    return decode(blob)


def read_metadata(fd: int, path: str) -> Metadata:
    """Metadata of the open file ``fd`` whose name is ``path`` (xattrs, else sidecar)."""
    metadata = read_xattrs(fd)
    if metadata is None:
        metadata = read_sidecar(path + SIDECAR_SUFFIX)
    return metadata
