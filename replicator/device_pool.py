"""Run a pass's jobs concurrently, at most ``concurrency`` at once and at most
``per_device`` on any one device, so that one slow disk cannot take every
worker while the others idle, and no disk gets more parallel work than it
can serve.
"""
from __future__ import annotations

import collections
from typing import Callable, Hashable, Iterable, TypeVar

import eventlet
import eventlet.queue

J = TypeVar("J")


def run_per_device(jobs: Iterable[tuple[Hashable, J]], work: Callable[[J], object], *,
                   concurrency: int, per_device: int, stopping: Callable[[], bool],
                   finished: Callable[[], object]) -> None:
    """Call ``work(job)`` in greenthreads for each ``(device, job)``, devices
    taking turns; ``finished()`` after each job (in the caller's greenthread).
    Once ``stopping()`` is true no new job starts; running ones complete.
    ``work`` must not raise."""
    queues: dict[Hashable, collections.deque] = collections.defaultdict(collections.deque)
    for device, job in jobs:
        queues[device].append(job)
    running: collections.Counter = collections.Counter()
    done: eventlet.queue.LightQueue = eventlet.queue.LightQueue()
    active = 0

    def run(device: Hashable, job: J) -> None:
        try:
            work(job)
        finally:
            done.put(device)

    while True:
        started = True
        while started and active < concurrency and not stopping():
            started = False
            for device in list(queues):
                if active >= concurrency:
                    break
                if running[device] >= per_device:
                    continue
                job = queues[device].popleft()
                if not queues[device]:
                    del queues[device]
                running[device] += 1
                active += 1
                eventlet.spawn_n(run, device, job)
                started = True
        if not active:
            return
        device = done.get()
        running[device] -= 1
        active -= 1
        finished()
