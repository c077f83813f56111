"""swauth without daemons: key hashes, tokens and their cache, names, and the
middleware (login, admin API, S3 lookup) over FakeSwift."""
import configparser
import hashlib
import json

import pytest
from webob import Request

from auth import s3_credentials
from auth.swauth import keys, tokens
from auth.swauth.middleware import Swauth, filter_factory
from auth.swauth.names import BadName, check_name
from objstore.common.config import ConfigError
from tests.fake_swift import FakeSwift
from tests.support import FakeClock

SUPER = {"X-Auth-Admin-User": ".super_admin", "X-Auth-Admin-Key": "sk"}


# ---- keys ---------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["scrypt", "pbkdf2"])
def test_kdf_hashes_verify_and_give_the_same_seal_key(scheme):
    hashed = keys.hash_key("s3cret", scheme)
    assert "s3cret" not in hashed.stored
    assert keys.verify_key("s3cret", hashed.stored, "id") == hashed.seal_key
    assert keys.verify_key("s3cret!", hashed.stored, "id") is None
    assert keys.hash_key("s3cret", scheme).stored != hashed.stored  # salted
    assert keys.check_key_hash(hashed.stored) == hashed.stored


def test_swauth_hashes_import_and_verify():
    sha1 = "sha1:salt$" + hashlib.sha1(b"saltkey").hexdigest()
    sha512 = "sha512:pepper$" + hashlib.sha512(b"pepperkey").hexdigest()
    for stored in ("plaintext:key", sha1, sha512):
        assert keys.check_key_hash(stored) == stored
        seal = keys.verify_key("key", stored, "id1")
        assert seal is not None and keys.verify_key("key", stored, "id2") != seal
        assert keys.verify_key("Key", stored, "id1") is None


@pytest.mark.parametrize("bad", ["md5:abc", "plain", "sha1:salt$abc", "sha512:x$" + "g" * 128,
                                 "scrypt:3:8:1:c2FsdA==$" + "A" * 44,
                                 "scrypt:1048576:64:1:c2FsdA==$" + "A" * 44,
                                 "pbkdf2_sha256:99999999:c2FsdA==$" + "A" * 44,
                                 "scrypt:16384:8:1:!!$!!", "x" * 3000])
def test_malformed_or_costly_hashes_are_refused(bad):
    with pytest.raises(keys.KeyHashError):
        keys.check_key_hash(bad)
    assert keys.verify_key("k", bad, "id") is None


def test_an_oversize_key_never_verifies():
    assert keys.verify_key("k" * 2000, "plaintext:" + "k" * 2000, "id") is None


# ---- tokens -------------------------------------------------------------------------
def test_token_form_hash_and_container():
    tok = tokens.new_token("AUTH_")
    assert tokens.is_well_formed(tok, "AUTH_") and len(tok) == 39
    for bad in (tok[:-1], tok + "0", tok.upper(), "AUTH_tk" + "g" * 32, "OTHER_tk" + "0" * 32):
        assert not tokens.is_well_formed(bad, "AUTH_")
    digest = tokens.token_hash(tok)
    assert tok not in digest and tokens.token_container(digest) in tokens.TOKEN_CONTAINERS


def test_seal_and_unseal():
    tok, key = tokens.new_token("AUTH_"), b"k" * 32
    sealed = tokens.seal(tok, key)
    assert tok[-32:] not in sealed
    digest = tokens.token_hash(tok)
    assert tokens.unseal(sealed, digest, key, "AUTH_") == tok
    assert tokens.unseal(sealed, digest, b"x" * 32, "AUTH_") is None
    assert tokens.unseal("zz", digest, key, "AUTH_") is None


def test_validation_cache_life_expiry_and_size():
    clock = FakeClock(1000.0)
    cache = tokens.ValidationCache(10.0, size=2, clock=clock)
    cache.put("a", "A", token_expires=1005.0)
    cache.put("b", "B", token_expires=2000.0)
    assert cache.get("a") == "A"
    clock.now = 1005.0
    assert cache.get("a") is None  # never past the token's expiry
    assert cache.get("b") == "B"
    clock.now = 1010.0
    assert cache.get("b") is None  # nor past the cache life
    cache.put("c", "C", 9999.0), cache.put("d", "D", 9999.0), cache.put("e", "E", 9999.0)
    assert cache.get("c") is None and cache.get("e") == "E"
    cache.forget("e")
    assert cache.get("e") is None


def test_names():
    assert check_name("test", "account") == "test"
    for bad in ("", ".auth", "a/b", "a\x00", "x" * 257, "a:b"):
        with pytest.raises(BadName):
            check_name(bad, "account")
    assert check_name("a:b", "user") == "a:b"


