"""A user-space network cable with faults, for the simulated hosts of ``tests/hosts.py``.

Each simulated host's link is a pair of TAP devices: one goes into the host's
network namespace, the other is a port of the test bridge.  This process
copies Ethernet frames between the two and, on request, drops some (all of
them, those to or from given IPv4 addresses, or a random share) or holds them
back for a while.  That is what ``tc qdisc ... netem`` would do, done here
because kernels without ``sch_netem`` (this project's CI) are common; only the
standard library is needed.

The TAP devices are created by this process and vanish when it exits, so a
killed test leaves no link behind.  Commands arrive on stdin, one JSON object
a line, and each is answered on stdout with one line (``ok`` or ``error: ...``)::

    {"op": "wire", "name": "h1", "host_tap": "os1a2bh1h", "switch_tap": "os1a2bh1s"}
    {"op": "set", "name": "h1", "cut": true}                      # nothing passes
    {"op": "set", "name": "p", "drop_ips": ["10.201.7.14"]}       # nothing to or from these
    {"op": "set", "name": "h3", "delay": 0.2, "loss": 0.1}        # the host's outgoing frames
    {"op": "set", "name": "h3"}                                    # healed

Run as ``python -m tests.netwire``; it exits when stdin closes.
"""
from __future__ import annotations

import dataclasses
import fcntl
import heapq
import itertools
import json
import os
import random
import selectors
import socket
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
ETH_HEADER = 14
ETHERTYPE_IPV4 = b"\x08\x00"
MAX_FRAME = 65536


def open_tap(name: str) -> int:
    """Create the TAP device ``name`` and return its file descriptor (the
    device lives as long as the descriptor)."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def ipv4_addresses(frame: bytes) -> tuple[str, str] | None:
    """(source, destination) of an IPv4 frame, None for anything else (ARP...)."""
    if frame[12:14] != ETHERTYPE_IPV4 or len(frame) < ETH_HEADER + 20:
        return None
    header = frame[ETH_HEADER:ETH_HEADER + 20]
    return socket.inet_ntoa(header[12:16]), socket.inet_ntoa(header[16:20])


@dataclasses.dataclass
class Faults:
    """What a wire does to frames now; the default passes everything at once."""

    cut: bool = False
    drop_ips: frozenset[str] = frozenset()
    delay: float = 0.0  # seconds, the host's outgoing frames
    loss: float = 0.0  # share of the host's outgoing frames dropped

    @classmethod
    def from_command(cls, command: dict) -> "Faults":
        return cls(bool(command.get("cut")), frozenset(command.get("drop_ips", ())),
                   float(command.get("delay", 0.0)), float(command.get("loss", 0.0)))


@dataclasses.dataclass
class Wire:
    name: str
    host_fd: int
    switch_fd: int
    faults: Faults = dataclasses.field(default_factory=Faults)


class Relay:
    """Every wire of one simulated network, driven by one selector loop."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.wires: dict[str, Wire] = {}
        self.pending: list[tuple[float, int, int, bytes]] = []  # (due, order, fd, frame)
        self.order = itertools.count()
        self.rng = random.Random()
        self.stdin_buffer = b""

    def handle(self, command: dict) -> None:
        if command["op"] == "wire":
            wire = Wire(command["name"], open_tap(command["host_tap"]),
                        open_tap(command["switch_tap"]))
            self.wires[wire.name] = wire
            self.selector.register(wire.host_fd, selectors.EVENT_READ, (wire, True))
            self.selector.register(wire.switch_fd, selectors.EVENT_READ, (wire, False))
        elif command["op"] == "set":
            self.wires[command["name"]].faults = Faults.from_command(command)
        else:
            raise ValueError(f"unknown op {command['op']!r}")

    def forward(self, wire: Wire, from_host: bool, frame: bytes) -> None:
        faults = wire.faults
        if faults.cut:
            return
        if faults.drop_ips:
            addresses = ipv4_addresses(frame)
            if addresses and faults.drop_ips.intersection(addresses):
                return
        out_fd = wire.switch_fd if from_host else wire.host_fd
        if from_host and faults.loss and self.rng.random() < faults.loss:
            return
        if from_host and faults.delay:
            heapq.heappush(self.pending, (time.monotonic() + faults.delay, next(self.order),
                                          out_fd, frame))
            return
        self.write(out_fd, frame)

    @staticmethod
    def write(fd: int, frame: bytes) -> None:
        try:
            os.write(fd, frame)
        except OSError:  # the other side is not up (yet), or its queue is full: a lost frame
            pass

    def read_frames(self, wire: Wire, from_host: bool) -> None:
        fd = wire.host_fd if from_host else wire.switch_fd
        for _ in range(64):
            try:
                frame = os.read(fd, MAX_FRAME)
            except (BlockingIOError, OSError):
                return
            self.forward(wire, from_host, frame)

    def read_commands(self) -> bool:
        """Handle every complete command line; False once stdin is closed."""
        data = os.read(sys.stdin.fileno(), MAX_FRAME)
        if not data:
            return False
        self.stdin_buffer += data
        while b"\n" in self.stdin_buffer:
            line, self.stdin_buffer = self.stdin_buffer.split(b"\n", 1)
            if not line.strip():
                continue
            try:
                self.handle(json.loads(line))
                answer = "ok"
            except Exception as err:  # the harness shows it to the test
                answer = f"error: {err!r}"
            sys.stdout.write(answer + "\n")
            sys.stdout.flush()
        return True

    def release_due(self) -> None:
        now = time.monotonic()
        while self.pending and self.pending[0][0] <= now:
            _, _, fd, frame = heapq.heappop(self.pending)
            self.write(fd, frame)

    def run(self) -> None:
        self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ, None)
        while True:
            timeout = max(self.pending[0][0] - time.monotonic(), 0) if self.pending else None
            for key, _ in self.selector.select(timeout):
                if key.data is None:
                    if not self.read_commands():
                        return
                else:
                    self.read_frames(*key.data)
            self.release_due()


if __name__ == "__main__":
    Relay().run()
