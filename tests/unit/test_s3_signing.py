"""S3 signatures against the examples the Amazon S3 API reference publishes (their
credentials AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY), plus the
payload decoders and the XML parser's guards."""
import calendar
import hashlib
import io

import pytest

from proxy.s3 import checksums, payload, signing, xmlio
from proxy.s3.errors import S3Error

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
CREDENTIAL = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"
MAY_24_2013 = calendar.timegm((2013, 5, 24, 0, 0, 0))
HOST = "examplebucket.s3.amazonaws.com"


def v4_env(method, path, signed, signature, query="", **headers):
    env = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "HTTP_HOST": HOST,
           "HTTP_X_AMZ_DATE": "20130524T000000Z",
           "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential={CREDENTIAL},"
                                 f"SignedHeaders={signed},Signature={signature}"}
    env.update(headers)
    return env


def parse(env, now=MAY_24_2013, **kwargs):
    return signing.parse_signature(env, location="us-east-1", now=now, **kwargs)


# "Signature Calculations for the Authorization Header: Transferring Payload in a Single Chunk"
V4_EXAMPLES = {
    "GET Object": v4_env(
        "GET", "/test.txt", "host;range;x-amz-content-sha256;x-amz-date",
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        HTTP_RANGE="bytes=0-9", HTTP_X_AMZ_CONTENT_SHA256=signing.EMPTY_SHA256),
    "PUT Object": v4_env(
        "PUT", "/test$file.text", "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        HTTP_DATE="Fri, 24 May 2013 00:00:00 GMT", HTTP_X_AMZ_STORAGE_CLASS="REDUCED_REDUNDANCY",
        HTTP_X_AMZ_CONTENT_SHA256=hashlib.sha256(b"Welcome to Amazon S3.").hexdigest()),
    "GET Bucket Lifecycle": v4_env(
        "GET", "/", "host;x-amz-content-sha256;x-amz-date",
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543", query="lifecycle",
        HTTP_X_AMZ_CONTENT_SHA256=signing.EMPTY_SHA256),
    "Get Bucket (List Objects)": v4_env(
        "GET", "/", "host;x-amz-content-sha256;x-amz-date",
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        query="max-keys=2&prefix=J", HTTP_X_AMZ_CONTENT_SHA256=signing.EMPTY_SHA256),
}


@pytest.mark.parametrize("name", sorted(V4_EXAMPLES))
def test_v4_header_examples(name):
    sig = parse(dict(V4_EXAMPLES[name]))
    assert sig.access_key == "AKIAIOSFODNN7EXAMPLE"
    assert sig.verify(SECRET)
    assert not sig.verify("another secret")


def test_v4_any_change_breaks_the_signature():
    env = dict(V4_EXAMPLES["GET Object"], HTTP_RANGE="bytes=0-10")
    assert not parse(env).verify(SECRET)
    assert parse(env).mismatch().code == "SignatureDoesNotMatch"


def test_v4_presigned_example():
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/test.txt", "HTTP_HOST": HOST,
           "QUERY_STRING": "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
                           "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
                           "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
                           "&X-Amz-SignedHeaders=host&X-Amz-Signature="
                           "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"}
    assert parse(env, now=MAY_24_2013 + 3600).verify(SECRET)
    with pytest.raises(S3Error, match="expired"):
        parse(env, now=MAY_24_2013 + 86401)
    with pytest.raises(S3Error) as bad:
        parse(dict(env, QUERY_STRING=env["QUERY_STRING"].replace("86400", "604801")))
    assert bad.value.code == "AuthorizationQueryParametersError"


def test_v4_clock_skew_region_and_missing_payload_hash():
    env = dict(V4_EXAMPLES["GET Object"])
    assert parse(env, now=MAY_24_2013 + 899).verify(SECRET)
    with pytest.raises(S3Error) as skewed:
        parse(env, now=MAY_24_2013 + 901)
    assert skewed.value.code == "RequestTimeTooSkewed" and skewed.value.status == 403
    with pytest.raises(S3Error) as region:
        signing.parse_signature(env, location="eu-west-1", now=MAY_24_2013)
    assert region.value.code == "AuthorizationHeaderMalformed"
    assert region.value.details["Region"] == "eu-west-1"
    del env["HTTP_X_AMZ_CONTENT_SHA256"]
    with pytest.raises(S3Error) as missing:
        parse(env)
    assert missing.value.code == "InvalidRequest"


