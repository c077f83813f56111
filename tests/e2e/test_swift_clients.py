"""The real python-swiftclient library and ``swift`` CLI against an all-in-one cluster."""
import os

import pytest
from swiftclient.exceptions import ClientException

from tests.e2e.conftest import MAX_FILE_SIZE


def test_library_put_head_get_list_delete(conn, container):
    etag = conn.put_object(container, "dir/hello.txt", b"hello world", content_type="text/plain",
                           headers={"X-Object-Meta-Color": "blue"})
    assert etag == "5eb63bbbe01eeed093cb22bb8f5acdc3"
    head = conn.head_object(container, "dir/hello.txt")
    assert head["content-length"] == "11"
    assert head["x-object-meta-color"] == "blue"
    assert head["content-type"].startswith("text/plain")
    headers, body = conn.get_object(container, "dir/hello.txt")
    assert body == b"hello world" and headers["etag"] == etag
    conn.put_object(container, "other", b"")
    _, listing = conn.get_container(container)
    assert [(item["name"], item["bytes"]) for item in listing] == [("dir/hello.txt", 11), ("other", 0)]
    _, by_dir = conn.get_container(container, delimiter="/")
    assert [item.get("name") or item.get("subdir") for item in by_dir] == ["dir/", "other"]
    _, containers = conn.get_account()
    assert container in [item["name"] for item in containers]
    conn.delete_object(container, "dir/hello.txt")
    with pytest.raises(ClientException) as missing:
        conn.get_object(container, "dir/hello.txt")
    assert missing.value.http_status == 404


def test_library_rejects_bad_credentials(cluster):
    from swiftclient.client import Connection
    bad = Connection(authurl=cluster.auth_url, user="test:tester", key="wrong", retries=0)
    with pytest.raises(ClientException) as denied:
        bad.head_account()
    assert denied.value.http_status == 401


def test_object_over_max_file_size_is_refused(conn, container):
    with pytest.raises(ClientException) as too_big:
        conn.put_object(container, "big", b"x" * (MAX_FILE_SIZE + 1))
    assert too_big.value.http_status == 413


def test_cli_upload_list_download_delete(swift_cli, container, tmp_path):
    source = tmp_path / "up" / "notes.txt"
    source.parent.mkdir()
    source.write_bytes(b"some notes\n" * 100)
    swift_cli("upload", container, "notes.txt", cwd=str(source.parent))
    assert swift_cli("list", container).stdout.split() == ["notes.txt"]
    stat = swift_cli("stat", container, "notes.txt").stdout
    assert "Content Length: 1100" in stat
    swift_cli("download", container, "notes.txt", "-o", str(tmp_path / "down.txt"))
    assert (tmp_path / "down.txt").read_bytes() == source.read_bytes()
    swift_cli("delete", container, "notes.txt")
    assert swift_cli("list", container).stdout.split() == []


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    """Random bytes three times the cluster's object size limit, plus a ragged tail."""
    path = tmp_path_factory.mktemp("big") / "big.bin"
    path.write_bytes(os.urandom(3 * MAX_FILE_SIZE + 12345))
    return path


@pytest.mark.parametrize("kind", ["--use-slo", "--use-dlo"])
def test_cli_large_object_round_trip_and_ranges(kind, swift_cli, objstore_cli, conn, container,
                                                 big_file, tmp_path):
    swift_cli("upload", container, "big.bin", kind, "--segment-size", str(MAX_FILE_SIZE),
              cwd=str(big_file.parent))
    head = conn.head_object(container, "big.bin")
    if kind == "--use-slo":
        assert head["x-static-large-object"].lower() == "true"
    else:
        assert head["x-object-manifest"].startswith(f"{container}_segments/")
    assert int(head["content-length"]) == big_file.stat().st_size
    out = tmp_path / "copy.bin"
    swift_cli("download", container, "big.bin", "-o", str(out))
    data = big_file.read_bytes()
    assert out.read_bytes() == data
    # the objstore CLI verifies swift's segments against the manifest / listing
    objstore_cli("download", container, "big.bin", "-o", str(tmp_path / "objstore.bin"))
    assert (tmp_path / "objstore.bin").read_bytes() == data

    boundary = MAX_FILE_SIZE
    for first, last in ((boundary - 10, boundary + 10), (boundary - 1, 2 * boundary + 5),
                        (0, 0), (len(data) - 7, len(data) - 1)):
        headers, body = conn.get_object(container, "big.bin",
                                        headers={"Range": f"bytes={first}-{last}"})
        assert body == data[first:last + 1], (first, last)
        assert headers["content-range"] == f"bytes {first}-{last}/{len(data)}"
    _, tail = conn.get_object(container, "big.bin", headers={"Range": "bytes=-100"})
    assert tail == data[-100:]

    swift_cli("delete", container, "big.bin")
    _, leftovers = conn.get_container(f"{container}_segments")
    assert leftovers == []
