"""The admin API client and the objstore-auth-* commands, against an in-memory fake of
``/auth/v2/`` that answers as Swauth's API does (rights, statuses, JSON shapes)."""
from __future__ import annotations

import json
import urllib.parse

import pytest

from client import auth_cli
from client.auth_admin import AdminClient, Reply, admin_base
from client.connection import ClientError

SUPER_KEY = "super-secret"
BASE = "http://proxy.example:8080/auth/"


class FakeAdminAPI:
    """Accounts and users in dicts; every request is recorded as (method, path, headers)."""

    def __init__(self) -> None:
        self.prepped = False
        self.accounts: dict[str, dict[str, dict]] = {}  # account -> user -> {key, groups}
        self.calls: list[tuple[str, str, dict[str, str]]] = []
        self.cleanup = {"checked": 3, "removed": 2, "failed": 0}

    def __call__(self, method: str, url: str, headers: dict[str, str], body) -> Reply:
        parts = urllib.parse.urlsplit(url)
        assert parts.netloc == "proxy.example:8080" and parts.path.startswith("/auth/v2/")
        self.calls.append((method, parts.path, dict(headers)))
        names = [urllib.parse.unquote(name) for name in parts.path[len("/auth/v2/"):].split("/")]
        caller = self._caller(headers.get("X-Auth-Admin-User", ""),
                              headers.get("X-Auth-Admin-Key", ""))
        if caller is None:
            return _reply(401, "Unauthorized", b"wrong admin user or key")
        if names == [".prep"] and method == "POST":
            if caller != "super":
                return _reply(403, "Forbidden", b"only the super admin prepares the store")
            self.prepped = True
            return _reply(204, "No Content")
        if names == [".cleanup_tokens"] and method == "POST":
            if caller != "super":
                return _reply(403, "Forbidden", b"only the super admin cleans up")
            return _json(self.cleanup)
        if names == [""] and method == "GET":
            return _json({"accounts": [{"name": name} for name in sorted(self.accounts)]})
        if len(names) == 1:
            return self._account(method, names[0], caller, headers)
        if len(names) == 2:
            return self._user(method, names[0], names[1], caller, headers)
        if len(names) in (3, 4) and names[2] == ".s3keys":
            return self._s3_keys(method, names, headers)
        return _reply(400, "Bad Request", b"no such admin path")

    def _s3_keys(self, method: str, names: list[str], headers) -> Reply:
        record = self.accounts.get(names[0], {}).get(names[1])
        if record is None:
            return _reply(404, "Not Found", b"no such user")
        pairs = record.setdefault("s3", {})
        if method == "POST" and len(names) == 3:
            access = headers.get("X-Auth-S3-Access-Key") or f"AK{len(pairs)}"
            pairs[access] = headers.get("X-Auth-S3-Secret-Key") or f"secret{len(pairs)}"
            return Reply(201, "Created", {}, json.dumps({"access_key": access,
                                                         "secret_key": pairs[access]}).encode())
        if method == "GET" and len(names) == 3:
            return _json({"s3_keys": [{"access_key": key} for key in pairs]})
        if method == "DELETE" and len(names) == 4:
            if pairs.pop(names[3], None) is None:
                return _reply(404, "Not Found", b"No such S3 access key for this user")
            return _reply(204, "No Content")
        return _reply(405, "Method Not Allowed")

    def _caller(self, user: str, key: str) -> str | None:
        """'super', 'reseller', 'admin:<account>', 'user:<account>:<user>' or None."""
        if user == ".super_admin":
            return "super" if key == SUPER_KEY else None
        account, _, name = user.partition(":")
        record = self.accounts.get(account, {}).get(name)
        if not record or record["key"] != key:
            return None
        if ".reseller_admin" in record["groups"]:
            return "reseller"
        return f"admin:{account}" if ".admin" in record["groups"] else f"user:{account}:{name}"

    def _account(self, method: str, account: str, caller: str, headers) -> Reply:
        if caller not in ("super", "reseller") and not (caller == f"admin:{account}"
                                                         and method == "GET"):
            return _reply(403, "Forbidden", b"a reseller admin manages accounts")
        if method == "PUT":
            if account in self.accounts:
                return _reply(202, "Accepted")
            self.accounts[account] = {}
            return _reply(201, "Created")
        if account not in self.accounts:
            return _reply(404, "Not Found", b"no such account")
        if method == "GET":
            return _json({"account_id": f"AUTH_{headers.get('X-Account-Suffix', 'id')}",
                          "services": {"storage": {"default": "local"}},
                          "users": [{"name": name} for name in sorted(self.accounts[account])]})
        if self.accounts[account]:
            return _reply(409, "Conflict", b"the account still has users")
        del self.accounts[account]
        return _reply(204, "No Content")

    def _user(self, method: str, account: str, user: str, caller: str, headers) -> Reply:
        own = caller == f"user:{account}:{user}"
        if caller not in ("super", "reseller", f"admin:{account}") and not (own and method == "PUT"):
            return _reply(403, "Forbidden", b"not an admin of this account")
        if account not in self.accounts:
            return _reply(404, "Not Found", b"no such account")
        users = self.accounts[account]
        if method == "PUT":
            groups = [f"{account}:{user}", account]
            if headers.get("X-Auth-User-Admin") == "true":
                groups.append(".admin")
            if headers.get("X-Auth-User-Reseller-Admin") == "true":
                if caller != "super":
                    return _reply(403, "Forbidden", b"only the super admin makes reseller admins")
                groups.append(".reseller_admin")
            if "X-Auth-User-Groups" in headers:
                groups += headers["X-Auth-User-Groups"].split(",")
            if own and len(groups) > 2:
                return _reply(403, "Forbidden", b"nobody raises their own rights")
            if not headers.get("X-Auth-User-Key"):
                return _reply(400, "Bad Request", b"X-Auth-User-Key is required")
            users[user] = {"key": headers["X-Auth-User-Key"], "groups": groups}
            return _reply(201, "Created")
        if user not in users:
            return _reply(404, "Not Found", b"no such user")
        if method == "GET":
            return _json({"groups": [{"name": group} for group in users[user]["groups"]]})
        del users[user]
        return _reply(204, "No Content")


