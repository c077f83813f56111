"""The objstore CLI's parsing, naming and verification logic (no network)."""
import hashlib

import pytest

from client import cli
from client.commands import parse_pairs
from client.connection import ClientError
from client.download import Verifier
from client.progress import Progress
from client.units import human_size, parse_size
from client.upload import FileSlice, file_md5, segment_prefix


def md5(data):
    return hashlib.md5(data).hexdigest()


@pytest.mark.parametrize("text,size", [
    ("1048576", 1048576), ("100M", 100 * 2 ** 20), ("1G", 2 ** 30), ("1g", 2 ** 30),
    ("512k", 512 * 1024), ("1.5GiB", 3 * 2 ** 29), ("2 MB", 2 * 2 ** 20), ("1T", 2 ** 40),
])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "M", "-1", "0", "10Q", "1.2.3", "1 G B"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_human_size():
    assert human_size(10) == "10 B"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(3 * 2 ** 30) == "3.0 GiB"


def test_upload_arguments():
    args = cli.build_parser().parse_args(
        ["upload", "c", "big.iso", "--segment-size", "100M", "--use-dlo", "--segment-threads", "4",
         "-A", "http://x/auth/v1.0", "-U", "a:b", "-K", "k", "-m", "color:blue"])
    assert (args.command, args.container, args.files) == ("upload", "c", ["big.iso"])
    assert args.segment_size == 100 * 2 ** 20 and args.use_dlo and args.segment_threads == 4
    assert (args.auth, args.user, args.key) == ("http://x/auth/v1.0", "a:b", "k")
    assert args.meta == ["color:blue"]


def test_auth_options_before_command_and_env(monkeypatch):
    args = cli.build_parser().parse_args(["-A", "http://a/auth/v1.0", "-U", "u:v", "stat"])
    assert args.auth == "http://a/auth/v1.0" and args.key is None
    monkeypatch.setenv("ST_KEY", "secret")
    monkeypatch.setenv("ST_USER", "ignored")
    conn = cli.connect(args)
    assert (conn.auth_url, conn.user, conn.key) == ("http://a/auth/v1.0", "u:v", "secret")


def test_missing_credentials_is_one_line_error(monkeypatch, capsys):
    for name in ("ST_AUTH", "ST_USER", "ST_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["stat"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("objstore: ") and err.count("\n") == 1


def test_bad_size_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.build_parser().parse_args(["upload", "c", "f", "-S", "lots"])
    assert exit_info.value.code == 2
    assert "not a size" in capsys.readouterr().err


def test_parse_pairs():
    assert parse_pairs(["Color: blue", "a:b:c"], ":", "metadata") == {"Color": "blue", "a": "b:c"}
    with pytest.raises(ClientError, match="Name:value"):
        parse_pairs(["novalue"], ":", "metadata")


def test_segment_names_match_swift():
    assert segment_prefix("big.iso", "1700000000.000000", 3145728, 1048576, dlo=False) == \
        "big.iso/slo/1700000000.000000/3145728/1048576/"
    assert segment_prefix("big.iso", "1.5", 10, 5, dlo=True) == "big.iso/1.5/10/5/"


def test_local_path_stays_inside_directory(tmp_path):
    assert cli.local_path(str(tmp_path), "a/b.txt") == str(tmp_path / "a" / "b.txt")
    with pytest.raises(ClientError, match="outside"):
        cli.local_path(str(tmp_path), "../../etc/passwd")


def test_file_slice_reads_hashes_counts_and_rewinds(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"0123456789")
    progress = Progress("f", 10, enabled=False)
    with FileSlice(str(path), 3, 4, progress) as piece:
        assert piece.read(3) == b"345"
        assert progress.done == 3
        piece.seek(0)
        assert progress.done == 0
        assert piece.read() == b"3456" and piece.read() == b""
        assert piece.md5.hexdigest() == md5(b"3456")
        with pytest.raises(ValueError):
            piece.seek(2)
    assert file_md5(str(path), 8, 5) == md5(b"89")


def test_verifier_checks_each_segment_across_chunk_boundaries():
    good = Verifier([(3, md5(b"abc")), (0, md5(b"")), (2, md5(b"de"))], "o")
    for chunk in (b"ab", b"cd", b"e"):
        good.update(chunk)
    good.finish()
    bad = Verifier([(3, md5(b"abc")), (2, md5(b"dX"))], "o")
    bad.update(b"abc")
    with pytest.raises(ClientError, match="segment 1"):
        bad.update(b"de")
    short = Verifier([(3, None)], "o")
    short.update(b"ab")
    with pytest.raises(ClientError, match="truncated"):
        short.finish()
    long = Verifier([(1, None)], "o")
    with pytest.raises(ClientError, match="more bytes"):
        long.update(b"ab")
    Verifier([(0, md5(b""))], "empty").finish()


def test_progress_renders_rate():
    progress = Progress("obj", 2 * 2 ** 20, enabled=False)
    progress.add(2 ** 20)
    line = progress.render(progress._started + 1.0)
    assert " 50.0% " in line and "1.0 MB/s" in line
