"""Form POST (Swift's ``formpost``): browsers upload files straight into a container.

A web page serves a form whose hidden fields were signed with one of the
account's or container's temp URL keys::

    <form action="https://cluster/v1/AUTH_a/container/prefix-" method="POST"
          enctype="multipart/form-data">
      <input type="hidden" name="redirect" value="https://site/done" />   (optional)
      <input type="hidden" name="max_file_size" value="104857600" />
      <input type="hidden" name="max_file_count" value="10" />
      <input type="hidden" name="expires" value="1764672000" />
      <input type="hidden" name="signature" value="<hmac>" />
      <input type="file" name="file1" />
    </form>

The signature is the HMAC of ``path\\nredirect\\nmax_file_size\\nmax_file_count\\nexpires``
(``objstore.common.tempurl_signature.form_post_body``).  Each file becomes a PUT of
``<action path><filename>`` streamed from the request (never buffered),
authorized by the signature (``swift.authorize_override``, limited to that
container) rather than a token.  Optional fields: ``x_delete_at``,
``x_delete_after``, ``content-type``, ``content-encoding`` (per form or per
file part).  Fields after a file apply to the next files only, as in Swift.

Answers as Swift's: without ``redirect`` the status of the last upload with a
text body (``201 Created``; ``400 Bad Request\\r\\nFormPost: Max File Count
Exceeded``); with it ``303 See Other`` to ``<redirect>?status=201&message=``.
A bad signature or an expired form is ``401 FormPost: Invalid Signature`` /
``FormPost: Form Expired``; a malformed body or field ``400 FormPost: ...``.
"""
from __future__ import annotations

import configparser
import io
import time
from typing import Callable, Iterable
from urllib.parse import quote

from auth.authorize import AUTHORIZE_OVERRIDE, unauthorized
from objstore.common.config import section
from objstore.common.constraints import str_to_wsgi, wsgi_to_str
from objstore.common.form_data import FormDataError, FormPart, iter_form_parts, parse_header_params
from objstore.common.http import CHUNK_SIZE, REASONS, Response, error_response
from objstore.common.paths import split_api_path
from objstore.common.tempurl_signature import form_post_body, parse_signature
from objstore.common.wsgi import WSGIApp
from proxy.info import register_capability
from proxy.internal.subrequest import SubResponse, call_app, make_env
from proxy.middleware.tempurl import (
    allowed_digests, digests_info, matching_scope, scope_authorizer, signing_keys)

SOURCE = "FP"
MAX_VALUE_LENGTH = 4096  # a form field's value; the rest is ignored, as in Swift


class FormInvalid(Exception):
    """400 ``FormPost: <message>``."""


class FormUnauthorized(Exception):
    """401 ``FormPost: <Message Title>``."""


class FileTooLarge(OSError):
    """Raised by the capped body mid-PUT: the proxy aborts the upload, nothing is stored."""


class CappedPart(io.RawIOBase):
    """A file part's body as a ``wsgi.input`` that fails past ``limit`` bytes."""

    def __init__(self, part: FormPart, limit: int) -> None:
        super().__init__()
        self.part = part
        self.limit = limit
        self.sent = 0
        self.exceeded = False

    def read(self, size: int = -1) -> bytes:
        data = self.part.read(CHUNK_SIZE if size is None or size < 0 else size)
        self.sent += len(data)
        if self.sent > self.limit:
            self.exceeded = True
            raise FileTooLarge("max_file_size exceeded")
        return data

    def readable(self) -> bool:
        return True


def _int_field(fields: dict[str, str], name: str, what: str) -> int:
    value = fields.get(name) or "0"
    if not (value.isascii() and value.isdigit()) or len(value) > 20:
        raise FormInvalid(f"{name} not an integer{what}")
    return int(value)


def _head_of(resp: SubResponse, limit: int = 65536) -> bytes:
    """The first ``limit`` bytes of an answer's body (an error's text); the rest is dropped."""
    kept = b""
    with resp:
        for chunk in resp:
            if len(kept) < limit:
                kept += chunk[:limit - len(kept)]
    return kept


