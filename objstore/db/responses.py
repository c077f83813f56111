"""Plain-text responses of the container and account servers."""
from __future__ import annotations

from typing import NoReturn

from webob import Response
from webob import exc


def fail(status: type[exc.HTTPException], text: str, headers: dict | None = None) -> NoReturn:
    """Raise an HTTP error with a plain-text body saying why."""
    raise status(body=(text + "\n").encode("utf-8"), content_type="text/plain",
                 charset="utf-8", headers=headers)


def ok(status: int) -> Response:
    """A success response with an empty body."""
    return Response(status=status, body=b"", content_type="text/plain", charset="utf-8")
