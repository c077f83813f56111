"""One LMDB environment per device and kind, with group commit.

Why one environment per device (``<dev>/containers/lmdb/`` and
``<dev>/accounts/lmdb/``) rather than one per database:

- file handles and mappings: a node holds millions of container databases;
  one environment per database would need an open-env cache and re-open cost,
  while one per device is two file descriptors and one mapping;
- fsync cost: LMDB syncs on every commit (~2 fdatasyncs).  With one
  environment per device, concurrent updates to *any* containers on that
  device are applied in one write transaction and share one commit
  (``ListingStore.write``), which is what small-object PUT throughput needs;
- replication moves a database as records, not files: every database is a
  contiguous key range (keys start with its path hash) and every record
  change gets a per-database sequence number, so "records since sync point"
  is a range scan of the ``seq`` index, and a whole database is the same scan
  from 0.  The ``parts`` index lists the databases of a partition.

Named sub-databases (all keys start with the 16-byte database hash, except
``parts``):

``info``  hash -> database info (timestamps, counters, max seq, ...)
``meta``  hash -> metadata {key: [value, timestamp]}
``live``  hash + name key -> record (what listings walk)
``dead``  hash + name key -> tombstone (kept apart so listings never skip them)
``tombs`` hash + timestamp + name key -> b"" (reclaim index)
``seq``   hash + seq -> name key (changes feed for replication)
``syncs`` hash + remote db id -> last seq merged from it
``dirty`` hash -> version (containers whose stats the account has not seen)
``parts`` partition + hash -> b""

Writers: LMDB serializes writers (also across worker processes, with its
lock file).  A write transaction runs in a native thread via
``eventlet.tpool`` so that waiting for the lock or for fsync never blocks the
hub; the greenthreads that queue updates meanwhile are committed together
in the next transaction.  Reads are short read transactions on the hub.
The map grows by doubling on ``MapFullError`` (done by the leader on the
hub thread, when no transaction of this process is open).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import eventlet.event
import eventlet.tpool
import lmdb

SUBDBS = ("info", "meta", "live", "dead", "tombs", "seq", "syncs", "dirty", "parts")
DEFAULT_MAP_SIZE = 16 * 1024 ** 3  # address space only: the file grows as data is written
MAX_MAP_SIZE = 1024 ** 4

WriteOp = Callable[[Any, "ListingStore"], Any]


class _Waiter:
    __slots__ = ("op", "event", "result", "error", "done")

    def __init__(self, op: WriteOp) -> None:
        self.op = op
        self.event = eventlet.event.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False


class ListingStore:
    """An LMDB environment holding every container (or account) DB of a device."""

    def __init__(self, path: str, map_size: int = DEFAULT_MAP_SIZE, use_tpool: bool = True) -> None:
        os.makedirs(path, exist_ok=True)
        self.path = path
        self.env = lmdb.open(path, map_size=map_size, max_dbs=len(SUBDBS), subdir=True,
                             sync=True, metasync=True, readahead=False, max_readers=1024)
        self.db = {name: self.env.open_db(name.encode()) for name in SUBDBS}
        self.use_tpool = use_tpool
        self._queue: list[_Waiter] = []
        self._busy = False
        self.env.reader_check()  # free reader slots left by killed processes

    # -- reads -------------------------------------------------------------
    @contextmanager
    def read(self) -> Iterator[Any]:
        """A read transaction; never yield to other greenthreads inside it."""
        txn = self._begin(write=False)
        try:
            yield txn
        finally:
            txn.abort()

    def _begin(self, write: bool, parent=None):
        try:
            return self.env.begin(write=write, parent=parent)
        except lmdb.MapResizedError:  # another process grew the map: adopt its size
            self.env.set_mapsize(0)
            return self.env.begin(write=write, parent=parent)

    # -- writes ------------------------------------------------------------
    def write(self, op: WriteOp) -> Any:
        """Run ``op(txn, store)`` in a write transaction and return its result
        once committed (durable).  Concurrent callers share one commit; an op
        that raises only rolls back its own changes and re-raises here."""
        waiter = _Waiter(op)
        self._queue.append(waiter)
        if self._busy:
            try:
                waiter.event.wait()
            except BaseException:  # e.g. an eventlet.Timeout or kill while queued
                self._abandon(waiter)
                raise
            if not waiter.done:  # woken up to lead the next batch
                self._lead()
        else:
            self._busy = True
            self._lead()
        if waiter.error is not None:
            raise waiter.error
        return waiter.result

    def _lead(self) -> None:
        batch, self._queue = self._queue, []
        try:
            self._commit_with_growth(batch)
        except BaseException as err:  # the whole batch failed: every caller sees why
            for waiter in batch:
                waiter.error = err
        finally:
            for waiter in batch:
                waiter.done = True
                if not waiter.event.ready():
                    waiter.event.send(None)
            self._hand_over()

    def _hand_over(self) -> None:
        """Promote the first queued writer to leader, or go idle."""
        if self._queue:
            self._queue[0].event.send(None)
        else:
            self._busy = False

    def _abandon(self, waiter: _Waiter) -> None:
        """A queued writer gave up: drop its op, and if it had just been
        promoted to leader, promote the next one instead."""
        if waiter in self._queue:
            self._queue.remove(waiter)
        if waiter.event.ready() and not waiter.done:
            self._hand_over()

    def _commit_with_growth(self, batch: list[_Waiter]) -> None:
        while True:
            try:
                if self.use_tpool:
                    eventlet.tpool.execute(self._commit, batch)
                else:
                    self._commit(batch)
                return
            except lmdb.MapFullError:
                size = self.env.info()["map_size"]
                if size >= MAX_MAP_SIZE:
                    raise
                self.env.set_mapsize(min(size * 2, MAX_MAP_SIZE))

    def _commit(self, batch: list[_Waiter]) -> None:
        txn = self._begin(write=True)
        try:
            for waiter in batch:
                waiter.error = None
                child = self.env.begin(write=True, parent=txn)
                try:
                    waiter.result = waiter.op(child, self)
                    child.commit()
                except lmdb.MapFullError:
                    child.abort()
                    raise
                except Exception as err:  # this op's own failure: roll back only it
                    child.abort()
                    waiter.error = err
            txn.commit()
        except BaseException:
            txn.abort()
            raise

    def close(self) -> None:
        self.env.close()


class StoreCache:
    """Per-process cache of open stores, one per device directory.

    Environments are opened lazily, after the server forked its workers:
    an LMDB environment must not be used across ``fork()``.
    """

    def __init__(self, subdir: str, map_size: int = DEFAULT_MAP_SIZE, use_tpool: bool = True) -> None:
        self.subdir = subdir
        self.map_size = map_size
        self.use_tpool = use_tpool
        self._stores: dict[str, ListingStore] = {}
        self._pid = os.getpid()

    def get(self, device_path: str) -> ListingStore:
        if self._pid != os.getpid():
            self._stores, self._pid = {}, os.getpid()
        store = self._stores.get(device_path)
        if store is None:
            store = ListingStore(os.path.join(device_path, self.subdir, "lmdb"),
                                 self.map_size, self.use_tpool)
            self._stores[device_path] = store
        return store

    def existing(self, device_path: str) -> ListingStore | None:
        """The store of a device if it has one on disk (without creating it)."""
        if device_path in self._stores and self._pid == os.getpid():
            return self._stores[device_path]
        if os.path.isdir(os.path.join(device_path, self.subdir, "lmdb")):
            return self.get(device_path)
        return None

    def close(self) -> None:
        for store in self._stores.values():
            store.close()
        self._stores = {}
