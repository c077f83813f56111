"""Accounts: container listing, metadata, and (if allowed) create/delete.

With ``account_autocreate`` an account that does not exist yet answers like an
empty one (204/200 with zero counts), and is created on the first container PUT
or metadata POST.
"""
from __future__ import annotations

import json

from objstore.common.checks import name_length_error
from objstore.common.fanout import BackendResult
from objstore.common.policies import majority
from objstore.common.timestamp import Timestamp
from proxy.checks import check_listing, check_metadata, remove_headers_to_empty
from proxy.controllers.base import Controller
from objstore.common.http import Response, error_response
from proxy.infocache import INFO_REQUEST, account_info_from, account_key
from ring.ring import Ring

_PREFIXES = ("x-account-meta-", "x-account-sysmeta-")
OWNER_HEADERS = ("x-account-access-control", "x-account-meta-temp-url-key",
                 "x-account-meta-temp-url-key-2")


class AccountController(Controller):

    @property
    def ring(self) -> Ring:
        return self.app.account_ring

    def name_error(self) -> Response | None:
        error = name_length_error(self.account, "Account",
                                  self.app.constraints.max_account_name_length)
        return error_response(400, error) if error else None

    def GET(self) -> Response:
        err = self.name_error() or check_listing(self.req, self.app.constraints.account_listing_limit)
        return err or self._get_or_head()

    def HEAD(self) -> Response:
        if self.req.environ.get(INFO_REQUEST):
            info = self.app.account_info(self.req, self.wsgi_path, self.account)
            return Response(info["status"], {"content-length": "0"}, [])
        return self.name_error() or self._get_or_head()

    def _get_or_head(self) -> Response:
        part = self.ring.get_part(self.account)
        headers = {"X-Trans-Id": self.req.txn_id}
        headers.update(self.pass_through(("x-backend-",), frozenset({"accept"})))
        reader = self.reader(self.ring, part, headers)
        key = account_key(self.account)
        generation = self.app.info_generation(key)
        resp, status = reader.fetch(self.app.wants_newest(self.req))
        if status < 500:
            info = account_info_from(status, resp.headers if resp else {})
            self.app.remember_info(self.req.environ, key, info, generation)
        if status == 404 and self.app.account_autocreate:
            return self._empty_account()
        response = reader.response(resp, status)
        if response.status < 300:
            if not self.req.environ.get("swift_owner"):
                for name in OWNER_HEADERS:
                    response.headers.pop(name, None)
            response.headers.setdefault("accept-ranges", "bytes")
        return response

    def _empty_account(self) -> Response:
        """What an account that will be auto-created looks like: empty."""
        now = Timestamp.now()
        headers = {"x-account-container-count": "0", "x-account-object-count": "0",
                   "x-account-bytes-used": "0", "x-timestamp": now.normal,
                   "x-put-timestamp": now.normal, "accept-ranges": "bytes"}
        if self.req.method == "HEAD":
            headers["content-type"] = "text/plain; charset=utf-8"
            return Response(204, headers, [])
        fmt = (self.req.params.get("format") or "").lower()
        accept = self.req.headers.get("accept", "")
        if fmt == "json" or (not fmt and "application/json" in accept):
            headers["content-type"] = "application/json; charset=utf-8"
            return Response(200, headers, json.dumps([]).encode())
        if fmt == "xml" or (not fmt and "xml" in accept):
            headers["content-type"] = "application/xml; charset=utf-8"
            name = self.wsgi_path.lstrip("/").replace("&", "&amp;").replace("<", "&lt;")
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<account name="{name}"></account>'
                    .encode("latin-1"))
            return Response(200, headers, body)
        headers.update({"content-type": "text/plain; charset=utf-8", "content-length": "0"})
        return Response(204, headers, [])

    def metadata_headers(self) -> tuple[dict[str, str], Response | None]:
        headers = self.pass_through(_PREFIXES + ("x-remove-account-",),
                                    frozenset({"x-account-access-control"}))
        remove_headers_to_empty(headers, "account")
        if not self.req.environ.get("swift_owner"):
            headers.pop("x-account-access-control", None)
        return headers, check_metadata(headers, "account", self.app.constraints)

    def allowed_methods(self) -> list[str]:
        methods = super().allowed_methods()
        if not self.app.allow_account_management:
            methods = [m for m in methods if m not in ("PUT", "DELETE")]
        return methods

    def not_allowed(self) -> Response:
        return error_response(405, "Account management is not allowed on this cluster",
                              {"allow": ", ".join(self.allowed_methods())})

    def PUT(self) -> Response:
        if not self.app.allow_account_management:
            return self.not_allowed()
        meta, err = self.metadata_headers()
        err = err or self.name_error()
        if err:
            return err
        return self.result_response(self.fan_out("PUT", meta))

    def POST(self) -> Response:
        meta, err = self.metadata_headers()
        err = err or self.name_error()
        if err:
            return err
        result = self.fan_out("POST", meta)
        if result.status == 404 and self.app.account_autocreate:
            created = self.fan_out("PUT", {})
            if created.status // 100 != 2:
                return self.result_response(created)
            result = self.fan_out("POST", meta)
        return self.result_response(result)

    def DELETE(self) -> Response:
        if not self.app.allow_account_management:
            return self.not_allowed()
        if self.req.query_string:
            return error_response(400, "Bad request: DELETE of an account takes no query")
        return self.result_response(self.fan_out("DELETE", {}))

    def fan_out(self, method: str, extra: dict[str, str]) -> BackendResult:
        """One write to every account replica; also used to auto-create."""
        part, nodes = self.ring.get_nodes(self.account)
        headers = self.write_headers(Timestamp.now().internal)
        headers.update(extra)
        result = self.app.fanout.make_requests(method, self.ring, part,
                                               self.app.backend_path(part, self.wsgi_path),
                                               [headers] * len(nodes), majority(len(nodes)))
        self.app.forget_info(self.req.environ, account_key(self.account))
        return result
