"""AWS request signatures: Signature Version 4 and 2, in headers and in query strings.

``parse_signature(environ, ...)`` reads what the client sent and returns a
``Signature`` that knows the access key and the exact string the client must
have signed; ``Signature.verify(secret)`` recomputes the HMAC with the secret
the auth middleware holds and compares in constant time.  No secret ever
reaches this module's parsing step, so the auth middleware alone decides whose
key it is.  The rules are the S3 API reference's ("Authenticating Requests
(AWS Signature Version 4)", "Signing and authenticating REST requests" for V2).
"""
from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import re
import time
from dataclasses import dataclass, field
from email.utils import parsedate_tz, mktime_tz
from urllib.parse import quote, unquote

from proxy.s3.errors import S3Error

ALGORITHM_V4 = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_MODES = (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_SKEW_SECONDS = 15 * 60           # RequestTimeTooSkewed beyond this
MAX_PRESIGNED_EXPIRES = 7 * 24 * 3600  # X-Amz-Expires: 1 s .. 7 days
_SHA256_HEX = re.compile(r"[0-9a-f]{64}\Z")
# query parameters that are part of a V2 CanonicalizedResource (the "sub-resources")
V2_SUBRESOURCES = frozenset((
    "accelerate", "acl", "analytics", "cors", "delete", "encryption", "intelligent-tiering",
    "inventory", "legal-hold", "lifecycle", "location", "logging", "metrics", "notification",
    "object-lock", "ownershipControls", "partNumber", "policy", "publicAccessBlock",
    "replication", "requestPayment", "response-cache-control", "response-content-disposition",
    "response-content-encoding", "response-content-language", "response-content-type",
    "response-expires", "restore", "retention", "select", "select-type", "tagging", "torrent",
    "uploadId", "uploads", "versionId", "versioning", "versions", "website"))


def uri_encode(text: str | bytes, safe: str = "") -> str:
    """AWS's UriEncode: every byte but ``A-Za-z0-9-._~`` (and ``safe``) as %XX, upper case."""
    return quote(text, safe="~" + safe)


def hmac_sha256(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")."""
    key = hmac_sha256(("AWS4" + secret).encode("utf-8"), date)
    key = hmac_sha256(key, region)
    key = hmac_sha256(key, service)
    return hmac_sha256(key, "aws4_request")


def header_value(environ: dict, name: str) -> str | None:
    """A request header by its lower-case name, as a WSGI string."""
    if name == "content-type":
        return environ.get("CONTENT_TYPE")
    if name == "content-length":
        return environ.get("CONTENT_LENGTH")
    return environ.get("HTTP_" + name.upper().replace("-", "_"))


def _canonical_value(value: str) -> str:
    """Trimmed, with runs of spaces folded to one (SigV4 "Trimall")."""
    return " ".join(value.split())


def query_pairs(query_string: str) -> list[tuple[str, str]]:
    """``a=1&b&c=`` -> decoded (name, value) pairs, in order, blanks kept.  A ``+``
    stays a plus: S3 clients percent-encode spaces as ``%20``."""
    pairs = []
    for part in query_string.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((unquote(name, encoding="latin-1"), unquote(value, encoding="latin-1")))
    return pairs


def _wsgi_bytes(text: str) -> bytes:
    return text.encode("latin-1", "replace")


@dataclass
class Signature:
    """What a client signed: its access key, and how to check the signature with a secret."""
    access_key: str
    signature: str
    string_to_sign: str
    canonical_request: str = ""
    # set by verify() for SigV4: the key that signs aws-chunked chunks
    chunk_key: bytes | None = field(default=None, repr=False)

    def verify(self, secret: str) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def mismatch(self) -> S3Error:
        """The SignatureDoesNotMatch error, with what we expected (as S3 sends it)."""
        return S3Error("SignatureDoesNotMatch", AWSAccessKeyId=self.access_key,
                       StringToSign=self.string_to_sign, SignatureProvided=self.signature,
                       CanonicalRequest=self.canonical_request or None)


@dataclass
class SignatureV4(Signature):
    amz_date: str = ""     # 20130524T000000Z
    scope: str = ""        # 20130524/us-east-1/s3/aws4_request
    date: str = ""
    region: str = ""
    service: str = ""
    payload_hash: str = ""  # x-amz-content-sha256 (or UNSIGNED-PAYLOAD when presigned)

    def verify(self, secret: str) -> bool:
        key = signing_key(secret, self.date, self.region, self.service)
        expected = hmac.new(key, self.string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, self.signature):
            self.chunk_key = key
            return True
        return False


@dataclass
class SignatureV2(Signature):
    def verify(self, secret: str) -> bool:
        digest = hmac.new(secret.encode("utf-8"), self.string_to_sign.encode("latin-1", "replace"),
                          hashlib.sha1).digest()
        expected = base64.b64encode(digest).decode("ascii")
        return hmac.compare_digest(expected, self.signature)


def is_s3_request(environ: dict) -> bool:
    """Does the request carry an S3 signature (header or presigned query)?"""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if auth.startswith((ALGORITHM_V4 + " ", "AWS ")):
        return True
    query = environ.get("QUERY_STRING", "")
    return "X-Amz-Credential=" in query or ("AWSAccessKeyId=" in query and "Signature=" in query)


def parse_signature(environ: dict, *, location: str, storage_domains: tuple[str, ...] = (),
                    bucket_in_host: str | None = None, now: float | None = None) -> Signature:
    """The signature of an S3 request, its time checked; raises S3Error when it is malformed,
    skewed or expired.  ``bucket_in_host`` is the bucket of a virtual-host-style request
    (SigV2 signs it as part of the resource)."""
    now = time.time() if now is None else now
    auth = environ.get("HTTP_AUTHORIZATION", "")
    query = query_pairs(environ.get("QUERY_STRING", ""))
    names = {name for name, _ in query}
    if auth.startswith(ALGORITHM_V4 + " "):
        return _v4_from_header(environ, auth, query, location, now)
    if auth.startswith("AWS "):
        return _v2_from_header(environ, auth, query, bucket_in_host, now)
    if "X-Amz-Credential" in names:
        return _v4_presigned(environ, query, location, now)
    if "AWSAccessKeyId" in names:
        return _v2_presigned(environ, query, bucket_in_host, now)
    raise S3Error("AccessDenied", "Anonymous access is not allowed here")


# ---- Signature Version 4 ----------------------------------------------------------------

def _parse_credential(credential: str, location: str, error: str) -> tuple[str, str, str, str]:
    """``AKID/20130524/us-east-1/s3/aws4_request`` -> (access key, date, region, service)."""
    parts = credential.rsplit("/", 4)
    if len(parts) != 5 or not parts[0] or parts[4] != "aws4_request":
        raise S3Error(error, f"Error parsing the X-Amz-Credential parameter; the Credential "
                             f"is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/"
                             f"aws4_request\".")
    access_key, date, region, service, _ = parts
    if service != "s3":
        raise S3Error(error, f"The authorization header is malformed; incorrect service "
                             f"\"{service}\". This endpoint belongs to \"s3\".")
    if region != location:
        raise S3Error(error, f"The authorization header is malformed; the region '{region}' "
                             f"is wrong; expecting '{location}'", Region=location)
    if not re.fullmatch(r"\d{8}", date):
        raise S3Error(error, f"The authorization header is malformed; incorrect date format "
                             f"\"{date}\". This date in the credential must be in the format "
                             f"\"yyyyMMdd\".")
    return access_key, date, region, service


def _parse_amz_date(text: str | None) -> float | None:
    """``20130524T000000Z`` (ISO 8601 basic) or an RFC 1123 date -> epoch seconds."""
    if not text:
        return None
    try:
        return calendar.timegm(time.strptime(text, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        parsed = parsedate_tz(text)
        return float(mktime_tz(parsed)) if parsed else None


def _amz_basic(epoch: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


def _check_skew(request_time: float, now: float) -> None:
    if abs(now - request_time) > MAX_SKEW_SECONDS:
        raise S3Error("RequestTimeTooSkewed",
                      RequestTime=time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(request_time)),
                      ServerTime=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                      MaxAllowedSkewMilliseconds=str(MAX_SKEW_SECONDS * 1000))


def canonical_uri(environ: dict) -> str:
    """The path URI-encoded once (S3 does not normalise or double-encode it)."""
    return uri_encode(_wsgi_bytes(environ.get("PATH_INFO", "") or "/"), safe="/")


def canonical_query(query: list[tuple[str, str]], skip: str | None = None) -> str:
    """Names and values UriEncoded (``/`` too), sorted by name then value."""
    encoded = sorted((uri_encode(_wsgi_bytes(name)), uri_encode(_wsgi_bytes(value)))
                     for name, value in query if name != skip)
    return "&".join(f"{name}={value}" for name, value in encoded)


def canonical_request_v4(environ: dict, query: list[tuple[str, str]], signed_headers: list[str],
                         payload_hash: str, skip_query: str | None = None) -> str:
    headers = []
    for name in signed_headers:
        value = header_value(environ, name)
        if value is None:
            if name == "host":
                value = environ.get("SERVER_NAME", "")
            else:
                raise S3Error("SignatureDoesNotMatch",
                              f"The header {name} is signed but was not sent")
        headers.append(f"{name}:{_canonical_value(value)}\n")
    return "\n".join([environ.get("REQUEST_METHOD", "GET"), canonical_uri(environ),
                      canonical_query(query, skip_query), "".join(headers),
                      ";".join(signed_headers), payload_hash])


def string_to_sign_v4(amz_date: str, scope: str, canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode("latin-1", "replace")).hexdigest()
    return "\n".join([ALGORITHM_V4, amz_date, scope, digest])


def _v4_from_header(environ: dict, auth: str, query: list[tuple[str, str]], location: str,
                    now: float) -> SignatureV4:
    fields: dict[str, str] = {}
    for part in auth[len(ALGORITHM_V4):].split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name] = value
    if not {"Credential", "SignedHeaders", "Signature"} <= set(fields):
        raise S3Error("AuthorizationHeaderMalformed",
                      "The authorization header is malformed; it must contain Credential, "
                      "SignedHeaders and Signature.")
    access_key, date, region, service = _parse_credential(
        fields["Credential"], location, "AuthorizationHeaderMalformed")
    amz_date = environ.get("HTTP_X_AMZ_DATE") or ""
    request_time = _parse_amz_date(amz_date or environ.get("HTTP_DATE"))
    if request_time is None:
        raise S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date "
                                      "header")
    _check_skew(request_time, now)
    if not amz_date:
        amz_date = _amz_basic(request_time)
    if amz_date[:8] != date:
        raise S3Error("SignatureDoesNotMatch", "The date of the credential scope does not "
                                               "match the request date")
    payload_hash = environ.get("HTTP_X_AMZ_CONTENT_SHA256")
    if payload_hash is None:
        raise S3Error("InvalidRequest", "Missing required header for this request: "
                                        "x-amz-content-sha256")
    if payload_hash not in (UNSIGNED_PAYLOAD, *STREAMING_MODES) \
            and not _SHA256_HEX.match(payload_hash):
        raise S3Error("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                                         "STREAMING-... or a SHA-256 hex digest",
                      ArgumentName="x-amz-content-sha256", ArgumentValue=payload_hash)
    signed_headers = fields["SignedHeaders"].split(";")
    if "host" not in signed_headers:
        raise S3Error("AuthorizationHeaderMalformed", "The host header must be signed")
    scope = f"{date}/{region}/{service}/aws4_request"
    creq = canonical_request_v4(environ, query, signed_headers, payload_hash)
    return SignatureV4(access_key, fields["Signature"], string_to_sign_v4(amz_date, scope, creq),
                       creq, amz_date=amz_date, scope=scope, date=date, region=region,
                       service=service, payload_hash=payload_hash)


def _v4_presigned(environ: dict, query: list[tuple[str, str]], location: str,
                  now: float) -> SignatureV4:
    params = dict(query)
    error = "AuthorizationQueryParametersError"
    if params.get("X-Amz-Algorithm") != ALGORITHM_V4:
        raise S3Error(error, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
    missing = [name for name in ("X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                                 "X-Amz-SignedHeaders", "X-Amz-Signature") if name not in params]
    if missing:
        raise S3Error(error, "Query-string authentication version 4 requires the "
                             "X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, "
                             "X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
    access_key, date, region, service = _parse_credential(params["X-Amz-Credential"], location,
                                                          error)
    amz_date = params["X-Amz-Date"]
    request_time = _parse_amz_date(amz_date) if re.fullmatch(r"\d{8}T\d{6}Z", amz_date) else None
    if request_time is None:
        raise S3Error(error, "X-Amz-Date must be in the ISO8601 Long Format "
                             "\"yyyyMMdd'T'HHmmss'Z'\"")
    expires = params["X-Amz-Expires"]
    if not expires.isdigit() or not 0 < int(expires) <= MAX_PRESIGNED_EXPIRES:
        raise S3Error(error, "X-Amz-Expires must be a number of seconds from 1 to 604800")
    if now > request_time + int(expires):
        raise S3Error("AccessDenied", "Request has expired", Expires=_iso(request_time +
                                                                          int(expires)),
                      ServerTime=_iso(now))
    if request_time > now + MAX_SKEW_SECONDS:
        raise S3Error("AccessDenied", "Request is not valid yet")
    if amz_date[:8] != date:
        raise S3Error("SignatureDoesNotMatch", "The date of the credential scope does not "
                                               "match X-Amz-Date")
    signed_headers = params["X-Amz-SignedHeaders"].split(";")
    payload_hash = environ.get("HTTP_X_AMZ_CONTENT_SHA256") or UNSIGNED_PAYLOAD
    scope = f"{date}/{region}/{service}/aws4_request"
    creq = canonical_request_v4(environ, query, signed_headers, payload_hash,
                                skip_query="X-Amz-Signature")
    return SignatureV4(access_key, params["X-Amz-Signature"],
                       string_to_sign_v4(amz_date, scope, creq), creq, amz_date=amz_date,
                       scope=scope, date=date, region=region, service=service,
                       payload_hash=payload_hash)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


# ---- Signature Version 2 ----------------------------------------------------------------

def canonical_resource_v2(environ: dict, query: list[tuple[str, str]],
                          bucket_in_host: str | None) -> str:
    """``/<bucket>`` (virtual-host style) + the path as sent + the sorted sub-resources."""
    path = environ.get("RAW_PATH_INFO") or uri_encode(_wsgi_bytes(environ.get("PATH_INFO", "/")),
                                                      safe="/")
    path = path.split("?", 1)[0]
    if bucket_in_host:
        path = "/" + bucket_in_host + path
    subresources = sorted((name, value) for name, value in query if name in V2_SUBRESOURCES)
    if subresources:
        path += "?" + "&".join(f"{name}={value}" if value else name
                               for name, value in subresources)
    return path


def string_to_sign_v2(environ: dict, query: list[tuple[str, str]], bucket_in_host: str | None,
                      date: str) -> str:
    amz = {}
    for key, value in environ.items():
        if key.startswith("HTTP_X_AMZ_"):
            name = key[5:].lower().replace("_", "-")
            amz[name] = _canonical_value(value)
    amz_lines = "".join(f"{name}:{amz[name]}\n" for name in sorted(amz))
    return "\n".join([environ.get("REQUEST_METHOD", "GET"), environ.get("HTTP_CONTENT_MD5", ""),
                      environ.get("CONTENT_TYPE", ""), date, ""]) \
        + amz_lines + canonical_resource_v2(environ, query, bucket_in_host)


def _v2_from_header(environ: dict, auth: str, query: list[tuple[str, str]],
                    bucket_in_host: str | None, now: float) -> SignatureV2:
    access_key, sep, signature = auth[len("AWS "):].strip().rpartition(":")
    if not sep or not access_key or not signature:
        raise S3Error("InvalidArgument", "AWS authorization header is invalid. Expected "
                                         "AwsAccessKeyId:signature",
                      ArgumentName="Authorization", ArgumentValue=auth)
    date_text = environ.get("HTTP_X_AMZ_DATE") or environ.get("HTTP_DATE")
    request_time = _parse_amz_date(date_text)
    if request_time is None:
        raise S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date "
                                      "header")
    _check_skew(request_time, now)
    # with x-amz-date the Date line stays empty: x-amz-date is signed among the x-amz headers
    date_line = "" if environ.get("HTTP_X_AMZ_DATE") else environ.get("HTTP_DATE", "")
    return SignatureV2(access_key, signature,
                       string_to_sign_v2(environ, query, bucket_in_host, date_line))


def _v2_presigned(environ: dict, query: list[tuple[str, str]], bucket_in_host: str | None,
                  now: float) -> SignatureV2:
    params = dict(query)
    expires = params.get("Expires", "")
    if "Signature" not in params or not expires.isdigit():
        raise S3Error("AccessDenied", "Query-string authentication requires the Signature, "
                                      "Expires and AWSAccessKeyId parameters")
    if now > int(expires):
        raise S3Error("AccessDenied", "Request has expired", Expires=_iso(int(expires)),
                      ServerTime=_iso(now))
    return SignatureV2(params["AWSAccessKeyId"], params["Signature"],
                       string_to_sign_v2(environ, query, bucket_in_host, expires))