# "Signing and Authenticating REST Requests" (Signature Version 2)
MARCH_27_2007 = calendar.timegm((2007, 3, 27, 19, 36, 42))


def test_v2_header_and_query_examples():
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/photos/puppy.jpg", "QUERY_STRING": "",
           "HTTP_HOST": "johnsmith.s3.amazonaws.com", "HTTP_DATE": "Tue, 27 Mar 2007 19:36:42 +0000",
           "HTTP_AUTHORIZATION": "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU="}
    sig = parse(env, now=MARCH_27_2007, bucket_in_host="johnsmith")
    assert sig.string_to_sign == "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg"
    assert sig.verify(SECRET) and not sig.verify("wrong")
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/photos/puppy.jpg",
           "HTTP_HOST": "johnsmith.s3.amazonaws.com",
           "QUERY_STRING": "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDU"
                           "sSn8%3D&Expires=1175139620"}
    assert parse(env, now=MARCH_27_2007, bucket_in_host="johnsmith").verify(SECRET)
    with pytest.raises(S3Error, match="expired"):
        parse(env, now=1175139621, bucket_in_host="johnsmith")


def test_v2_subresources_and_amz_headers_are_signed():
    env = {"REQUEST_METHOD": "PUT", "PATH_INFO": "/b/k", "HTTP_HOST": "h",
           "QUERY_STRING": "uploadId=u1&partNumber=2&ignored=1", "CONTENT_TYPE": "text/plain",
           "HTTP_X_AMZ_DATE": "Tue, 27 Mar 2007 19:36:42 +0000", "HTTP_X_AMZ_META_A": "  b   c ",
           "HTTP_AUTHORIZATION": "AWS ak:sig"}
    sig = parse(env, now=MARCH_27_2007)
    assert sig.string_to_sign == ("PUT\n\ntext/plain\n\nx-amz-date:Tue, 27 Mar 2007 19:36:42 +0000\n"
                                  "x-amz-meta-a:b c\n/b/k?partNumber=2&uploadId=u1")


# "Signature Calculations for the Authorization Header: Transferring Payload in Multiple
# Chunks": 65 KiB of "a" in a 64 KiB and a 1 KiB chunk
CHUNK_SIGNATURES = ("ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9")


def streaming_example():
    env = {"REQUEST_METHOD": "PUT", "PATH_INFO": "/examplebucket/chunkObject.txt",
           "QUERY_STRING": "", "HTTP_HOST": "s3.amazonaws.com",
           "HTTP_X_AMZ_DATE": "20130524T000000Z", "HTTP_X_AMZ_STORAGE_CLASS": "REDUCED_REDUNDANCY",
           "HTTP_X_AMZ_CONTENT_SHA256": signing.STREAMING_SIGNED,
           "HTTP_CONTENT_ENCODING": "aws-chunked", "HTTP_X_AMZ_DECODED_CONTENT_LENGTH": "66560",
           "CONTENT_LENGTH": "66824",
           "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential={CREDENTIAL},SignedHeaders="
                                 "content-encoding;content-length;host;x-amz-content-sha256;"
                                 "x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,"
                                 "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"}
    body = (b"10000;chunk-signature=%s\r\n" % CHUNK_SIGNATURES[0].encode() + b"a" * 65536 + b"\r\n"
            + b"400;chunk-signature=%s\r\n" % CHUNK_SIGNATURES[1].encode() + b"a" * 1024 + b"\r\n"
            + b"0;chunk-signature=%s\r\n\r\n" % CHUNK_SIGNATURES[2].encode())
    return env, body


def read_all(body: payload.S3Body, size: int = 10000) -> bytes:
    out = b""
    while chunk := body.read(size):
        out += chunk
    return out


def test_streaming_signed_example():
    env, raw = streaming_example()
    sig = parse(env)
    assert len(raw) == 66824 and sig.verify(SECRET)
    body = payload.S3Body(io.BytesIO(raw), raw_length=len(raw), length=66560,
                          payload_hash=sig.payload_hash, signature=sig)
    assert read_all(body) == b"a" * 66560