# ---- the middleware over FakeSwift ----------------------------------------------------
@pytest.fixture
def swauth():
    swift = FakeSwift()
    app = Swauth(swift, {"super_admin_key": "sk", "key_hash": "pbkdf2",
                         "reseller_prefix": "AUTH, SERVICE", "SERVICE_require_group": "service"})
    assert call(app, "POST", "/auth/v2/.prep", SUPER).status_int == 204
    assert call(app, "PUT", "/auth/v2/test", {**SUPER, "X-Account-Suffix": "test"}).status_int == 201
    assert call(app, "PUT", "/auth/v2/test/tester", {**SUPER, "X-Auth-User-Key": "testing",
                                                    "X-Auth-User-Admin": "true"}).status_int == 201
    return app


def call(app, method, path, headers=None, body=None):
    req = Request.blank(path, method=method, headers=headers or {})
    if body is not None:
        req.body = body
    return req.get_response(app)


def test_login_and_identity(swauth):
    resp = call(swauth, "GET", "/auth/v1.0", {"X-Auth-User": "test:tester", "X-Auth-Key": "testing",
                                             "Host": "proxy:8080"})
    assert resp.status_int == 200
    # the URL the account was created through (no default_swift_cluster), not this request's
    assert resp.headers["X-Storage-Url"] == "http://localhost:80/v1/AUTH_test"
    identity = swauth.validate_token(resp.headers["X-Auth-Token"])
    assert identity.groups == ("test:tester", "test", "AUTH_test", "SERVICE_test")
    assert swauth.validate_token(resp.headers["X-Auth-Token"][:-1]) is None


def test_the_store_never_holds_a_key_or_token(swauth):
    tok = call(swauth, "GET", "/auth/v1.0", {"X-Auth-User": "test:tester",
                                            "X-Auth-Key": "testing"}).headers["X-Auth-Token"]
    stored = json.dumps({path: obj.data.decode("utf-8", "replace") for path, obj in [
        (f"{a}/{c}/{o}", obj) for a, cs in swauth.app.accounts.items()
        for c, cont in cs.items() for o, obj in cont.objects.items()]}) + \
        " ".join(swauth.app.paths())
    assert "testing" not in stored and tok not in stored and tok[-32:] not in stored


def test_s3_lookup_of_swauth_and_the_registry(swauth):
    resp = call(swauth, "POST", "/auth/v2/test/tester/.s3keys",
                {**SUPER, "X-Auth-S3-Access-Key": "AK1", "X-Auth-S3-Secret-Key": "SK1"})
    assert resp.status_int == 201
    cred = swauth.s3_credential("AK1")
    assert (cred.secret, cred.user, cred.storage_account) == ("SK1", "test:tester", "AUTH_test")
    assert "AUTH_test" in cred.groups
    assert swauth.s3_credential("nope") is None and swauth.s3_credential(".services") is None
    s3_credentials.register_lookup(swauth)
    assert s3_credentials.lookup_s3_credential("AK1") == cred
    assert call(swauth, "DELETE", "/auth/v2/test/tester/.s3keys/AK1", SUPER).status_int == 204
    assert swauth.s3_credential("AK1") is None  # forgotten in this worker at once


def test_tempauth_answers_the_same_lookup():
    from auth.tempauth import TempAuth
    auth = TempAuth(FakeSwift(), {"user_test_tester": "testing .admin"})
    cred = auth.s3_credential("test:tester")
    assert (cred.secret, cred.storage_account) == ("testing", "AUTH_test")
    assert auth.s3_credential("test:nobody") is None


def test_a_failing_store_is_503_not_500():
    def broken(environ, start_response):
        start_response("500 Internal Server Error", [("Content-Length", "0")])
        return [b""]
    app = Swauth(broken, {"super_admin_key": "sk"})
    assert call(app, "GET", "/auth/v1.0", {"X-Auth-User": "a:b", "X-Auth-Key": "k"}).status_int == 503
    assert call(app, "HEAD", "/v1/AUTH_x", {"X-Auth-Token": "AUTH_tk" + "0" * 32}).status_int == 503
    with pytest.raises(s3_credentials.CredentialStoreError):
        app.s3_credential("AK")


def test_accounts_need_a_prepared_store():
    app = Swauth(FakeSwift(), {"super_admin_key": "sk"})
    resp = call(app, "PUT", "/auth/v2/test", SUPER)
    assert resp.status_int == 409 and b".prep" in resp.body
    assert call(app, "POST", "/auth/v2/.prep", SUPER).status_int == 204
    assert call(app, "PUT", "/auth/v2/test", SUPER).status_int == 201


def test_admin_api_is_off_without_a_super_admin_key():
    app = Swauth(FakeSwift(), {})
    assert call(app, "GET", "/auth/v2/", SUPER).status_int == 404


@pytest.mark.parametrize("options", [{"key_hash": "md5"}, {"token_life": "0"},
                                     {"default_swift_cluster": "http://x/v1"}])
def test_config_errors(options):
    with pytest.raises(ConfigError):
        filter_factory(__import__("configparser").ConfigParser(), options)(FakeSwift())


def test_info_advertises_account_acls_where_swifts_tests_look(monkeypatch):
    from proxy import info
    monkeypatch.setattr(info, "_registry", {})
    filter_factory(configparser.ConfigParser(), {"super_admin_key": "k"})
    assert info.capabilities()["tempauth"] == {"account_acls": True}
