"""The consistent-hashing ring: which devices hold each account, container and object.

``ring.ring`` (``Ring``, ``load_ring``) is the read side used by every daemon;
``ring.builder`` (``RingBuilder``) is the admin side behind
``objstore-ring-builder``.  This package imports none of them, so a daemon
that reads rings never loads the builder, and the builder's own imports of
``ring`` do not loop back into it.
"""
