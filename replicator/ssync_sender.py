"""The sending end of ssync (protocol: ``objstore/obj/ssync.py``): offer a
partition's objects to one peer, then stream it the files it wants.

Files are read 64 KiB at a time and go out as soon as 64 KiB (or the end)
is gathered, so small objects share chunks and a large one is never held
in memory.  Every byte of file content passes ``spend`` first (the
replicator's bytes/s limit).
"""
from __future__ import annotations

import dataclasses
import itertools
import os
from typing import Callable, Iterable, Iterator, Mapping, NamedTuple, Protocol

import msgpack

from objstore.common.backend_http import BackendConnection, ConnectionPool
from objstore.common.http import CHUNK_SIZE
from objstore.obj import metadata as md
from objstore.obj import ondisk, ssync

OFFER_BATCH = 2000  # objects per missing check (a request of ~200 KiB)


class PeerError(Exception):
    """A peer could not be reached or did not answer 200 (``status``: its
    answer, None if there was none)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SubstituteError(Exception):
    """The file to send in place of a local one could not be made (the
    object is counted as failed for this peer, the others go on)."""


class LocalObject(NamedTuple):
    offer: ssync.Offer
    hash_dir: str


def local_objects(part_dir: str, suffixes: Iterable[str]) -> Iterator[LocalObject]:
    """What a partition holds in ``suffixes`` (hash directories with a winner)."""
    for suffix in sorted(suffixes):
        suffix_dir = os.path.join(part_dir, suffix)
        try:
            hash_names = sorted(os.listdir(suffix_dir))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for hash_ in hash_names:
            hash_dir = os.path.join(suffix_dir, hash_)
            try:
                fileset = ondisk.classify(os.listdir(hash_dir))
                size = os.stat(os.path.join(hash_dir, fileset.data)).st_size \
                    if fileset.data else 0
            except (FileNotFoundError, NotADirectoryError):
                continue  # replaced or removed while we looked
            offer = ssync.offer_from(hash_, fileset, size)
            if offer is not None:
                yield LocalObject(offer, hash_dir)


class Peer(Protocol):
    """How the sender reaches one object server (HTTP, or in-process in tests)."""

    def request(self, method: str, path: str, headers: Mapping[str, str],
                body: bytes | Iterable[bytes] | None) -> tuple[int, bytes]: ...


class HTTPPeer:
    """An object server at a ring device's replication address."""

    def __init__(self, node: Mapping, conn_timeout: float, node_timeout: float,
                 pool: ConnectionPool | None = None) -> None:
        self.address = {"ip": node.get("replication_ip") or node["ip"],
                        "port": node.get("replication_port") or node["port"]}
        self.conn_timeout = conn_timeout
        self.node_timeout = node_timeout
        self.pool = pool

    def request(self, method: str, path: str, headers: Mapping[str, str],
                body: bytes | Iterable[bytes] | None) -> tuple[int, bytes]:
        try:
            conn = BackendConnection(self.address, self.conn_timeout, self.node_timeout,
                                     self.pool)
        except OSError as err:
            raise PeerError(f"cannot connect: {err}") from None
        try:
            if body is None or isinstance(body, bytes):
                data = body or b""
                conn.send_request(method, path, {**headers, "Content-Length": str(len(data))},
                                  body=data)
            else:
                conn.send_request(method, path, {**headers, "Transfer-Encoding": "chunked"})
                for chunk in body:
                    conn.send(chunk)
                conn.finish_body()
            response = conn.getresponse()
            answer = response.read_all()
            response.close()
            return response.status, answer
        except OSError as err:
            raise PeerError(f"{method} {path}: {err}") from None
        finally:
            conn.close()


@dataclasses.dataclass
class SyncResult:
    """What one push of offers to one peer achieved."""
    in_sync: set[str] = dataclasses.field(default_factory=set)   # hashes the peer has now
    failed: set[str] = dataclasses.field(default_factory=set)    # hashes it may still lack
    files: int = 0    # files the peer stored
    bytes: int = 0    # file content sent


