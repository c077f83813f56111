"""Metadata known only after the body (``putters.LATE_METADATA``): a replicated PUT
sends it as the footer of Swift's multipart MIME body, which the object server's
footer reader (``objstore.obj.footers``) takes back apart."""
from __future__ import annotations

import pytest

from objstore.obj.footers import FooterBody
from proxy.controllers.putters import (
    LATE_METADATA, Putter, ReplicaPutters, footer_put_headers, late_metadata)

CHECKSUM = "X-Object-Sysmeta-S3-Checksum-Crc32"


class CapturingConnection:
    """A node's connection that keeps what it was sent."""

    def __init__(self) -> None:
        self.sent = bytearray()
        self.finished = False

    def send(self, data: bytes) -> None:
        self.sent += data

    def finish_body(self) -> None:
        self.finished = True


def upload(chunks: list[bytes], late) -> list[CapturingConnection]:
    connections = [CapturingConnection(), CapturingConnection()]
    replicas = ReplicaPutters(None, [Putter(None, conn, {}) for conn in connections], 2,
                              late=late, boundary="b0undary")
    for chunk in chunks:
        replicas.send_chunk(chunk)
    replicas.finish()
    return connections


@pytest.mark.parametrize("chunks", [[], [b"one chunk"], [b"a" * 70000, b"b" * 3, b"c"]])
def test_the_footer_put_body_gives_back_the_object_and_the_late_metadata(chunks):
    calls = []

    def late():
        calls.append(True)
        return {CHECKSUM: "AAAAAA=="}
    for putter in upload(chunks, late):
        assert putter.finished
        body = FooterBody([bytes(putter.sent)], "b0undary")
        assert b"".join(body.object_data()) == b"".join(chunks)
        assert body.footers().metadata == {CHECKSUM: "AAAAAA=="}
    assert calls == [True]  # once, after the body, for every node


def test_without_late_metadata_the_body_goes_unchanged():
    [first, _] = upload([b"plain ", b"body"], None)
    assert bytes(first.sent) == b"plain body"


def test_late_metadata_is_limited_to_object_metadata():
    source = {CHECKSUM: "x", "X-Object-Meta-Color": "red", "Content-Type": "text/evil",
              "X-Backend-Storage-Policy-Index": "1", "X-Timestamp": "1"}
    late = late_metadata({LATE_METADATA: lambda: source})
    assert late is not None and late() == {CHECKSUM: "x", "X-Object-Meta-Color": "red"}
    assert late_metadata({}) is None


def test_footer_put_headers_announce_the_mime_body_and_the_object_length():
    headers = footer_put_headers({"Content-Length": "10", "ETag": "abc", "X-Timestamp": "1"},
                                 "b0undary", 10)
    assert "Content-Length" not in headers and headers["ETag"] == "abc"
    assert headers["Transfer-Encoding"] == "chunked"
    assert headers["X-Backend-Obj-Metadata-Footer"] == "yes"
    assert headers["X-Backend-Obj-Multipart-Mime-Boundary"] == "b0undary"
    assert headers["X-Backend-Obj-Content-Length"] == "10"