def _reply(status: int, reason: str, body: bytes = b"") -> Reply:
    return Reply(status, reason, {}, body)


def _json(data: dict) -> Reply:
    return Reply(200, "OK", {"content-type": "application/json"}, json.dumps(data).encode())


@pytest.fixture
def api():
    return FakeAdminAPI()


@pytest.fixture
def run(api, capsys):
    """Run one objstore-auth-<command>; returns (exit code, stdout, stderr)."""
    def invoke(command: str, *args: str, user: str = ".super_admin", key: str = SUPER_KEY):
        code = auth_cli.main(command, ["-A", BASE, "-U", user, "-K", key, *args], transport=api)
        out, err = capsys.readouterr()
        return code, out, err
    return invoke


@pytest.mark.parametrize("url, base", [
    ("http://h:8080/auth/", "http://h:8080/auth/v2"),
    ("http://h:8080/auth", "http://h:8080/auth/v2"),
    ("http://h:8080/auth/v1.0", "http://h:8080/auth/v2"),
    ("https://h/auth/v2/", "https://h/auth/v2"),
    ("http://h:8080", "http://h:8080/auth/v2"),
    ("http://h/prefix/auth/", "http://h/prefix/auth/v2"),
])
def test_admin_base_takes_the_auth_url_in_its_usual_spellings(url, base):
    assert admin_base(url) == base


@pytest.mark.parametrize("url", ["ftp://h/auth/", "h:8080/auth", "http://h/v1/AUTH_test"])
def test_admin_base_refuses_what_is_not_an_auth_url(url):
    with pytest.raises(ClientError):
        admin_base(url)


