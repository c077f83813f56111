"""HTTP shapes every layer shares (proxy, middleware, storage servers)."""
from __future__ import annotations

# The one unit in which bodies are read and written: socket reads and writes,
# disk reads and the write buffer of a .data file.  One size keeps a body moving
# from client to disk (and back) without re-chunking at every hop.
CHUNK_SIZE = 65536
