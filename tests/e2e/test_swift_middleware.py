"""The Swift API's middleware (temp URLs, ...) in the all-in-one's default pipeline,
driven by python-swiftclient (``swift tempurl``, ``generate_temp_url``) and plain HTTP."""
import hashlib
import hmac
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from swiftclient.utils import generate_temp_url


def fetch(url: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None):
    """(status, headers, body) of one request without credentials."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


@pytest.fixture
def base(cluster):
    return f"http://127.0.0.1:{cluster.port}"


def test_info_advertises_the_middleware(base):
    info = json.loads(fetch(base + "/info")[2])
    assert "sha256" in info["tempurl"]["allowed_digests"]
    assert "sha256" in info["formpost"]["allowed_digests"]


def test_swift_tempurl_cli_and_library(conn, container, swift_cli, objstore_cli, base):
    key = "e2e-tempurl-key"
    conn.post_account({"X-Account-Meta-Temp-URL-Key": key})
    conn.put_object(container, "doc.txt", b"temp url contents")
    path = f"{urllib.parse.urlsplit(conn.url).path}/{container}/doc.txt"
    by_cli = swift_cli("tempurl", "GET", "600", path, key).stdout.strip()
    by_objstore = objstore_cli("tempurl", "GET", "10m", path, key).stdout.strip()
    by_library = generate_temp_url(path, 600, key, "GET", digest="sha512")
    for signed in (by_cli, by_objstore, by_library):
        status, headers, body = fetch(base + signed)
        assert (status, body) == (200, b"temp url contents"), signed
        assert headers["Content-Disposition"].startswith('attachment; filename="doc.txt"')
    status, _, body = fetch(base + by_cli.replace("doc.txt", "other.txt"))
    assert (status, body) == (401, b"401 Unauthorized: Temp URL invalid\n")
    put_url = generate_temp_url(path.replace("doc.txt", "up.txt"), 600, key, "PUT")
    assert fetch(base + put_url, "PUT", b"uploaded")[0] == 201
    assert conn.get_object(container, "up.txt")[1] == b"uploaded"


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_form_post_with_curl(conn, container, base):
    """curl -F sends multipart/form-data as a browser does."""
    key = "e2e-formpost-key"
    conn.post_container(container, {"X-Container-Meta-Temp-URL-Key": key})
    path = f"{urllib.parse.urlsplit(conn.url).path}/{container}/from-form-"
    expires = int(time.time()) + 600
    body = f"{path}\n\n1024\n2\n{expires}"
    signature = hmac.new(key.encode(), body.encode(), hashlib.sha256).hexdigest()
    result = subprocess.run(
        ["curl", "-s", "-i", "-F", "max_file_size=1024", "-F", "max_file_count=2",
         "-F", f"expires={expires}", "-F", f"signature={signature}",
         "-F", "file1=@-;filename=one.txt", base + path],
        input=b"uploaded by a form", capture_output=True, timeout=60, check=True)
    assert result.stdout.startswith(b"HTTP/1.1 201"), result.stdout
    assert conn.get_object(container, "from-form-one.txt")[1] == b"uploaded by a form"
