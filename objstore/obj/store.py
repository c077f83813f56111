"""Storing one version of an object: the one durable write path of a storage node.

The object server's PUT, a replication receiver and an erasure-code
reconstructor all end the same way: stream a body into a temp file while
hashing it, check it against what the sender said (ETag, length), set its
metadata, fsync, rename it into the hash directory, fsync the directory,
invalidate the suffix hash and, when asked, tell the container (or leave an
async pending).  ``ObjectStore.put`` does exactly that, in that order, and
knows nothing of HTTP: each outcome that is not success is a ``StoreError``
subclass that the caller maps to its own answer.  Until the rename nothing
is visible, so every failure leaves no trace.

A fragment archive of an erasure-coded policy is named by the fragment index
in its ``X-Object-Sysmeta-Ec-Frag-Index``.  The proxy's PUT stores it
non-durable (``durable=False``: not served, no container update) and
``commit_durable`` marks it durable once the proxy knows enough nodes hold
theirs; pushes by the reconstructor store durable fragments at once.
"""
from __future__ import annotations

import dataclasses
import errno
import os
from typing import Callable, Iterable, NamedTuple

from objstore.common.checks import too_large_message
from objstore.common.erasure import FRAG_INDEX
from objstore.common.expiring import EXPIRING_ACCOUNT, QueueEntry, queue_container
from objstore.common.policies import StoragePolicy
from objstore.common.timestamp import Timestamp
from objstore.obj import durable as durable_io
from objstore.obj import hashes, ondisk
from objstore.obj.diskfile import DiskFile, DiskFileManager, DiskFileWriter
from objstore.obj.metadata import SIDECAR_SUFFIX, Metadata
from objstore.obj.container_updates import ContainerUpdateSender, Target

# metadata a sender gives that is stored with the version
STORED_PREFIXES = ("X-Object-Meta-", "X-Object-Sysmeta-", "X-Object-Transient-Sysmeta-")
# sysmeta stored with the object whose values replace its own in listings
# (e.g. an SLO manifest lists its total size)
LISTING_OVERRIDE_PREFIX = "X-Object-Sysmeta-Container-Update-Override-"
# listing values a sender (the proxy) imposes on this write only; they win
# over the stored ones
SENDER_OVERRIDE_PREFIX = "X-Backend-Container-Update-Override-"
# what an expiry queue entry lists (an empty record, as Swift's), in policy 0
QUEUE_ENTRY_LISTING = {"X-Size": "0", "X-Content-Type": "text/plain",
                       "X-Etag": "d41d8cd98f00b204e9800998ecf8427e"}
QUEUE_POLICY_INDEX = "0"


class ObjectPath(NamedTuple):
    """Where a version lives: a device, a partition, a policy and a name."""

    device: str
    dev_path: str
    partition: str
    account: str
    container: str
    obj: str
    policy: StoragePolicy


@dataclasses.dataclass(frozen=True)
class ContainerUpdate:
    """Which container replicas to tell about a write (``nodes`` of the
    container ring's ``partition``), and the listing values that replace the
    object's own (``X-Etag``, ``X-Size``...)."""

    partition: str
    nodes: list[Target]
    trans_id: str = "-"
    overrides: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Footers:
    """Metadata that arrives after the body (an EC PUT's or a push's footers):
    ``metadata`` replaces the same keys given up front, ``etag`` (if any) is
    what the body is checked against, ``overrides`` replace listing values."""

    metadata: Metadata = dataclasses.field(default_factory=dict)
    etag: str | None = None
    overrides: dict[str, str] = dataclasses.field(default_factory=dict)


class Stored(NamedTuple):
    etag: str
    size: int


class StoreError(Exception):
    """The version was not stored, and nothing of it is left on disk."""


class NewerExists(StoreError):
    def __init__(self, timestamp: Timestamp) -> None:
        super().__init__("An equal or newer object already exists")
        self.timestamp = timestamp


class AlreadyExists(StoreError):
    def __init__(self) -> None:
        super().__init__("Precondition Failed: the object exists (If-None-Match: *)")


class EtagMismatch(StoreError):
    def __init__(self) -> None:
        super().__init__("Unprocessable Entity: body does not match ETag")


class WrongLength(StoreError):
    """The body was shorter or longer than the sender said it would be."""


class TooLarge(StoreError):
    def __init__(self, limit: int) -> None:
        super().__init__(too_large_message(limit))


class DeviceFull(StoreError):
    """The device cannot take the write (full, quota, or a write error)."""


class BadFragmentIndex(StoreError):
    """A fragment archive without a valid X-Object-Sysmeta-Ec-Frag-Index."""


class NothingToCommit(StoreError):
    def __init__(self) -> None:
        super().__init__("No fragment archive at this timestamp to make durable")


