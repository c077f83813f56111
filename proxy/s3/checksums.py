"""The flexible checksums of S3 (``x-amz-checksum-<algorithm>``): CRC32, CRC32C,
CRC64NVME, SHA1 and SHA256, each sent and returned base64-encoded.

CRC32 and the SHAs come from the standard library (zlib, hashlib: C speed);
CRC32C and CRC64NVME are table-driven here, which is correct but slow (a few
MB/s), so those two are for clients that ask for them; boto3 and the AWS CLI
send CRC32 by default.
"""
from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Protocol

ALGORITHMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")
HEADER_PREFIX = "x-amz-checksum-"


class Hasher(Protocol):
    def update(self, data: bytes) -> None: ...
    def digest(self) -> bytes: ...


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


def _reflected_table(poly: int) -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return table


class _TableCrc:
    """A reflected CRC with all-ones init and final xor (CRC32C, CRC64NVME)."""
    table: list[int]
    width: int

    def __init__(self) -> None:
        self.mask = (1 << self.width) - 1
        self.value = self.mask

    def update(self, data: bytes) -> None:
        crc, table = self.value, self.table
        for byte in data:
            crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
        self.value = crc

    def digest(self) -> bytes:
        return (self.value ^ self.mask).to_bytes(self.width // 8, "big")


class _Crc32c(_TableCrc):
    table = _reflected_table(0x82F63B78)
    width = 32


class _Crc64Nvme(_TableCrc):
    table = _reflected_table(0x9A6C9329AC4BC9B5)
    width = 64


_FACTORIES = {"crc32": _Crc32, "crc32c": _Crc32c, "crc64nvme": _Crc64Nvme,
              "sha1": hashlib.sha1, "sha256": hashlib.sha256}


def new_hasher(algorithm: str) -> Hasher:
    """A fresh hasher for ``algorithm`` (one of ALGORITHMS, lower case)."""
    return _FACTORIES[algorithm]()


def encode(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def checksum_of(algorithm: str, data: bytes) -> str:
    """The base64 checksum of ``data`` as a client would send it."""
    hasher = new_hasher(algorithm)
    hasher.update(data)
    return encode(hasher.digest())
