"""Rebuilding one fragment archive of an erasure-coded object from k others.

The archives of the version are read over HTTP from the other primaries
(as a proxy GET would, so only durable archives are used), segment by
segment: each segment's k fragments are checked against their CRC and
``pyeclib``'s ``reconstruct`` gives the missing fragment, which goes to a
temp file on the local device (never memory: an archive is a quarter of a
5 GiB object at 4+2).  The result is byte-identical to the archive the
proxy wrote, so its MD5 is the ETag that archive had.
"""
from __future__ import annotations

import functools
import hashlib
import os
from typing import Mapping

from pyeclib.ec_iface import ECDriverError

from objstore.common.backend_http import BackendResponse
from objstore.common.erasure import FRAG_INDEX, OBJECT_LENGTH, SegmentLayout
from objstore.common.fanout import NET_ERRORS, FanOut
from objstore.common.timestamp import Timestamp
from objstore.obj import durable
from replicator.ssync_sender import SubstituteError


def _read_exactly(resp: BackendResponse, size: int) -> bytes:
    parts, got = [], 0
    while got < size:
        chunk = resp.read(size - got)
        if not chunk:
            raise SubstituteError("a source archive ended early")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _sources(fanout: FanOut, nodes: list[Mapping], path: str, policy_index: int,
             timestamp: Timestamp, layout: SegmentLayout) -> list[BackendResponse]:
    """k open GETs of distinct fragment archives of the version at ``timestamp``."""
    headers = {"X-Backend-Storage-Policy-Index": str(policy_index)}
    answers = fanout.gather([functools.partial(fanout.try_node, node, "GET", path, headers)
                             for node in nodes])
    by_index: dict[int, BackendResponse] = {}
    for resp in answers:
        index = resp.headers.get(FRAG_INDEX.lower(), "")
        if resp.status == 200 and index.isdigit() and int(index) not in by_index and \
                resp.headers.get("x-backend-data-timestamp") == timestamp.internal:
            by_index[int(index)] = resp
        else:
            resp.close()
    chosen = [by_index[index] for index in sorted(by_index)[:layout.ndata]]
    for index in sorted(by_index)[layout.ndata:]:
        by_index[index].close()
    if len(chosen) < layout.ndata:
        for resp in chosen:
            resp.close()
        raise SubstituteError(f"only {len(chosen)} of the {layout.ndata} fragment archives "
                              f"needed to rebuild answered")
    return chosen


def rebuild_archive(fanout: FanOut, nodes: list[Mapping], path: str, policy_index: int,
                    timestamp: Timestamp, layout: SegmentLayout, index: int,
                    tmp_dir: str) -> tuple[str, str, int]:
    """Fragment archive ``index`` of the object at backend ``path``
    (``/<part>/<account>/<container>/<object>``) rebuilt from ``nodes``
    into a temp file in ``tmp_dir``: (its path, MD5, size).  Raises
    SubstituteError if it cannot be."""
    sources = _sources(fanout, nodes, path, policy_index, timestamp, layout)
    os.makedirs(tmp_dir, exist_ok=True)
    tmp = durable.tmp_path(tmp_dir)
    checksum, size = hashlib.md5(usedforsecurity=False), 0
    try:
        length = int(sources[0].headers.get(OBJECT_LENGTH.lower(), ""))
        with open(tmp, "wb") as out:
            for segment in range(layout.segment_count(length)):
                want = layout.archive_fragment_length(segment, length)
                fragments = [_read_exactly(resp, want) for resp in sources]
                if not all(layout.intact(fragment) for fragment in fragments):
                    raise SubstituteError(f"a source fragment of segment {segment} is corrupt")
                rebuilt = layout.driver.reconstruct(fragments, [index])[0]
                out.write(rebuilt)
                checksum.update(rebuilt)
                size += len(rebuilt)
    except (ValueError, ECDriverError, *NET_ERRORS) as err:
        os.unlink(tmp)
        raise SubstituteError(f"rebuilding fragment {index}: {err!r}") from None
    except BaseException:
        os.unlink(tmp)
        raise
    finally:
        for resp in sources:
            resp.close()
    return tmp, checksum.hexdigest(), size
