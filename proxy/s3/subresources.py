"""The sub-resources (``?tagging``, ``?cors``...) that are built: which handler answers
``(bucket or object, sub-resource, method)``.  The middleware asks here before it
answers NotImplemented for the others."""
from __future__ import annotations

from typing import Callable

from objstore.common.http import Response
from proxy.s3 import tagging
from proxy.s3.request import S3Request

Handler = Callable[[S3Request], Response]

BUCKET = "bucket"
OBJECT = "object"
HANDLERS: dict[tuple[str, str, str], Handler] = {
    (BUCKET, "tagging", "GET"): tagging.get_bucket_tagging,
    (BUCKET, "tagging", "PUT"): tagging.put_bucket_tagging,
    (BUCKET, "tagging", "DELETE"): tagging.delete_bucket_tagging,
    (OBJECT, "tagging", "GET"): tagging.get_object_tagging,
    (OBJECT, "tagging", "PUT"): tagging.put_object_tagging,
    (OBJECT, "tagging", "DELETE"): tagging.delete_object_tagging,
}


def find(level: str, method: str, query: dict[str, str]) -> Handler | None:
    """The handler of a built sub-resource named in ``query``, or None."""
    for name in query:
        handler = HANDLERS.get((level, name, method))
        if handler is not None:
            return handler
    return None
