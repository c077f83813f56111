"""The ``s3api`` pipeline filter: S3 requests in, Swift sub-requests out.

A request is S3 when it carries an S3 signature (``Authorization: AWS4-HMAC-SHA256
...`` or ``AWS ...``, or presigned ``X-Amz-*`` / ``AWSAccessKeyId`` query
parameters); everything else goes on to the Swift API untouched.  The bucket
is the first path segment (path style) or the host's first label under a
configured ``storage_domain`` (virtual-host style).  Every answer on this
path, errors included, is S3's: XML error documents with a request id, never
a Swift text body or a traceback.

    [filter:s3api]
    use = proxy.s3.middleware:filter_factory
    location = us-east-1           # the region clients sign for
    storage_domain = s3.example.com  # optional: bucket.s3.example.com addressing
"""
from __future__ import annotations

import configparser
import logging
from typing import Callable, Iterable

from auth.s3_credentials import CredentialStoreError, lookup_s3_credential
from objstore.common.config import section
from objstore.common.constraints import wsgi_to_str
from objstore.common.http import Response, status_line
from objstore.common.logs import new_txn_id
from objstore.common.wsgi import WSGIApp
from proxy.s3 import bucket as bucket_ops
from proxy.s3 import multidelete, multipart, subresources
from proxy.s3 import obj as object_ops
from proxy.s3.config import S3Config
from proxy.s3.errors import S3Error
from proxy.s3.request import S3Request, parse_query
from proxy.s3.signing import is_s3_request, parse_signature

Handler = Callable[[S3Request], Response]
# bucket sub-resources (?acl, ?cors...) this layer does not implement yet
BUCKET_SUBRESOURCES = frozenset((
    "accelerate", "acl", "analytics", "cors", "encryption", "intelligent-tiering", "inventory",
    "lifecycle", "logging", "metrics", "notification", "object-lock", "ownershipControls",
    "policy", "policyStatus", "publicAccessBlock", "replication", "requestPayment", "tagging",
    "versions", "website"))
OBJECT_SUBRESOURCES = frozenset((
    "acl", "attributes", "legal-hold", "restore", "retention", "select", "tagging", "torrent"))