def test_prep_posts_with_the_admin_headers(run, api):
    assert run("prep") == (0, "", "")
    method, path, headers = api.calls[-1]
    assert (method, path) == ("POST", "/auth/v2/.prep")
    assert headers["X-Auth-Admin-User"] == ".super_admin"
    assert headers["X-Auth-Admin-Key"] == SUPER_KEY
    assert headers["Content-Length"] == "0"
    assert api.prepped


def test_add_account_is_idempotent_and_passes_the_suffix(run, api):
    assert run("add-account", "-s", "myid", "acct")[0] == 0
    assert api.calls[-1][2]["X-Account-Suffix"] == "myid"
    assert run("add-account", "acct")[0] == 0  # 202: it existed
    assert "X-Account-Suffix" not in api.calls[-1][2]
    assert list(api.accounts) == ["acct"]


def test_add_user_creates_the_missing_account_then_the_user(run, api):
    assert run("add-user", "-a", "acct", "alice", "alicekey") == (0, "", "")
    assert [(m, p) for m, p, _ in api.calls] == [
        ("GET", "/auth/v2/acct"), ("PUT", "/auth/v2/acct"), ("PUT", "/auth/v2/acct/alice")]
    headers = api.calls[-1][2]
    assert headers["X-Auth-User-Key"] == "alicekey" and headers["X-Auth-User-Admin"] == "true"
    assert "X-Auth-User-Reseller-Admin" not in headers
    assert api.accounts["acct"]["alice"]["groups"] == ["acct:alice", "acct", ".admin"]
    # the account exists now: no second PUT of it
    api.calls.clear()
    assert run("add-user", "-r", "acct", "rita", "ritakey")[0] == 0
    assert [(m, p) for m, p, _ in api.calls] == [("GET", "/auth/v2/acct"),
                                                 ("PUT", "/auth/v2/acct/rita")]
    assert api.calls[-1][2]["X-Auth-User-Reseller-Admin"] == "true"


def test_an_account_admin_adds_users_to_its_own_account_only(run, api):
    run("add-user", "-a", "acct", "alice", "alicekey")
    run("add-account", "other")
    as_alice = {"user": "acct:alice", "key": "alicekey"}
    assert run("add-user", "acct", "bob", "bobkey", **as_alice)[0] == 0
    assert api.accounts["acct"]["bob"]["groups"] == ["acct:bob", "acct"]
    code, out, err = run("add-user", "other", "mallory", "k", **as_alice)
    assert code == 1 and out == ""
    assert err == ("objstore-auth-add-user: PUT /auth/v2/other/mallory: 403 Forbidden: "
                   "not an admin of this account\n")
    code, _, err = run("add-user", "-r", "acct", "bob", "bobkey", **as_alice)
    assert code == 1 and "403 Forbidden: only the super admin makes reseller admins" in err


def test_errors_are_one_line_with_status_and_reason(run, api):
    code, out, err = run("list", key="wrong")
    assert (code, out) == (1, "")
    assert err == "objstore-auth-list: GET /auth/v2/: 401 Unauthorized: wrong admin user or key\n"
    code, _, err = run("delete-user", "nosuch", "user")
    assert code == 1 and err.endswith("404 Not Found: no such account\n")
    assert "Traceback" not in err and err.count("\n") == 1


def test_set_key_keeps_the_users_rights(run, api):
    run("add-user", "-a", "acct", "alice", "old")
    assert run("set-key", "acct", "alice", "new")[0] == 0
    assert api.accounts["acct"]["alice"] == {"key": "new",
                                             "groups": ["acct:alice", "acct", ".admin"]}
    assert [m for m, _, _ in api.calls[-2:]] == ["GET", "PUT"]


def test_a_plain_user_sets_its_own_key(run, api):
    run("add-user", "acct", "bob", "old")
    assert run("set-key", "acct", "bob", "new", user="acct:bob", key="old")[0] == 0
    assert api.accounts["acct"]["bob"] == {"key": "new", "groups": ["acct:bob", "acct"]}
    # but nobody else's
    run("add-user", "acct", "carol", "carolkey")
    code, _, err = run("set-key", "acct", "carol", "x", user="acct:bob", key="new")
    assert code == 1 and "GET /auth/v2/acct/carol: 403 Forbidden" in err
    assert api.accounts["acct"]["carol"]["key"] == "carolkey"