@pytest.mark.parametrize("damage", [CHUNK_SIGNATURES[1], CHUNK_SIGNATURES[2]])
def test_streaming_bad_chunk_signature_fails_before_the_last_byte(damage):
    env, raw = streaming_example()
    sig = parse(env)
    sig.verify(SECRET)
    raw = raw.replace(damage.encode(), b"0" * 64)
    body = payload.S3Body(io.BytesIO(raw), raw_length=len(raw), length=66560,
                          payload_hash=sig.payload_hash, signature=sig)
    got = b""
    with pytest.raises(payload.BodyError) as failed:
        while chunk := body.read(1000):
            got += chunk
    assert failed.value.error.code == "SignatureDoesNotMatch" and len(got) < 66560


def unsigned_trailer_body(data: bytes, checksum: str) -> bytes:
    return (b"%x\r\n" % len(data) + data + b"\r\n0\r\n"
            + b"x-amz-checksum-crc32:%s\r\n\r\n" % checksum.encode())


def test_unsigned_trailer_checksum_verified():
    data = b"trailing" * 1000
    good = unsigned_trailer_body(data, checksums.checksum_of("crc32", data))
    body = payload.S3Body(io.BytesIO(good), raw_length=len(good), length=len(data),
                          payload_hash=signing.STREAMING_UNSIGNED_TRAILER, checksum=("crc32", None))
    assert read_all(body) == data and body.checksum_value == checksums.checksum_of("crc32", data)
    bad = unsigned_trailer_body(data, checksums.checksum_of("crc32", b"other"))
    body = payload.S3Body(io.BytesIO(bad), raw_length=len(bad), length=len(data),
                          payload_hash=signing.STREAMING_UNSIGNED_TRAILER, checksum=("crc32", None))
    with pytest.raises(payload.BodyError) as failed:
        read_all(body)
    assert failed.value.error.code == "BadDigest"


def test_signed_payload_hash_and_short_bodies():
    data = b"x" * 100
    body = payload.S3Body(io.BytesIO(data), raw_length=100, length=100,
                          payload_hash=hashlib.sha256(b"y" * 100).hexdigest())
    with pytest.raises(payload.BodyError) as mismatch:
        read_all(body, 30)
    assert mismatch.value.error.code == "XAmzContentSHA256Mismatch"
    body = payload.S3Body(io.BytesIO(data[:50]), raw_length=100, length=100,
                          payload_hash=signing.UNSIGNED_PAYLOAD)
    with pytest.raises(payload.BodyError) as short:
        read_all(body)
    assert short.value.error.code == "IncompleteBody"


@pytest.mark.parametrize("algorithm,expected", [
    ("crc32", "cbf43926"), ("crc32c", "e3069283"), ("crc64nvme", "ae8b14860a799888"),
    ("sha1", "f7c3bc1d808e04732adf679965ccc34ca7ae3441")])
def test_checksum_check_values(algorithm, expected):
    import base64
    assert base64.b64decode(checksums.checksum_of(algorithm, b"123456789")).hex() == expected


@pytest.mark.parametrize("document", [
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><Delete>&a;</Delete>',
    b'<!DOCTYPE d SYSTEM "file:///etc/passwd"><Delete/>',
    b"<Delete><Object>", b"<Delete>&undefined;</Delete>", b"", b"x" * 100])
def test_xml_parser_refuses_entities_and_garbage(document):
    with pytest.raises(xmlio.XMLError):
        xmlio.parse(document)


def test_xml_parser_strips_namespaces_and_limits_size():
    root = xmlio.parse(b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                       b'<Object><Key>a&amp;b</Key></Object></Delete>')
    assert root.tag == "Delete" and root.find("Object/Key").text == "a&b"
    with pytest.raises(xmlio.XMLError):
        xmlio.parse(b"<a>" + b" " * 100 + b"</a>", max_bytes=50)


def test_error_document():
    resp = S3Error("NoSuchKey", Key="k").response("/b/k", "tx1")
    body = b"".join(resp.app_iter)
    assert resp.status == 404 and resp.headers["content-type"] == "application/xml"
    root = xmlio.parse(body)
    assert [(c.tag, c.text) for c in root] == [
        ("Code", "NoSuchKey"), ("Message", "The specified key does not exist."), ("Key", "k"),
        ("Resource", "/b/k"), ("RequestId", "tx1")]
