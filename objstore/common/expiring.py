"""Names of the expiring-object queue, shared by proxy, object servers and expirer.

An object with ``X-Delete-At`` is queued as an empty record in a hidden
account, as Swift does: container ``<delete_at rounded down to
EXPIRING_OBJECTS_CONTAINER_DIVISOR>`` (ten digits) of ``.expiring_objects``,
entry ``<delete_at>-<account>/<container>/<object>``.  Entries sort by due
time within a container, and containers by day, so the expirer reads only
what is due.  The divisor is a constant, not a setting: the proxy (which
names the queue container's replicas), every object server (which removes an
old entry) and the expirer must agree on it, and a cluster whose nodes
disagreed would leave entries nobody removes (Swift deprecated its option
for that reason).
"""
from __future__ import annotations

from typing import NamedTuple

from objstore.common.paths import split_object_name

EXPIRING_ACCOUNT = ".expiring_objects"
EXPIRING_OBJECTS_CONTAINER_DIVISOR = 86400


class QueueEntry(NamedTuple):
    """One queued expiry: ``delete_at`` as the ten digits the object stores."""

    delete_at: str
    account: str
    container: str
    obj: str

    @property
    def queue_container(self) -> str:
        return queue_container(self.delete_at)

    @property
    def name(self) -> str:
        return f"{self.delete_at}-{self.account}/{self.container}/{self.obj}"


def queue_container(delete_at: str | int) -> str:
    """The queue container of an expiry time (whole seconds)."""
    seconds = int(delete_at)
    return "%010d" % (seconds - seconds % EXPIRING_OBJECTS_CONTAINER_DIVISOR)


def parse_queue_entry(name: str) -> QueueEntry:
    """The expiry an entry name stands for; ValueError if it is not one."""
    delete_at, dash, path = name.partition("-")
    names = split_object_name("/" + path)
    if not dash or not delete_at.isdigit() or names is None:
        raise ValueError(f"not an expiring-object queue entry: {name!r}")
    return QueueEntry(delete_at, *names)
