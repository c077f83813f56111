"""Containers: listing, create (with storage policy), metadata, delete."""
from __future__ import annotations

from objstore.common.checks import name_length_error
from objstore.common.constraints import wsgi_to_str
from objstore.common.fanout import BackendResult
from objstore.common.policies import majority
from objstore.common.timestamp import Timestamp
from proxy.checks import check_listing, check_metadata, remove_headers_to_empty
from proxy.controllers.base import Controller
from objstore.common.http import Response, error_response
from proxy.infocache import INFO_REQUEST, container_info_from, container_key
from ring.ring import Ring

_PREFIXES = ("x-container-meta-", "x-container-sysmeta-")
# (no X-Versions-Location / X-History-Location: without object versioning they
# must not persist, which is how clients such as Swift's tests detect it is off)
_NAMES = frozenset({"x-container-read", "x-container-write", "x-container-sync-to",
                    "x-container-sync-key"})
# only the container's owner sees these
OWNER_HEADERS = ("x-container-read", "x-container-write", "x-container-sync-key",
                 "x-container-sync-to", "x-container-meta-temp-url-key",
                 "x-container-meta-temp-url-key-2")


class ContainerController(Controller):
    delay_denial = frozenset({"GET", "HEAD"})

    @property
    def ring(self) -> Ring:
        return self.app.container_ring

    def GET(self) -> Response:
        err = check_listing(self.req, self.app.constraints.container_listing_limit)
        return err or self._get_or_head()

    def HEAD(self) -> Response:
        if self.req.environ.get(INFO_REQUEST):
            info = self.app.container_info(self.req, self.wsgi_path, self.account, self.container)
            return Response(info["status"], {"content-length": "0"}, [])
        return self._get_or_head()

    def _get_or_head(self) -> Response:
        if "swift.authorize" in self.req.environ:  # not the owner: the read ACL decides
            info = self.app.container_info(self.req, self.wsgi_path, self.account, self.container)
            denial = self.authorize(info["read_acl"])
            if denial is not None:
                return denial
        part = self.ring.get_part(self.account, self.container)
        headers = {"X-Trans-Id": self.req.txn_id}
        headers.update(self.pass_through(("x-backend-",), frozenset({"accept"})))
        reader = self.reader(self.ring, part, headers)
        key = container_key(self.account, self.container)
        generation = self.app.info_generation(key)
        resp, status = reader.fetch(self.app.wants_newest(self.req))
        if status < 500:
            self.app.remember_info(self.req.environ, key,
                                   container_info_from(status, resp.headers if resp else {}),
                                   generation)
        response = reader.response(resp, status)
        if response.status < 300:
            self.client_headers(response.headers)
        return response

    def client_headers(self, headers: dict[str, str]) -> None:
        """Backend headers as the Swift API shows them to this client."""
        index = headers.pop("x-backend-storage-policy-index", None)
        policy = self.app.policies.get_by_index(index)
        if policy is not None:
            headers["x-storage-policy"] = policy.name
        if not self.req.environ.get("swift_owner"):
            for name in OWNER_HEADERS:
                headers.pop(name, None)
        headers.setdefault("accept-ranges", "bytes")
        put_ts = headers.get("x-put-timestamp") or headers.get("x-timestamp")
        if put_ts and "last-modified" not in headers:
            headers["last-modified"] = Timestamp(put_ts).http_date

    def metadata_headers(self) -> tuple[dict[str, str], Response | None]:
        """Metadata and ACL headers to store, cleaned and checked."""
        headers = self.pass_through(_PREFIXES + ("x-remove-container-",), _NAMES)
        remove_headers_to_empty(headers, "container")
        if not self.req.environ.get("swift_owner"):  # e.g. an account ACL's read-write user
            for name in OWNER_HEADERS:
                headers.pop(name, None)
        for name in ("x-container-read", "x-container-write"):
            if headers.get(name) and wsgi_to_str(headers[name]) is None:
                return headers, error_response(400, f"{name} must be valid UTF-8")
            clean = self.req.environ.get("swift.clean_acl")
            if headers.get(name) and clean is not None:
                try:
                    headers[name] = clean(name, headers[name])
                except ValueError as err:
                    return headers, error_response(400, str(err))
        return headers, check_metadata(headers, "container", self.app.constraints)

    def PUT(self) -> Response:
        too_long = name_length_error(self.container, "Container",
                                     self.app.constraints.max_container_name_length)
        if too_long:
            return error_response(400, too_long, {"content-type": "text/html; charset=UTF-8"})  # as Swift
        meta, err = self.metadata_headers()
        if err:
            return err
        policy_index, err = self._policy_index()
        if err:
            return err
        err = self.app.ensure_account(self.req, self.wsgi_path, self.account)
        if err:
            return err
        base = self.write_headers(Timestamp.now().internal)
        base.update(meta)
        base["X-Backend-Storage-Policy-Index"] = str(policy_index)
        result = self._fan_out("PUT", base)
        if result.status == 409 and "x-backend-storage-policy-index" in result.headers:
            return error_response(409, "Container exists with a different storage policy")
        return self.result_response(result)

    def _policy_index(self) -> tuple[int, Response | None]:
        """The requested policy, else the existing container's, else the default."""
        name = self.req.headers.get("x-storage-policy")
        if name:  # an empty X-Storage-Policy means the default, as in Swift
            policy = self.app.policies.get_by_name(name)
            if policy is None:
                return 0, error_response(400, f"Invalid X-Storage-Policy {name!r}")
            if policy.is_deprecated:
                return 0, error_response(400, f"Storage Policy {name!r} is deprecated")
            return policy.index, None
        info = self.app.container_info(self.req, self.wsgi_path, self.account, self.container)
        if info["status"] // 100 == 2:
            return int(info["storage_policy"]), None
        return self.app.policies.default.index, None

    def POST(self) -> Response:
        meta, err = self.metadata_headers()
        if err:
            return err
        base = self.write_headers(Timestamp.now().internal)
        base.update(meta)
        return self.result_response(self._fan_out("POST", base))

    def DELETE(self) -> Response:
        result = self._fan_out("DELETE", self.write_headers(Timestamp.now().internal))
        if result.status == 409:
            return error_response(409, "There was a conflict when trying to complete your "
                                       "request: the container is not empty")
        return self.result_response(result)

    def _fan_out(self, method: str, base: dict[str, str]) -> BackendResult:
        part, nodes = self.ring.get_nodes(self.account, self.container)
        targets = self.update_targets(self.app.account_ring, "Account", (self.account,), len(nodes))
        result = self.app.fanout.make_requests(method, self.ring, part,
                                               self.app.backend_path(part, self.wsgi_path),
                                               [{**base, **target} for target in targets],
                                               majority(len(nodes)))
        self.app.forget_info(self.req.environ, container_key(self.account, self.container))
        return result