def test_a_user_adding_itself_skips_the_account_check(run, api):
    run("add-user", "acct", "bob", "old")
    api.calls.clear()
    assert run("add-user", "acct", "bob", "new", user="acct:bob", key="old")[0] == 0
    assert [(m, p) for m, p, _ in api.calls] == [("PUT", "/auth/v2/acct/bob")]


def test_delete_account_is_refused_while_users_remain(run, api):
    run("add-user", "acct", "bob", "bobkey")
    code, _, err = run("delete-account", "acct")
    assert code == 1
    assert err == ("objstore-auth-delete-account: DELETE /auth/v2/acct: 409 Conflict: "
                   "the account still has users\n")
    assert run("delete-user", "acct", "bob")[0] == 0
    assert run("delete-account", "acct")[0] == 0
    assert api.accounts == {}


def test_list_prints_json_or_plain_names_at_each_level(run, api):
    run("add-user", "-a", "acct", "alice", "k")
    run("add-user", "acct", "bob", "k")
    run("add-account", "empty")
    code, out, _ = run("list")
    assert code == 0 and json.loads(out) == {"accounts": [{"name": "acct"}, {"name": "empty"}]}
    assert run("list", "-p")[1] == "acct\nempty\n"
    account = json.loads(run("list", "acct")[1])
    assert account["users"] == [{"name": "alice"}, {"name": "bob"}]
    assert account["account_id"].startswith("AUTH_")
    assert run("list", "-p", "acct")[1] == "alice\nbob\n"
    assert run("list", "-p", "acct", "alice")[1] == "acct:alice\nacct\n.admin\n"
    assert json.loads(run("list", "acct", "bob")[1]) == {"groups": [{"name": "acct:bob"},
                                                                    {"name": "acct"}]}


def test_names_are_quoted_into_one_path_segment(run, api):
    run("add-account", "a/b")
    assert api.calls[-1][1] == "/auth/v2/a%2Fb"
    assert "a/b" in api.accounts


def test_a_body_that_is_not_json_is_an_error_not_a_traceback(capsys):
    def garbage(method, url, headers, body):
        return Reply(200, "OK", {}, b"<html>proxy error page</html>")
    code = auth_cli.main("list", ["-K", "k"], transport=garbage)
    err = capsys.readouterr().err
    assert code == 1
    assert err == "objstore-auth-list: GET /auth/v2/: 200 OK, but the body is not a JSON object\n"


def test_a_transport_failure_is_one_line(capsys):
    def refused(method, url, headers, body):
        raise ClientError(f"{method} {url}: [Errno 111] Connection refused")
    assert auth_cli.main("prep", ["-K", "k"], transport=refused) == 1
    assert capsys.readouterr().err == ("objstore-auth-prep: POST http://127.0.0.1:8080/auth/v2/"
                                       ".prep: [Errno 111] Connection refused\n")


def test_the_admin_key_is_required(capsys):
    with pytest.raises(SystemExit) as stop:
        auth_cli.main("prep", [])
    assert stop.value.code == 2
    assert "-K/--admin-key" in capsys.readouterr().err
    with pytest.raises(ClientError, match="admin key is needed"):
        AdminClient(BASE, ".super_admin", "")


def test_every_command_has_a_bin_script_listed_in_setup_cfg():
    import configparser
    import os
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    setup = configparser.ConfigParser()
    setup.read(os.path.join(repo, "setup.cfg"))
    scripts = set(setup["options"]["scripts"].split())
    for command in auth_cli.COMMANDS:
        script = f"bin/objstore-auth-{command}"
        assert script in scripts
        with open(os.path.join(repo, script), encoding="utf-8") as handle:
            assert f'main("{command}")' in handle.read()


