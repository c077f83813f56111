"""A downloaded file gets the mode the umask gives new files, not mkstemp's 0600."""
import io
import os
import stat

from client.download import Verifier, _save
from client.progress import Progress


def test_downloaded_file_mode_follows_umask(tmp_path):
    dest = tmp_path / "out.txt"
    _save(io.BytesIO(b"hello"), str(dest), Verifier([(5, None)], "o"), Progress("o", 5, False), None)
    mask = os.umask(0)
    os.umask(mask)
    assert dest.read_bytes() == b"hello"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o666 & ~mask
