"""The on-disk ring: what every daemon loads to map partitions to devices.

Layout of ``<name>.ring.gz`` (one gzip stream)::

    b"OBJSRING"                 magic
    uint32 big-endian           length of the header
    msgpack header              format_version, version, part_power, replicas,
                                devs (list of dicts, None for removed ids),
                                row_lengths, typecode ("H" or "I")
    row 0, row 1, ...           replica-to-partition-to-device rows, packed
                                little-endian unsigned integers

The last row is shorter when the replica count is fractional.
"""
from __future__ import annotations

import array
import dataclasses
import gzip
import os
import struct
import sys
import tempfile
import time
import zlib
from typing import Sequence

import msgpack
import numpy as np

from ring.errors import RingError

MAGIC = b"OBJSRING"
FORMAT_VERSION = 1
_LEN = struct.Struct(">I")


@dataclasses.dataclass
class RingData:
    """Everything a ring file holds, in the reader's form (array.array rows)."""
    part_power: int
    replicas: float
    devs: list[dict | None]
    rows: list[array.array]
    version: int = 0

    @property
    def partition_count(self) -> int:
        return 1 << self.part_power


def typecode_for(devs: Sequence[dict | None]) -> str:
    """Smallest unsigned type that holds every device id."""
    return "H" if len(devs) < 0xFFFF else "I"


def encode_ring(part_power: int, replicas: float, devs: Sequence[dict | None],
                rows: Sequence[np.ndarray], version: int) -> bytes:
    code = typecode_for(devs)
    dtype = np.dtype("<u2" if code == "H" else "<u4")
    header = msgpack.packb({
        "format_version": FORMAT_VERSION, "version": version, "part_power": part_power,
        "replicas": float(replicas), "devs": list(devs),
        "row_lengths": [len(row) for row in rows], "typecode": code,
    }, use_bin_type=True)
    chunks = [MAGIC, _LEN.pack(len(header)), header]
    chunks.extend(np.asarray(row).astype(dtype, copy=False).tobytes() for row in rows)
    return b"".join(chunks)


def decode_ring(blob: bytes, source: str = "ring") -> RingData:
    if not blob.startswith(MAGIC):
        raise RingError(f"{source}: not an objstore ring file")
    try:
        (hlen,) = _LEN.unpack_from(blob, len(MAGIC))
        start = len(MAGIC) + _LEN.size
        header = msgpack.unpackb(blob[start:start + hlen], raw=False, strict_map_key=False)
        if header.get("format_version") != FORMAT_VERSION:
            raise RingError(f"{source}: unsupported ring format version "
                            f"{header.get('format_version')!r}")
        code = header["typecode"]
        itemsize = array.array(code).itemsize
        offset = start + hlen
        rows = []
        for length in header["row_lengths"]:
            row = array.array(code)
            row.frombytes(blob[offset:offset + length * itemsize])
            if len(row) != length:
                raise RingError(f"{source}: truncated ring file")
            if sys.byteorder != "little":
                row.byteswap()
            rows.append(row)
            offset += length * itemsize
        return RingData(part_power=header["part_power"], replicas=header["replicas"],
                        devs=header["devs"], rows=rows, version=header.get("version", 0))
    except (KeyError, TypeError, ValueError, struct.error, msgpack.UnpackException) as err:
        raise RingError(f"{source}: corrupt ring file ({err})") from None


def read_ring_file(path: str) -> RingData:
    try:
        with open(path, "rb") as handle:
            blob = gzip.decompress(handle.read())
    except FileNotFoundError:
        raise RingError(f"ring file not found: {path}") from None
    except (OSError, EOFError, zlib.error) as err:
        raise RingError(f"cannot read ring file {path}: {err}") from None
    return decode_ring(blob, path)


def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new file, never half."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def backup(path: str, data: bytes) -> str:
    """Keep a copy as ``backups/<timestamp>.<basename>`` beside ``path``."""
    folder = os.path.join(os.path.dirname(os.path.abspath(path)), "backups")
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, f"{time.time():.5f}.{os.path.basename(path)}")
    atomic_write(target, data)
    return target


def write_ring_file(path: str, part_power: int, replicas: float, devs: Sequence[dict | None],
                    rows: Sequence[np.ndarray], version: int, keep_backup: bool = True) -> None:
    data = gzip.compress(encode_ring(part_power, replicas, devs, rows, version),
                         compresslevel=6, mtime=0)
    atomic_write(path, data)
    if keep_backup:
        backup(path, data)
