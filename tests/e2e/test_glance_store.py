"""glance_store's Swift driver (the library Glance keeps VM images with) against the
all-in-one, logging in with Keystone v3 to the swauth filter: an image of unknown size
goes in as segments, comes back byte-identical with its checksums, has its size, and is
deleted with every segment.  The store config is the README's, with this cluster's port.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import uuid

import pytest

from tests.e2e.conftest import MAX_FILE_SIZE

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


def readme_block(after: str) -> str:
    """The first fenced block after the README line that contains ``after``."""
    with open(README, encoding="utf-8") as handle:
        text = handle.read()
    start = text.index(after)
    match = re.search(r"```[a-z]*\n(.*?)```", text[start:], re.S)
    assert match, f"no code block after {after!r} in the README"
    return match.group(1)


@pytest.fixture
def glance(cluster, tmp_path):
    """glance_store configured as the README says (port, container and segment size
    changed)."""
    glance_store = pytest.importorskip("glance_store")
    from oslo_config import cfg
    refs = tmp_path / "glance-swift.conf"
    refs.write_text(readme_block("glance-swift.conf:").replace("8080", str(cluster.port)))
    conf = cfg.ConfigOpts()
    glance_store.register_opts(conf)
    conf([], project="glance", default_config_files=[])
    options = readme_block("[glance_store] in glance-api.conf:")
    for line in options.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = (part.strip() for part in line.split("=", 1))
            conf.set_override(key, value, group="glance_store")
    container = f"glance-{uuid.uuid4().hex[:8]}"
    # 1 MiB segments (the session cluster's max_file_size), so that a small image has several
    for option in ("swift_store_large_object_size", "swift_store_large_object_chunk_size"):
        conf.set_override(option, 1, group="glance_store")
    conf.set_override("swift_store_config_file", str(refs), group="glance_store")
    conf.set_override("swift_store_container", container, group="glance_store")
    glance_store.create_stores(conf)
    store = glance_store.get_store_from_scheme("swift+config")
    return store, container


def test_an_image_of_unknown_size_in_segments_back_and_gone(glance, conn):
    from glance_store import location as glance_location
    store, container = glance
    assert store.large_object_chunk_size <= MAX_FILE_SIZE
    image = os.urandom(3 * store.large_object_chunk_size + 12345)
    image_id = str(uuid.uuid4())
    url, size, checksum, multihash, _ = store.add(image_id, io.BytesIO(image), 0, "sha256")
    assert size == len(image)
    assert checksum == hashlib.md5(image).hexdigest()
    assert multihash == hashlib.sha256(image).hexdigest()
    names = [item["name"] for item in conn.get_container(container)[1]]
    assert image_id in names and len(names) >= 5  # the manifest and 4 segments
    where = glance_location.get_location_from_uri(url, conf=store.conf)
    chunks, length = store.get(where)
    assert length == len(image)
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    assert digest.hexdigest() == multihash
    assert store.get_size(where) == len(image)
    store.delete(where)
    assert conn.get_container(container)[1] == []