class FormPost:
    """The filter; sits just left of the auth filter."""

    def __init__(self, app: WSGIApp, digests: tuple[str, ...]) -> None:
        self.app = app
        self.digests = digests

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            kind, params = parse_header_params(environ.get("CONTENT_TYPE") or "")
            if kind == "multipart/form-data" and "boundary" in params:
                try:
                    answer = self.translate(environ, params["boundary"])
                except (FormDataError, FormInvalid) as err:
                    answer = error_response(400, f"FormPost: {err}", newline=False)
                except FormUnauthorized as err:
                    answer = unauthorized(environ, f"FormPost: {str(err).title()}", newline=False)
                return answer(environ, start_response)
        return self.app(environ, start_response)

    def translate(self, environ: dict, boundary: str) -> Response:
        """Upload every file of the form; the answer to send."""
        target = self.target(environ)
        keys = signing_keys(environ, self.app, SOURCE) if target else []
        environ["HTTP_USER_AGENT"] = f"{environ.get('HTTP_USER_AGENT', '')} FormPost".strip()
        fields: dict[str, str] = {}
        status, message, last = 0, "", None
        files = 0
        for part in iter_form_parts(environ["wsgi.input"], boundary):
            if part.filename is None:
                value = part.read(MAX_VALUE_LENGTH)
                part.skip()
                if part.name is not None:
                    try:
                        fields[part.name.lower()] = value.decode("utf-8")
                    except UnicodeDecodeError:
                        raise FormInvalid(f"{part.name} is not valid UTF-8") from None
                continue
            files += 1
            if files > _int_field(fields, "max_file_count", ""):
                status, message = 400, "max file count exceeded"
                break
            last = self.upload(environ, target, keys, fields, part)
            status = last.status
            if not 200 <= status < 300:
                break
        if not status:
            status, message = 400, "no files to process"
        return self.answer(fields.get("redirect"), status, message, last)

    @staticmethod
    def target(environ: dict) -> tuple[str, str] | None:
        """(account, container) of a ``/v1/<account>/<container>[/<prefix>]`` action."""
        api = split_api_path(environ.get("PATH_INFO", ""))
        if api is None or not api.container:
            return None
        account, container = wsgi_to_str(api.account), wsgi_to_str(api.container)
        if account is None or container is None:
            return None
        return account, container

    def check_signature(self, environ: dict, keys: list, fields: dict[str, str]) -> None:
        if _int_field(fields, "expires", "") < time.time():
            raise FormUnauthorized("form expired")
        body = form_post_body(wsgi_to_str(environ["PATH_INFO"]) or "", fields.get("redirect") or "",
                              fields.get("max_file_size") or "0",
                              fields.get("max_file_count") or "0", fields.get("expires") or "0")
        try:
            digest, signature = parse_signature(fields.get("signature", ""))
        except ValueError:
            raise FormUnauthorized("invalid signature") from None
        if digest not in self.digests or matching_scope(signature, [body], keys, digest) is None:
            raise FormUnauthorized("invalid signature")

    def upload(self, environ: dict, target: tuple[str, str] | None, keys: list,
               fields: dict[str, str], part: FormPart) -> "Upload":
        """PUT one file part; its answer."""
        if not keys:
            raise FormUnauthorized("invalid signature")
        max_size = _int_field(fields, "max_file_size", "")
        headers = {}
        for name, header, what in (("x_delete_at", "X-Delete-At", ": Unix timestamp required."),
                                   ("x_delete_after", "X-Delete-After",
                                    ": Number of seconds required.")):
            if name in fields:
                headers[header] = str(_int_field(fields, name, what))
        content_type = fields.get("content-type", part.headers.get("content-type"))
        if content_type is not None:
            headers["Content-Type"] = content_type or "application/octet-stream"
        encoding = fields.get("content-encoding", part.headers.get("content-encoding"))
        if encoding is not None:
            headers["Content-Encoding"] = encoding
        self.check_signature(environ, keys, fields)
        assert target is not None  # keys are only found for a container path
        path = wsgi_to_str(environ["PATH_INFO"]) or ""
        if not path.endswith("/") and path.count("/") < 4:
            path += "/"
        body = CappedPart(part, max_size)
        env = make_env(environ, "PUT", path + (part.filename or "filename"), source=SOURCE,
                       headers={**headers, "Transfer-Encoding": "chunked"}, body=body)
        env["swift.authorize"] = scope_authorizer(*target)
        env[AUTHORIZE_OVERRIDE] = True
        env["REMOTE_USER"] = ".wsgi.formpost"
        resp = call_app(self.app, env)
        answer = Upload(resp.status_int, resp.headers, _head_of(resp))
        if body.exceeded:
            raise FormInvalid("max_file_size exceeded")
        return answer

    @staticmethod
    def answer(redirect: str | None, status: int, message: str, last: "Upload | None") -> Response:
        cors = {k.lower(): v for k, v in (last.headers if last else [])
                if k.lower().startswith("access-control")}
        line = f"{status} {REASONS.get(status, 'Unknown')}"
        if not redirect:
            body = (line + (f"\r\nFormPost: {message.title()}" if message else "")).encode("utf-8")
            if not 200 <= status < 300 and last is not None and last.body:
                body = last.body
            return Response(status, {**cors, "content-type": "text/plain"}, body)
        location = redirect + ("&" if "?" in redirect else "?") + \
            f"status={quote(str(status))}&message={quote(message)}"
        body = f'<html><body><p><a href="{location}">Click to continue...</a></p></body></html>'
        return Response(303, {**cors, "location": str_to_wsgi(location),
                              "content-type": "text/html; charset=UTF-8"}, body.encode("utf-8"))


class Upload:
    """One file's PUT answer: status, headers, the start of its body."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


def filter_factory(conf: configparser.ConfigParser, options: dict | None = None
                   ) -> Callable[[WSGIApp], WSGIApp]:
    """Pipeline entry: ``[filter:formpost] use = proxy.middleware.formpost:filter_factory``."""
    settings = {**(section(conf, "filter:formpost") if conf is not None else {}), **(options or {})}
    digests = allowed_digests(settings, "formpost")
    register_capability("formpost", digests_info(digests))
    return lambda app: FormPost(app, digests)
