"""Bucket CORS through boto3 and a browser's requests (plain HTTP with Origin) against
the all-in-one's S3 API: the configuration calls, preflights answered from the rules
and Access-Control-* headers on actual responses."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.e2e.test_s3_boto3 import bucket, cluster, error_code, raw_request, s3  # noqa: F401

RULES = [
    {"ID": "web", "AllowedOrigins": ["https://*.example.com"], "AllowedMethods": ["GET", "PUT"],
     "AllowedHeaders": ["x-amz-*", "Content-Type"], "ExposeHeaders": ["ETag", "x-amz-request-id"],
     "MaxAgeSeconds": 600},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
]


def options(cluster, path: str, origin: str | None, method: str | None,
            headers: str | None = None) -> tuple[int, dict, bytes]:
    sent = {name: value for name, value in (("Origin", origin),
                                            ("Access-Control-Request-Method", method),
                                            ("Access-Control-Request-Headers", headers))
            if value is not None}
    return raw_request(f"http://127.0.0.1:{cluster.port}{path}", "OPTIONS", headers=sent)


def error_of(body: bytes) -> dict[str, str]:
    return {child.tag: child.text or "" for child in ET.fromstring(body)}


@pytest.fixture
def cors_bucket(s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    s3.put_object(Bucket=bucket, Key="page.html", Body=b"<p>hi</p>")
    return bucket


def test_configuration_round_trip_and_delete(s3, bucket):
    assert error_code(s3.get_bucket_cors, Bucket=bucket) == "NoSuchCORSConfiguration"
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES
    assert s3.delete_bucket_cors(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_code(s3.get_bucket_cors, Bucket=bucket) == "NoSuchCORSConfiguration"
    assert error_code(s3.get_bucket_cors, Bucket=bucket + "-gone") == "NoSuchBucket"


def test_invalid_configurations(s3, bucket):
    def put(*rules):
        return error_code(s3.put_bucket_cors, Bucket=bucket,
                          CORSConfiguration={"CORSRules": list(rules)})
    assert put({"AllowedOrigins": ["https://*.*.example.com"], "AllowedMethods": ["GET"]}) \
        == "InvalidRequest"
    assert put({"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}) == "InvalidRequest"
    assert put({"AllowedOrigins": ["*"], "AllowedMethods": ["GET"],
                "AllowedHeaders": ["x-*-*"]}) == "InvalidRequest"
    assert put(*[{"AllowedOrigins": [f"https://{i}.example"], "AllowedMethods": ["GET"]}
                 for i in range(101)]) == "InvalidRequest"
    hundred = [{"AllowedOrigins": [f"https://site-{i}.example.org"], "AllowedMethods": ["GET"],
                "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": i}
               for i in range(100)]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": hundred})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == hundred


def test_preflight_answered_from_the_rules(cluster, cors_bucket):
    status, headers, _ = options(cluster, f"/{cors_bucket}/page.html", "https://app.example.com",
                                 "PUT", "Content-Type, X-Amz-Date")
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert headers["access-control-allow-methods"] == "GET, PUT"
    assert headers["access-control-allow-headers"] == "content-type, x-amz-date"
    assert headers["access-control-expose-headers"] == "ETag, x-amz-request-id"
    assert headers["access-control-max-age"] == "600"
    assert headers["access-control-allow-credentials"] == "true"
    # the second rule: any origin, GET only
    status, headers, _ = options(cluster, f"/{cors_bucket}", "https://else.org", "GET")
    assert status == 200 and headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in headers
    for origin, method, wanted in (("https://else.org", "PUT", None),
                                   ("https://app.example.com", "DELETE", None),
                                   ("https://app.example.com", "PUT", "authorization")):
        status, headers, body = options(cluster, f"/{cors_bucket}/page.html", origin, method,
                                        wanted)
        assert status == 403 and "access-control-allow-origin" not in headers
        error = error_of(body)
        assert error["Code"] == "AccessForbidden" and error["Method"] == method
        assert error["ResourceType"] == "OBJECT" and error["RequestId"]
    status, _, body = options(cluster, f"/{cors_bucket}/page.html", None, "GET")
    assert status == 400 and error_of(body)["Code"] == "BadRequest"


def test_preflight_without_configuration(cluster, s3, bucket):
    status, _, body = options(cluster, f"/{bucket}/x", "https://app.example.com", "GET")
    assert status == 403 and "not enabled" in error_of(body)["Message"]
    status, _, body = options(cluster, "/no-such-bucket-here/x", "https://a.example.com", "GET")
    assert status == 403 and error_of(body)["Code"] == "AccessForbidden"
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    assert options(cluster, f"/{bucket}/x", "https://app.example.com", "GET")[0] == 200
    s3.delete_bucket_cors(Bucket=bucket)
    assert options(cluster, f"/{bucket}/x", "https://app.example.com", "GET")[0] == 403


def test_actual_responses_carry_the_matching_rules_headers(s3, cors_bucket):
    url = s3.generate_presigned_url("get_object", Params={"Bucket": cors_bucket,
                                                          "Key": "page.html"})
    status, headers, body = raw_request(url, headers={"Origin": "https://www.example.com"})
    assert status == 200 and body == b"<p>hi</p>"
    assert headers["access-control-allow-origin"] == "https://www.example.com"
    assert headers["access-control-expose-headers"] == "ETag, x-amz-request-id"
    assert "Origin" in headers["vary"]
    status, headers, _ = raw_request(url, headers={"Origin": "https://else.org"})
    assert status == 200 and headers["access-control-allow-origin"] == "*"
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": cors_bucket,
                                                              "Key": "up"})
    status, headers, _ = raw_request(put_url, "PUT", body=b"x",
                                     headers={"Origin": "https://else.org"})
    assert status == 200 and "access-control-allow-origin" not in headers  # rule 2: GET only
    status, headers, _ = raw_request(url, headers={})
    assert "access-control-allow-origin" not in headers
