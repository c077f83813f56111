"""The consistent-hashing ring: which devices hold each account, container and object.

``Ring``/``load_ring`` are the read side used by every daemon; ``RingBuilder``
is the admin side behind ``objstore-ring-builder``.
"""
from ring.builder import RebalanceResult, RingBuilder
from ring.errors import RingBuilderError, RingError
from ring.ring import Ring, load_ring

__all__ = ["Ring", "RingBuilder", "RebalanceResult", "RingError", "RingBuilderError", "load_ring"]
