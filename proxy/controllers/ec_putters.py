"""The uploads of an erasure-coded PUT: node i receives fragment archive i.

The client's body is cut into segments of ``ec_object_segment_size``
bytes; each is encoded with pyeclib into k + m fragments as soon as it is
complete, and fragment i goes to the node of replica i (its primary, or
the handoff standing in for it), so the proxy holds at most one segment.
Each node's body is Swift's multipart MIME document (``objstore/obj/footers.py``):
the archive, then a footer with what is known only at the end: the archive's
own MD5 (``Etag``, checked by the node and by its auditor later), the whole
object's ETag and length, the scheme and the segment size
(``X-Object-Sysmeta-Ec-*``) and the listing's size and ETag.

Then the two phases (Swift's durable marker): every node stores its archive
non-durable and answers; only if at least ``quorum`` (k + 1) did, each of
those is sent ``COMMIT`` and makes its archive durable.  A reader is served
durable archives only, so a PUT that died before its commit (proxy killed,
too few nodes, a wrong client ETag) is never seen, and its non-durable
archives are reclaimed after ``reclaim_age``.  Swift sends the commit inside
the same request after a second ``100 Continue``; a separate request keeps
the object server's body reader simple (eventlet's chunked reader blocks
until a whole read size arrives, so it cannot stop at the footer's end).
"""
from __future__ import annotations

import functools
import hashlib
from objstore.common.erasure import (FRAG_INDEX, OBJECT_ETAG, OBJECT_LENGTH, SCHEME,
                                     SEGMENT_SIZE, SegmentLayout)
from objstore.common.fanout import BackendResult, FanOut
from proxy.controllers.putters import (
    LateMetadata, Putter, ReplicaPutters, footer_put_headers, mime_footer, mime_preamble)

LISTING_ETAG = "X-Object-Sysmeta-Container-Update-Override-Etag"
LISTING_SIZE = "X-Object-Sysmeta-Container-Update-Override-Size"
# the headers of the PUT that the COMMIT repeats: which container replica to
# tell, the policy, the transaction, and listing values middleware imposed
_COMMIT_PREFIXES = ("x-container-", "x-backend-")
_COMMIT_NAMES = frozenset({"x-timestamp", "x-trans-id"})


def _md5() -> "hashlib._Hash":
    return hashlib.md5(usedforsecurity=False)


def fragment_headers(headers: dict[str, str], index: int, boundary: str,
                     archive_length: int | None) -> dict[str, str]:
    """The backend PUT headers of replica ``index`` of an EC PUT: its fragment
    index, a chunked MIME body with footers, no client ETag (the archive's
    own is in the footer; the proxy checks the client's)."""
    out = footer_put_headers({name: value for name, value in headers.items()
                              if name.lower() != "etag"}, boundary, archive_length)
    out[FRAG_INDEX] = str(index)
    return out


def commit_headers(headers: dict[str, str]) -> dict[str, str]:
    """What a node's COMMIT repeats of its PUT's headers."""
    return {name: value for name, value in headers.items()
            if name.lower() in _COMMIT_NAMES or name.lower().startswith(_COMMIT_PREFIXES)}


class ECPutters(ReplicaPutters):
    """The fragment uploads of one PUT (see the module docstring)."""

    def __init__(self, fanout: FanOut, putters: list[Putter], quorum: int, *,
                 layout: SegmentLayout, boundary: str, listing_set: bool = False,
                 late: LateMetadata | None = None) -> None:
        """``listing_set``: middleware already chose the listing's ETag and
        size (its sysmeta overrides); otherwise the whole object's go there.
        ``late``: a middleware's metadata known once the body is complete,
        in every footer."""
        super().__init__(fanout, putters, quorum, late=late, boundary=boundary)
        self.layout = layout
        self.listing_set = listing_set
        self.buffer = bytearray()
        self.object_md5 = _md5()
        self.size = 0
        self.archive_md5 = {putter.index: _md5() for putter in putters}
        self._preamble = mime_preamble(boundary)
        self._started: set[int] = set()  # replica indexes whose node got the preamble

    @property
    def etag(self) -> str:
        """MD5 of the whole object's bytes so far."""
        return self.object_md5.hexdigest()

    def send_chunk(self, chunk: bytes) -> None:
        self.object_md5.update(chunk)
        self.size += len(chunk)
        self.buffer += chunk
        segment_size = self.layout.segment_size
        while len(self.buffer) >= segment_size:
            segment = bytes(self.buffer[:segment_size])
            del self.buffer[:segment_size]
            self._send_segment(segment)

    def _send_segment(self, segment: bytes) -> None:
        fragments = self.layout.driver.encode(segment)
        self._to_all(lambda putter: self._send(putter, fragments[putter.index]))

    def _send(self, putter: Putter, data: bytes) -> None:
        self.archive_md5[putter.index].update(data)
        putter.send(self._with_preamble(putter, data))

    def _with_preamble(self, putter: Putter, data: bytes) -> bytes:
        """The MIME preamble goes before the first bytes a node gets."""
        if putter.index in self._started:
            return data
        self._started.add(putter.index)
        return self._preamble + data

    def finish(self) -> None:
        """The last (short) segment, then every node's footer and the end."""
        if self.buffer:
            self._send_segment(bytes(self.buffer))
            self.buffer.clear()
        late = self.late() if self.late is not None else {}
        self._to_all(lambda putter: self._send_footer(putter, late))
        self._to_all(Putter.finish)

    def _footer(self, putter: Putter) -> dict[str, str]:
        footer = {"Etag": self.archive_md5[putter.index].hexdigest(),
                  OBJECT_ETAG: self.etag, OBJECT_LENGTH: str(self.size),
                  SCHEME: self.layout.scheme, SEGMENT_SIZE: str(self.layout.segment_size)}
        if not self.listing_set:
            footer.update({LISTING_ETAG: self.etag, LISTING_SIZE: str(self.size)})
        return footer

    def _send_footer(self, putter: Putter, late: dict[str, str]) -> None:
        putter.send(self._with_preamble(putter, mime_footer(self.boundary,
                                                            {**late, **self._footer(putter)})))

    def stored(self) -> tuple[list[Putter], list[BackendResult]]:
        """Phase one's outcome: the putters whose node stored its archive
        (non-durable), and every node's answer (waiting
        ``post_quorum_timeout`` at most once a quorum agree)."""
        owners: dict[int, Putter] = {}

        def answer(putter: Putter) -> BackendResult | None:
            result = putter.response()
            if result is not None:
                owners[id(result)] = putter
            return result

        results = self.fanout.gather([functools.partial(answer, putter)
                                      for putter in self.putters], self.quorum)
        return [owners[id(result)] for result in results if result.status == 201], results

    def commit(self, stored: list[Putter], path: str,
               headers_list: list[dict[str, str]]) -> list[BackendResult]:
        """Phase two: COMMIT on every node that stored its archive; their answers."""
        return self.fanout.gather([functools.partial(
            self.fanout.request_one, iter([putter.node]), "COMMIT", path,
            commit_headers(headers_list[putter.index])) for putter in stored], self.quorum)