def test_add_user_if_missing_leaves_an_existing_user_alone(run, api):
    assert run("add-user", "--if-missing", "-a", "acct", "alice", "first")[0] == 0
    assert api.accounts["acct"]["alice"]["key"] == "first"
    api.calls.clear()
    assert run("add-user", "--if-missing", "acct", "alice", "second")[0] == 0
    assert [(m, p) for m, p, _ in api.calls] == [("GET", "/auth/v2/acct/alice")]
    assert api.accounts["acct"]["alice"] == {"key": "first",
                                             "groups": ["acct:alice", "acct", ".admin"]}


def test_add_user_gives_more_groups_for_a_service_user(run, api):
    assert run("add-user", "-g", "service, ops", "svc", "tester5", "testing5")[0] == 0
    assert api.calls[-1][2]["X-Auth-User-Groups"] == "service,ops"
    assert api.accounts["svc"]["tester5"]["groups"] == ["svc:tester5", "svc", "service", "ops"]
    run("add-user", "svc", "plain", "k")
    assert "X-Auth-User-Groups" not in api.calls[-1][2]  # the server keeps what a user has


def test_s3_keys_are_made_listed_and_deleted(run, api):
    run("add-user", "acct", "bob", "bobkey")
    code, out, _ = run("add-s3-key", "acct", "bob")
    assert code == 0
    assert out == "aws_access_key_id = AK0\naws_secret_access_key = secret0\n"
    assert api.calls[-1][:2] == ("POST", "/auth/v2/acct/bob/.s3keys")
    assert run("add-s3-key", "--access-key", "MINE", "--secret-key", "s3cr3t", "acct", "bob")[1] \
        == "aws_access_key_id = MINE\naws_secret_access_key = s3cr3t\n"
    assert api.calls[-1][2]["X-Auth-S3-Access-Key"] == "MINE"
    assert run("list-s3-keys", "acct", "bob")[1] == "AK0\nMINE\n"
    assert run("delete-s3-key", "acct", "bob", "AK0")[0] == 0
    assert api.calls[-1][:2] == ("DELETE", "/auth/v2/acct/bob/.s3keys/AK0")
    assert run("list-s3-keys", "acct", "bob")[1] == "MINE\n"
    code, _, err = run("delete-s3-key", "acct", "bob", "AK0")
    assert code == 1 and err.endswith("404 Not Found: No such S3 access key for this user\n")


def test_add_s3_key_if_missing_leaves_a_key_the_user_has(run, api):
    run("add-user", "acct", "bob", "bobkey")
    args = ("add-s3-key", "--if-missing", "--access-key", "MINE", "--secret-key", "one")
    assert run(*args, "acct", "bob")[1] == "aws_access_key_id = MINE\naws_secret_access_key = one\n"
    assert run(*args, "acct", "bob") == (0, "", "")  # there already: nothing changes
    assert api.calls[-1][:2] == ("GET", "/auth/v2/acct/bob/.s3keys")
    assert run("list-s3-keys", "acct", "bob")[1] == "MINE\n"
    code, _, err = run("add-s3-key", "--if-missing", "acct", "bob")
    assert code == 1 and "--if-missing needs --access-key" in err


def test_cleanup_tokens_reports_what_it_removed(run, api):
    assert run("cleanup-tokens") == (0, "checked 3 tokens, removed 2 expired\n", "")
    assert api.calls[-1][:2] == ("POST", "/auth/v2/.cleanup_tokens")
    api.cleanup = {"checked": 1, "removed": 0, "failed": 2}
    code, out, err = run("cleanup-tokens")
    assert code == 1 and out == "checked 1 tokens, removed 0 expired\n"
    assert err == ("objstore-auth-cleanup-tokens: 2 token containers could not be read; "
                   "run it again\n")


def test_a_key_with_a_newline_is_refused_before_anything_is_sent(run, api):
    code, _, err = run("add-user", "acct", "bob", "two\nlines")
    assert code == 1 and api.calls == []
    assert err == ("objstore-auth-add-user: X-Auth-User-Key: a control character (newline, "
                   "tab...) cannot be sent in a header\n")
    assert "two" not in err