def listing_overrides(metadata: Metadata) -> dict[str, str]:
    """``X-Etag``/``X-Size``/``X-Content-Type`` that stored sysmeta imposes on listings."""
    return {"X-" + key[len(LISTING_OVERRIDE_PREFIX):]: value
            for key, value in metadata.items()
            if key.startswith(LISTING_OVERRIDE_PREFIX) and value}


class ObjectStore:
    """Writes versions of objects to this node's devices and tells their containers."""

    def __init__(self, manager: DiskFileManager, sender: ContainerUpdateSender,
                 max_file_size: int) -> None:
        self.manager = manager
        self.sender = sender
        self.max_file_size = max_file_size

    def diskfile(self, target: ObjectPath) -> DiskFile:
        return self.manager.diskfile(target.dev_path, target.policy.data_dir, target.partition,
                                     target.account, target.container, target.obj)

    def put(self, target: ObjectPath, timestamp: Timestamp, metadata: Metadata,
            body: Iterable[bytes], *, expected_etag: str | None = None,
            expected_length: int | None = None, footers: Callable[[], Footers] | None = None,
            update: ContainerUpdate | None = None, if_none_match: bool = False,
            durable: bool = True) -> Stored:
        """Durably store ``body`` as the object's ``.data`` at ``timestamp``.

        ``metadata`` is what the sender gave up front (Content-Type, user
        metadata, sysmeta...); name, X-Timestamp, Content-Length and ETag are
        computed here.  ``footers`` is called once the body is consumed.
        ``if_none_match`` refuses to replace a live object.  Returns once the
        version is durable and the container was told (or an async pending
        covers it); exceptions from ``body`` and ``footers`` pass through.
        ``durable=False`` (a fragment archive in the first phase of an EC
        PUT): written and fsynced the same way but not served, and the
        container is told by ``commit_durable``.
        """
        diskfile = self.diskfile(target).list()
        if diskfile.timestamp is not None and diskfile.timestamp >= timestamp:
            raise NewerExists(diskfile.timestamp)
        if if_none_match and diskfile.fileset.data:
            diskfile.open().close()
            if diskfile.exists and not diskfile.is_expired():
                raise AlreadyExists()
        writer = diskfile.writer()
        try:
            self._write_body(writer, body, expected_length)
            late = footers() if footers is not None else Footers()
            expected = late.etag or expected_etag
            if expected and expected.strip('"').lower() != writer.etag:
                raise EtagMismatch()
            metadata = {**metadata, **late.metadata, "name": diskfile.name,
                        "X-Timestamp": timestamp.internal, "Content-Length": str(writer.size),
                        "ETag": writer.etag}
            suffix = ondisk.data_suffix(self._frag_index(target, metadata), durable)
        except BaseException:
            writer.close()
            raise
        self.commit(writer, metadata, timestamp, suffix)
        if update is not None and durable:
            listing = {"X-Size": str(writer.size), "X-Content-Type": metadata["Content-Type"],
                       "X-Etag": writer.etag, **listing_overrides(metadata),
                       **update.overrides, **late.overrides}
            self.update_container("PUT", target, diskfile, update, timestamp, listing)
        return Stored(writer.etag, writer.size)

    @staticmethod
    def _frag_index(target: ObjectPath, metadata: Metadata) -> int | None:
        """The fragment index a fragment archive's name carries (None: a whole copy)."""
        policy = target.policy
        if not policy.is_erasure_coded:
            return None
        raw = metadata.get(FRAG_INDEX, "")
        if not raw.isdigit() or int(raw) >= policy.node_count:
            raise BadFragmentIndex(f"{FRAG_INDEX} must be 0 .. {policy.node_count - 1}, "
                                   f"not {raw!r}")
        return int(raw)

    def commit_durable(self, target: ObjectPath, timestamp: Timestamp,
                       update: ContainerUpdate | None = None) -> None:
        """The second phase of an EC PUT: mark the object's fragment archives
        at ``timestamp`` durable (renamed to ``#d``, directory fsynced), then
        tell the container.  Committing twice is harmless; NothingToCommit
        if no fragment of that timestamp is here."""
        diskfile = self.diskfile(target).list()
        prefix = timestamp.internal + "#"
        names = [name for name in diskfile.listing
                 if name.startswith(prefix) and name.endswith(ondisk.DATA)]
        pending = [name for name in names if not ondisk.is_durable(name)]
        if not names:
            raise NothingToCommit()
        if pending:
            self.manager.run_io(_make_durable, diskfile.hash_dir, pending)
            hashes.invalidate_hash(diskfile.suffix_dir)
            ondisk.remove_obsolete(diskfile.hash_dir, diskfile.list().fileset)
        if update is None:
            return
        opened = diskfile.open()
        opened.close()
        if not opened.exists or opened.timestamp != timestamp:
            return  # a newer version won meanwhile: it told the container itself
        metadata = opened.data_metadata
        listing = {"X-Size": metadata["Content-Length"],
                   "X-Content-Type": metadata.get("Content-Type", ""),
                   "X-Etag": metadata["ETag"], **listing_overrides(metadata), **update.overrides}
        self.update_container("PUT", target, opened, update, timestamp, listing)

    def _write_body(self, writer: DiskFileWriter, body: Iterable[bytes],
                    expected_length: int | None) -> None:
        limit = self.max_file_size if expected_length is None else expected_length
        for chunk in body:
            try:
                writer.write(chunk)
            except OSError as err:
                raise DeviceFull(f"Cannot write to the device: {err.strerror}") from None
            if writer.size > limit:
                if expected_length is None:
                    raise TooLarge(limit)
                raise WrongLength(f"Body longer than the {expected_length} bytes announced")
        if expected_length is not None and writer.size < expected_length:
            raise WrongLength("Client disconnected: body shorter than Content-Length")

    @staticmethod
    def commit(writer: DiskFileWriter, metadata: Metadata, timestamp: Timestamp,
               ext: str) -> None:
        """Make the write durable (a full device is ``DeviceFull``); the temp
        file never outlives it."""
        try:
            writer.commit(metadata, timestamp, ext)
        except OSError as err:
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                raise DeviceFull(f"Not enough space on the device: {err.strerror}") from None
            raise
        finally:
            writer.close()

    def update_container(self, op: str, target: ObjectPath, diskfile: DiskFile,
                         update: ContainerUpdate, timestamp: Timestamp,
                         listing: dict[str, str]) -> None:
        """Send ``op`` for the object at ``timestamp`` with ``listing`` values."""
        headers = {"X-Timestamp": timestamp.internal,
                   "X-Backend-Storage-Policy-Index": str(target.policy.index),
                   "X-Trans-Id": update.trans_id, **listing}
        self.sender.update(op, target.dev_path, target.policy.async_dir, diskfile.hash,
                            target.account, target.container, target.obj, update.partition,
                            update.nodes, headers)

    def update_expiry_queue(self, target: ObjectPath, timestamp: Timestamp,
                            old_delete_at: str | None, new_delete_at: str | None,
                            queue: ContainerUpdate) -> None:
        """Move the object's entry in the expiry queue (objstore.common.expiring)
        from ``old_delete_at`` to ``new_delete_at`` (either may be None) after
        a write at ``timestamp``.  The new entry goes to the queue replicas the
        proxy named in ``queue``; the old one too when it lives in the same
        queue container, otherwise (the proxy cannot know the old time) it is
        left as an async pending that the object updater delivers through the
        container ring, as Swift does.  No named replicas: async pendings only."""
        if old_delete_at == new_delete_at:
            return
        if new_delete_at is not None:
            self._queue_update("PUT", target, new_delete_at, timestamp, queue)
        if old_delete_at is not None:
            if new_delete_at is None or \
                    queue_container(old_delete_at) != queue_container(new_delete_at):
                queue = dataclasses.replace(queue, partition="", nodes=[])
            self._queue_update("DELETE", target, old_delete_at, timestamp, queue)

    def _queue_update(self, op: str, target: ObjectPath, delete_at: str, timestamp: Timestamp,
                      queue: ContainerUpdate) -> None:
        entry = QueueEntry(delete_at, target.account, target.container, target.obj)
        headers = {"X-Timestamp": timestamp.internal,
                   "X-Backend-Storage-Policy-Index": QUEUE_POLICY_INDEX,
                   "X-Trans-Id": queue.trans_id, **(QUEUE_ENTRY_LISTING if op == "PUT" else {})}
        path_hash = self.manager.name_hash(
            f"/{EXPIRING_ACCOUNT}/{entry.queue_container}/{entry.name}")
        self.sender.update(op, target.dev_path, target.policy.async_dir, path_hash,
                           EXPIRING_ACCOUNT, entry.queue_container, entry.name,
                           queue.partition, queue.nodes, headers)


def _make_durable(hash_dir: str, names: list[str]) -> None:
    """Rename non-durable fragment archives (and their metadata sidecars,
    first) to their durable names, then fsync the directory once."""
    for name in names:
        durable_name = name[:-len(ondisk.DATA)] + "#d" + ondisk.DATA
        for old, new in ((name + SIDECAR_SUFFIX, durable_name + SIDECAR_SUFFIX),
                         (name, durable_name)):
            try:
                os.rename(os.path.join(hash_dir, old), os.path.join(hash_dir, new))
            except FileNotFoundError:
                pass  # no sidecar (the metadata fit in xattrs)
    durable_io.fsync_dir(hash_dir)