def coalesce(pieces: Iterable[bytes], size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Join small pieces into chunks of about ``size`` bytes (fewer, larger writes)."""
    buffer: list[bytes] = []
    buffered = 0
    for piece in pieces:
        buffer.append(piece)
        buffered += len(piece)
        if buffered >= size:
            yield b"".join(buffer)
            buffer, buffered = [], 0
    if buffer:
        yield b"".join(buffer)


class Substitute(NamedTuple):
    """A file sent in place of a local ``.data`` (the EC reconstructor's
    rebuilt fragment): its content at ``path`` (removed once sent), the name
    and the metadata the peer stores it under."""
    path: str
    name: str
    metadata: dict[str, str]


# the file to send instead of a wanted local .data, or None to send it as it is
DataSubstitute = Callable[[LocalObject, str], "Substitute | None"]


class Sender:
    """Pushes one device partition of one policy to one peer."""

    def __init__(self, peer: Peer, device: str, partition: int, policy_index: int,
                 spend: Callable[[int], object] = lambda _: None,
                 substitute: DataSubstitute | None = None) -> None:
        self.peer = peer
        self.device = device
        self.partition = partition
        self.policy_index = policy_index
        self.spend = spend
        self.substitute = substitute
        self.sent_bytes = 0

    def _call(self, method: str, path: str, body: bytes | Iterable[bytes] | None,
              headers: Mapping[str, str] | None = None) -> bytes:
        status, answer = self.peer.request(
            method, path, {"X-Backend-Storage-Policy-Index": str(self.policy_index),
                           **(headers or {})}, body)
        if status != 200:
            raise PeerError(f"{method} {path}: {status} {answer[:200]!r}", status)
        return answer

    def _decode(self, answer: bytes, what: str) -> object:
        try:
            return msgpack.unpackb(answer, raw=False)
        except Exception as err:
            raise PeerError(f"bad {what} answer: {err}") from None

    def replicate(self) -> dict[str, str]:
        """The peer's suffix hashes of this partition."""
        hashes = self._decode(self._call("REPLICATE", f"/{self.device}/{self.partition}", None),
                              "REPLICATE")
        if not isinstance(hashes, dict):
            raise PeerError("REPLICATE answer is not a dict")
        return hashes

    def sync(self, objects: Iterable[LocalObject]) -> SyncResult:
        """Offer ``objects`` in batches and send what the peer wants; raises
        PeerError if the peer cannot take part (unreachable, 507...)."""
        result = SyncResult()
        objects = iter(objects)
        while batch := list(itertools.islice(objects, OFFER_BATCH)):
            self._sync_batch(batch, result)
        return result

    def _sync_batch(self, batch: list[LocalObject], result: SyncResult) -> None:
        path = f"/{self.device}/{self.partition}"
        wants = self._decode(self._call("SSYNC", path, ssync.encode_offers(
            [item.offer for item in batch]), {ssync.PHASE_HEADER: ssync.MISSING_CHECK}),
            "missing-check")
        if not isinstance(wants, dict):
            raise PeerError("missing-check answer is not a dict")
        sends = []
        for item in batch:
            want = wants.get(item.offer.hash, "")
            names = [name for flag, name in ((ssync.WANT_WINNER, item.offer.winner),
                                             (ssync.WANT_META, item.offer.meta))
                     if flag in want and name]
            if names:
                sends.append((item, names))
            else:
                result.in_sync.add(item.offer.hash)
        if not sends:
            return
        before = self.sent_bytes
        unreadable: set[str] = set()
        answer = self._decode(self._call("SSYNC", path, coalesce(self._frames(sends, unreadable)),
                                         {ssync.PHASE_HEADER: ssync.UPDATES}), "updates")
        result.bytes += self.sent_bytes - before
        try:
            failed = unreadable | {hash_ for hash_, _ in answer["failed"]}
            result.files += len(answer["stored"])
        except (TypeError, KeyError, ValueError):
            raise PeerError(f"bad updates answer {answer!r:.200}") from None
        for item, _ in sends:
            (result.failed if item.offer.hash in failed else result.in_sync).add(item.offer.hash)

    def _frames(self, sends: list[tuple[LocalObject, list[str]]],
                unreadable: set[str]) -> Iterator[bytes]:
        """The wanted files as frames; a hash whose file has unreadable
        metadata goes into ``unreadable`` (never spread a bad copy: the
        auditor quarantines it)."""
        for item, names in sends:
            for name in names:
                try:
                    yield from self._frame_for(item, name)
                except (md.MetadataError, SubstituteError):
                    unreadable.add(item.offer.hash)

    def _frame_for(self, item: LocalObject, name: str) -> Iterator[bytes]:
        substitute = self.substitute(item, name) \
            if self.substitute is not None and name.endswith(ondisk.DATA) else None
        if substitute is None:
            yield from self._file_frame(os.path.join(item.hash_dir, name))
            return
        try:
            yield from self._file_frame(substitute.path, substitute.name, substitute.metadata)
        finally:
            os.unlink(substitute.path)

    def _file_frame(self, path: str, name: str | None = None,
                    metadata: dict[str, str] | None = None) -> Iterator[bytes]:
        """One file as a frame (its own name and metadata unless given);
        nothing if it is gone (a newer write replaced it: that one goes in a
        later pass)."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            if metadata is None:
                metadata = md.read_metadata(fd, path)
            size = os.fstat(fd).st_size if (name or path).endswith(ondisk.DATA) else 0
            yield ssync.frame_header(name or os.path.basename(path), metadata, size)
            position = 0
            while position < size:
                chunk = os.pread(fd, min(CHUNK_SIZE, size - position), position)
                if not chunk:
                    raise PeerError(f"{path} shrank while being sent")
                self.spend(len(chunk))
                position += len(chunk)
                self.sent_bytes += len(chunk)
                yield chunk
        finally:
            os.close(fd)
