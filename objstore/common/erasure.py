"""Erasure coding arithmetic: a policy's pyeclib driver, and where each
segment of an object lives in its fragment archives.

An object of ``L`` bytes is cut into segments of ``segment_size`` bytes (the
last one shorter); pyeclib encodes each segment into ``k + m`` fragments of
equal length (``fragment_size`` for a whole segment: the segment's share plus
pyeclib's 80-byte header).  Fragment archive ``i`` is fragment ``i`` of every
segment, one after the other, so segment ``j`` is at archive bytes
``[j * fragment_size, (j + 1) * fragment_size)`` on every node, and every
archive of an object has the same length.  Any ``k`` fragments of a segment
decode it; any ``k`` rebuild a missing one.

Every fragment carries liberasurecode's inline CRC32 of its data (in its
header, so sizes do not change): a reader checks each fragment before it
decodes or rebuilds from it (``SegmentLayout.intact``), so a fragment
corrupted on disk is replaced by another instead of turning into wrong bytes.
"""
from __future__ import annotations

import dataclasses
import functools

from pyeclib.ec_iface import ECDriver

# sysmeta every fragment archive carries (Swift's names)
FRAG_INDEX = "X-Object-Sysmeta-Ec-Frag-Index"
OBJECT_ETAG = "X-Object-Sysmeta-Ec-Etag"
OBJECT_LENGTH = "X-Object-Sysmeta-Ec-Content-Length"
SCHEME = "X-Object-Sysmeta-Ec-Scheme"
SEGMENT_SIZE = "X-Object-Sysmeta-Ec-Segment-Size"


@functools.lru_cache(maxsize=None)
def driver(ec_type: str, ndata: int, nparity: int) -> ECDriver:
    """One pyeclib driver per scheme and process (building one loads the
    backend library); raises pyeclib's errors for a scheme it cannot do."""
    return ECDriver(k=ndata, m=nparity, ec_type=ec_type, chksum_type="inline_crc32")


@dataclasses.dataclass(frozen=True)
class SegmentLayout:
    """Where the bytes of an object of an EC policy go (see the module docstring)."""

    ec_type: str
    ndata: int
    nparity: int
    segment_size: int

    @property
    def driver(self) -> ECDriver:
        return driver(self.ec_type, self.ndata, self.nparity)

    @property
    def scheme(self) -> str:
        """What ``X-Object-Sysmeta-Ec-Scheme`` says, e.g. ``liberasurecode_rs_vand 4+2``."""
        return f"{self.ec_type} {self.ndata}+{self.nparity}"

    @functools.cached_property
    def fragment_size(self) -> int:
        """Bytes of one fragment of a whole segment."""
        return self.driver.get_segment_info(self.segment_size, self.segment_size)["fragment_size"]

    def intact(self, fragment: bytes) -> bool:
        """The fragment's data matches the CRC32 in its header."""
        try:
            return not self.driver.get_metadata(fragment, True)["chksum_mismatch"]
        except Exception:  # pyeclib's ECDriverError family: not a fragment at all
            return False

    def fragment_length(self, segment_length: int) -> int:
        """Bytes of one fragment of a segment of ``segment_length`` bytes."""
        if segment_length == self.segment_size:
            return self.fragment_size
        return self.driver.get_segment_info(segment_length, self.segment_size)["fragment_size"]

    def segment_count(self, length: int) -> int:
        return -(-length // self.segment_size)

    def segment_length(self, index: int, length: int) -> int:
        """Bytes of object data in segment ``index`` of an object of ``length`` bytes."""
        return min(self.segment_size, length - index * self.segment_size)

    def archive_length(self, length: int) -> int:
        """Bytes of every fragment archive of an object of ``length`` bytes."""
        count = self.segment_count(length)
        if count == 0:
            return 0
        last = self.segment_length(count - 1, length)
        return (count - 1) * self.fragment_size + self.fragment_length(last)

    def archive_fragment_length(self, index: int, length: int) -> int:
        """Bytes of segment ``index``'s fragment in an archive of an ``length``-byte object."""
        return self.fragment_length(self.segment_length(index, length))

    def segment_span(self, start: int, stop: int) -> tuple[int, int]:
        """The first segment and the one past the last that hold object bytes [start, stop)."""
        return start // self.segment_size, -(-stop // self.segment_size)

    def archive_offset(self, segment: int) -> int:
        """Where segment ``segment`` starts in every archive."""
        return segment * self.fragment_size
