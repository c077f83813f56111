"""The ``objstore`` CLI against a real cluster: segmentation, resume, verification, errors."""
import os

import pytest

from tests.e2e.conftest import MAX_FILE_SIZE

SEGMENT = 512 * 1024


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(3 * MAX_FILE_SIZE + 777))
    return path


def segment_names(conn, container):
    _, listing = conn.get_container(f"{container}_segments")
    return [item["name"] for item in listing]


def test_slo_upload_resume_download_and_overwrite(objstore_cli, conn, container, data_file,
                                                  tmp_path):
    first = objstore_cli("upload", container, str(data_file), "--object-name", "big",
                         "--segment-size", "512K", "--segment-threads", "3")
    count = -(-data_file.stat().st_size // SEGMENT)
    assert f"({count} segments)" in first.stdout
    names = segment_names(conn, container)
    assert len(names) == count and names[0].startswith("big/slo/")
    assert names[0].endswith(f"/{data_file.stat().st_size}/{SEGMENT}/00000000")
    assert conn.head_object(container, "big")["x-static-large-object"].lower() == "true"

    # resume: a segment that is missing is uploaded again, the others are skipped
    conn.delete_object(f"{container}_segments", names[2])
    again = objstore_cli("upload", container, str(data_file), "--object-name", "big", "-S", "512K")
    assert f"({count} segments, {count - 1} already uploaded)" in again.stdout

    objstore_cli("download", container, "big", "-o", str(tmp_path / "out.bin"))
    assert (tmp_path / "out.bin").read_bytes() == data_file.read_bytes()

    # overwriting with different content (new mtime) replaces the old segments
    data_file.write_bytes(os.urandom(MAX_FILE_SIZE + 1))
    os.utime(data_file, (1e9, 1e9))
    objstore_cli("upload", container, str(data_file), "--object-name", "big", "-S", "1M")
    assert segment_names(conn, container) == [
        f"big/slo/1000000000.000000/{MAX_FILE_SIZE + 1}/{MAX_FILE_SIZE}/{i:08d}" for i in (0, 1)]
    objstore_cli("download", container, "big", "-o", str(tmp_path / "out2.bin"))
    assert (tmp_path / "out2.bin").read_bytes() == data_file.read_bytes()
    assert os.stat(tmp_path / "out2.bin").st_mtime == 1e9

    objstore_cli("delete", container, "big")
    assert segment_names(conn, container) == []


def test_dlo_upload_and_download(objstore_cli, conn, container, data_file, tmp_path):
    objstore_cli("upload", container, str(data_file), "--object-name", "dlo", "-S", "1M",
                 "--use-dlo")
    assert conn.head_object(container, "dlo")["x-object-manifest"].startswith(
        f"{container}_segments/dlo/")
    objstore_cli("download", container, "dlo", "-D", str(tmp_path / "dl"))
    assert (tmp_path / "dl" / "dlo").read_bytes() == data_file.read_bytes()
    objstore_cli("delete", container, "dlo")
    assert segment_names(conn, container) == []


def test_download_refuses_a_corrupted_large_object(objstore_cli, conn, container, tmp_path):
    source = tmp_path / "two.bin"
    source.write_bytes(b"a" * 1000 + b"b" * 1000)
    objstore_cli("upload", container, str(source), "--object-name", "two", "-S", "1000")
    segment = segment_names(conn, container)[1]
    conn.put_object(f"{container}_segments", segment, b"b" * 999 + b"X")  # same size, other bytes
    failed = objstore_cli("download", container, "two", "-o", str(tmp_path / "bad.bin"), check=False)
    # the SLO middleware may stop the stream at the bad segment, or the client's
    # per-segment MD5 check catches it: either way, a one-line error and no file
    assert failed.returncode == 1, failed.stdout
    assert failed.stderr.startswith("objstore: ") and failed.stderr.count("\n") == 1
    assert "Traceback" not in failed.stderr
    assert not (tmp_path / "bad.bin").exists()


def test_small_commands(objstore_cli, conn, container, tmp_path):
    (tmp_path / "a.txt").write_text("alpha")
    objstore_cli("upload", container, "a.txt", "-m", "color:red", cwd=str(tmp_path))
    assert objstore_cli("list", container).stdout.split() == ["a.txt"]
    assert "Meta Color: red" in objstore_cli("stat", container, "a.txt").stdout
    objstore_cli("post", container, "a.txt", "-m", "color:green")
    assert conn.head_object(container, "a.txt")["x-object-meta-color"] == "green"
    objstore_cli("copy", container, "a.txt", "--destination", f"/{container}/b.txt")
    assert conn.get_object(container, "b.txt")[1] == b"alpha"
    objstore_cli("post", container, "-r", ".r:*")
    assert conn.head_container(container)["x-container-read"] == ".r:*"
    assert "Objects: 2" in objstore_cli("stat", container).stdout
    objstore_cli("delete", container)
    missing = objstore_cli("stat", container, check=False)
    assert missing.returncode == 1 and missing.stderr == f"objstore: container {container} not found\n"


def test_errors_are_one_line(objstore_cli, cluster, container):
    missing = objstore_cli("download", container, "nope", check=False)
    assert missing.returncode == 1
    assert missing.stderr == f"objstore: object {container}/nope not found\n"
    no_container = objstore_cli("list", container + "-nope", check=False)
    assert no_container.stderr == f"objstore: container {container}-nope not found\n"
    bad_key = objstore_cli("stat", "-K", "wrong", check=False)
    assert bad_key.returncode == 1 and "auth failed" in bad_key.stderr
    assert bad_key.stderr.count("\n") == 1


def test_user_with_write_acl_uploads_into_existing_container(objstore_cli, cluster, conn,
                                                            container, tmp_path):
    (tmp_path / "shared.txt").write_text("from tester3")
    as_tester3 = cluster.auth_args("test:tester3", "testing3")
    denied = objstore_cli("upload", container, "shared.txt", *as_tester3, cwd=str(tmp_path),
                          check=False)
    assert denied.returncode == 1 and "403" in denied.stderr
    objstore_cli("post", container, "-w", "test:tester3", "-r", "test:tester3")
    objstore_cli("upload", container, "shared.txt", *as_tester3, cwd=str(tmp_path))
    assert conn.get_object(container, "shared.txt")[1] == b"from tester3"


def test_client_library_reauthenticates_when_the_token_is_refused(cluster, container):
    from client.connection import Connection
    session = Connection(cluster.auth_url, "test:tester", "testing")
    session.authenticate()
    session.token = "AUTH_tk" + "0" * 40  # as if it had expired
    resp = session.request("PUT", container, "reauth", body=b"payload",
                           headers={"Content-Length": "7"})
    assert resp.status == 201 and session.token != "AUTH_tk" + "0" * 40
    assert session.request("GET", container, "reauth").body == b"payload"


def test_unicode_and_space_names_round_trip(objstore_cli, conn, container, tmp_path):
    name = "dïr/snow man ☃ %20+?.txt"
    (tmp_path / "u.txt").write_text("unicode")
    objstore_cli("upload", container, str(tmp_path / "u.txt"), "--object-name", name)
    assert objstore_cli("list", container).stdout.splitlines() == [name]
    assert conn.get_object(container, name)[1] == b"unicode"
    objstore_cli("download", container, name, "-D", str(tmp_path / "out"))
    assert (tmp_path / "out" / "dïr" / "snow man ☃ %20+?.txt").read_text() == "unicode"
    objstore_cli("delete", container, name)
    assert objstore_cli("list", container).stdout == ""