class S3Api:
    def __init__(self, app: WSGIApp, config: S3Config, logger: logging.Logger) -> None:
        self.app = app
        self.config = config
        self.logger = logger

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not is_s3_request(environ):
            return self.app(environ, start_response)
        request_id = environ.get("HTTP_X_TRANS_ID") or new_txn_id()
        request = None
        try:
            request = self.parse(environ, request_id)
            self.authenticate(request)
            response = self.route(request)(request)
        except S3Error as err:
            response = err.response(request.resource if request else environ.get("PATH_INFO", ""),
                                    request_id)
        except Exception:  # the S3 path answers in XML even for our own bugs
            self.logger.exception("S3 %s %s failed", environ.get("REQUEST_METHOD"),
                                  environ.get("PATH_INFO"))
            response = S3Error("InternalError").response(environ.get("PATH_INFO", ""), request_id)
        response.headers["x-amz-request-id"] = request_id
        response.headers["x-amz-id-2"] = request_id
        return send(response, environ, start_response)

    # ---- the request ------------------------------------------------------------------
    def _bucket_from_host(self, environ: dict) -> str | None:
        host = (environ.get("HTTP_HOST") or "").rsplit(":", 1)[0].lower()
        for domain in self.config.storage_domains:
            if host.endswith("." + domain):
                return host[:-len(domain) - 1]
        return None

    def parse(self, environ: dict, request_id: str) -> S3Request:
        host_bucket = self._bucket_from_host(environ)
        path = wsgi_to_str(environ.get("PATH_INFO", "") or "/")
        if path is None:
            raise S3Error("InvalidURI", "The path is not valid UTF-8")
        if not path.startswith("/"):
            raise S3Error("InvalidURI")
        if host_bucket is not None:
            bucket, key = host_bucket, path[1:] or None
        else:
            bucket_part, sep, key_part = path[1:].partition("/")
            bucket = bucket_part or None
            key = key_part if sep and key_part else None
        if bucket is not None and ("/" in bucket or bucket in (".", "..")):
            raise S3Error("InvalidBucketName", BucketName=bucket)
        request = S3Request(env=environ, app=self.app, config=self.config,
                            method=environ.get("REQUEST_METHOD", "GET"), bucket=bucket, key=key,
                            query=parse_query(environ.get("QUERY_STRING", "")),
                            request_id=request_id)
        request.signature = parse_signature(environ, location=self.config.location,
                                            bucket_in_host=host_bucket)
        return request

    def authenticate(self, request: S3Request) -> None:
        """Check the signature with the secret the auth filter holds for the access key
        (``auth.s3_credentials``), then make the request that user's: its sub-requests
        are authorized by the auth filter like the user's own Swift requests."""
        signature = request.signature
        assert signature is not None
        try:
            credential = lookup_s3_credential(signature.access_key)
        except CredentialStoreError:
            raise S3Error("ServiceUnavailable", "The credential store did not answer") from None
        if credential is None:
            raise S3Error("InvalidAccessKeyId", AWSAccessKeyId=signature.access_key)
        if not signature.verify(credential.secret):
            raise signature.mismatch()
        request.account = credential.storage_account
        request.user = credential.user
        request.env["REMOTE_USER"] = ",".join(credential.groups)
        request.env["objstore.identity"] = {"user": credential.user,
                                            "account": credential.storage_account,
                                            "groups": list(credential.groups)}

    # ---- routing ----------------------------------------------------------------------
    def route(self, request: S3Request) -> Handler:
        method, query = request.method, request.query
        if request.bucket is None:
            if method == "GET":
                return bucket_ops.list_buckets
            raise S3Error("MethodNotAllowed", Method=method, ResourceType="SERVICE")
        if request.key is None:
            return self._bucket_handler(method, query)
        return self._object_handler(method, query)

    @staticmethod
    def _bucket_handler(method: str, query: dict[str, str]) -> Handler:
        if handler := subresources.find(subresources.BUCKET, method, query):
            return handler
        if method == "GET":
            if "location" in query:
                return bucket_ops.get_bucket_location
            if "versioning" in query:
                return bucket_ops.get_bucket_versioning
        if method == "POST" and "delete" in query:
            return multidelete.delete_objects
        if method == "GET" and "uploads" in query:
            return multipart.list_multipart_uploads
        if BUCKET_SUBRESOURCES & set(query) or (method == "PUT" and "versioning" in query):
            raise _not_implemented(query, BUCKET_SUBRESOURCES | {"versioning"})
        if method == "GET":
            if query.get("list-type") == "2":
                return bucket_ops.list_objects_v2
            return bucket_ops.list_objects
        handlers = {"PUT": bucket_ops.create_bucket, "DELETE": bucket_ops.delete_bucket,
                    "HEAD": bucket_ops.head_bucket}
        if method in handlers:
            return handlers[method]
        raise S3Error("MethodNotAllowed", Method=method, ResourceType="BUCKET")

    @staticmethod
    def _object_handler(method: str, query: dict[str, str]) -> Handler:
        if handler := subresources.find(subresources.OBJECT, method, query):
            return handler
        if OBJECT_SUBRESOURCES & set(query):
            raise _not_implemented(query, OBJECT_SUBRESOURCES)
        if method == "POST" and "uploads" in query:
            return multipart.create_multipart_upload
        if "uploadId" in query:
            handlers = {"PUT": multipart.upload_part, "POST": multipart.complete_multipart_upload,
                        "DELETE": multipart.abort_multipart_upload, "GET": multipart.list_parts}
            if method in handlers:
                return handlers[method]
            raise S3Error("MethodNotAllowed", Method=method, ResourceType="UPLOAD")
        handlers = {"GET": object_ops.get_object, "HEAD": object_ops.get_object,
                    "PUT": object_ops.put_object, "DELETE": object_ops.delete_object}
        if method in handlers:
            return handlers[method]
        raise S3Error("MethodNotAllowed", Method=method, ResourceType="OBJECT")


def send(response: Response, environ: dict, start_response: Callable) -> Iterable[bytes]:
    """Like ``Response.__call__`` but with header names as S3 writes them, lower case
    (clients take ``x-amz-meta-*`` names from the wire as they are)."""
    start_response(status_line(response.status), list(response.headers.items()))
    if environ.get("REQUEST_METHOD") == "HEAD":
        close = getattr(response.app_iter, "close", None)
        if close:
            close()
        return []
    return response.app_iter


def _not_implemented(query: dict[str, str], known: frozenset[str]) -> S3Error:
    names = sorted(known & set(query))
    return S3Error("NotImplemented", f"{', '.join('?' + n for n in names)} is not implemented "
                                     f"by this S3 endpoint")


def filter_factory(conf: configparser.ConfigParser, options: dict | None = None
                   ) -> Callable[[WSGIApp], WSGIApp]:
    """Pipeline entry: ``[filter:s3api] use = proxy.s3.middleware:filter_factory``."""
    settings = {**section(conf, "filter:s3api"), **(options or {})}
    config = S3Config.from_options(settings)
    logger = logging.getLogger("objstore.proxy-server")
    return lambda app: S3Api(app, config, logger)
