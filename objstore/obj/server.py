"""The object server: a WSGI app speaking Swift's backend object protocol.

``PUT|GET|HEAD|POST|DELETE|COMMIT /<device>/<partition>/<account>/<container>/<object>``,
``REPLICATE /<device>/<partition>[/<suffix>-<suffix>...]`` and ``SSYNC
/<device>/<partition>`` (``objstore/obj/ssync.py``); the README's
"Object server" section lists headers, status codes and options.  Run it with
``objstore-object-server --config FILE`` (section ``[object-server]``).
"""
from __future__ import annotations

import configparser
import logging
import socket
import time
import uuid
from typing import Callable, Iterable, Iterator

import msgpack

from objstore.common import checks, conditional, ranges
from objstore.common.checks import InputError, device_error, metadata_error, name_error, parse_int
from objstore.common.config import (config_true_value, get_float, get_int, hash_path_affixes,
                                    section)
from objstore.common.constraints import load_constraints, wsgi_to_str
from objstore.common.wsgi_daemon import run_wsgi_daemon
from objstore.common.healthcheck import server_healthcheck
from objstore.common.recon import server_recon
from objstore.common.http import (CHUNK_SIZE, TEXT_PLAIN, HTTPError, Response, error_response,
                                  header_dict)
from objstore.common.paths import split_path
from objstore.common.policies import StoragePolicy, load_policies
from objstore.common.timestamp import Timestamp
from objstore.obj import footers, ondisk, ssync, store
from objstore.obj.diskfile import DiskFile, DiskFileManager, DiskFileWriter
from objstore.obj.ssync_receiver import SsyncError, SsyncReceiver
from objstore.obj.store import ContainerUpdate, ObjectPath, ObjectStore
from objstore.obj.container_updates import ContainerUpdateSender, parse_targets

SECTION = "object-server"
DEFAULT_PORT = 6200
DEFAULT_ALLOWED_HEADERS = ("Content-Disposition, Content-Encoding, X-Delete-At, X-Object-Manifest, "
                           "X-Static-Large-Object, Cache-Control, Content-Language, Expires, "
                           "X-Robots-Tag")
_META_ENVIRON_PREFIX = "HTTP_X_OBJECT_META_"


def environ_key(header: str) -> str:
    """``X-Object-Meta-`` -> ``HTTP_X_OBJECT_META_``."""
    return "HTTP_" + header.upper().replace("-", "_")


_STORED_ENVIRON_PREFIXES = tuple(environ_key(prefix) for prefix in store.STORED_PREFIXES)
_OVERRIDE_ENVIRON_PREFIX = environ_key(store.SENDER_OVERRIDE_PREFIX)
# metadata keys that are not passed through as response headers as they are
_NOT_PASSED_THROUGH = frozenset({"name", "Content-Length", "Content-Type", "ETag", "X-Timestamp",
                                 "Content-Type-Timestamp"})


def header_name(environ_key: str) -> str:
    """``HTTP_X_OBJECT_META_FOO_BAR`` -> ``X-Object-Meta-Foo-Bar``."""
    return "-".join(word.capitalize() for word in environ_key[5:].split("_"))


def _post_listing_update(data_metadata: dict[str, str], content_type: str, ctype_timestamp: str,
                         meta_timestamp: Timestamp) -> dict[str, str]:
    """What a POST sends the container (as a PUT of the record, like Swift):
    the data's size and ETag (with the listing overrides stored at PUT), the
    current content type (keeping an SLO's ``swift_bytes``) and when the type
    and the metadata last changed."""
    data_type = data_metadata.get("Content-Type", "")
    if content_type != data_type and "swift_bytes=" in data_type:
        content_type += ";swift_bytes=" + data_type.split("swift_bytes=", 1)[1].split(";")[0]
    update = {"X-Size": data_metadata.get("Content-Length", "0"),
              "X-Etag": data_metadata.get("ETag", ""), "X-Content-Type": content_type,
              "X-Content-Type-Timestamp": ctype_timestamp,
              "X-Meta-Timestamp": meta_timestamp.internal}
    update.update(store.listing_overrides(data_metadata))
    return update


# what the object store's refusals answer
_STORE_ERROR_STATUS: dict[type[store.StoreError], int] = {
    store.NewerExists: 409, store.AlreadyExists: 412, store.EtagMismatch: 422,
    store.WrongLength: 499, store.TooLarge: 413, store.DeviceFull: 507,
    store.BadFragmentIndex: 400, store.NothingToCommit: 404}


def _http_error(err: store.StoreError) -> HTTPError:
    headers = {}
    if isinstance(err, store.NewerExists):
        headers["x-backend-timestamp"] = err.timestamp.internal
    return HTTPError(_STORE_ERROR_STATUS[type(err)], str(err), headers)


class FileBody:
    """Response body reading an open DiskFile; closes it when done."""

    def __init__(self, diskfile: DiskFile, chunks: Iterable[bytes], logger: logging.Logger):
        self.diskfile = diskfile
        self.chunks = chunks
        self.logger = logger

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self.chunks
        except Exception:
            self.logger.exception("error reading %s", self.diskfile.name)
            raise  # the server drops the connection: the client sees a short body
        finally:
            self.close()

    def close(self) -> None:
        self.diskfile.close()


class ObjectServer:
    """WSGI app for one object server process."""

    def __init__(self, conf: configparser.ConfigParser, logger: logging.Logger) -> None:
        options = section(conf, SECTION)
        self.logger = logger
        self.policies = load_policies(conf)
        self.constraints = load_constraints(conf)
        prefix, suffix = hash_path_affixes(conf)
        self.manager = DiskFileManager(
            options.get("devices", "/srv/node"),
            mount_check=config_true_value(options.get("mount_check", "true")),
            hash_prefix=prefix, hash_suffix=suffix, logger=logger,
            reclaim_age=get_float(options, "reclaim_age", 7 * 86400),
            io_threads=get_int(options, "disk_io_threads", 16))
        sender = ContainerUpdateSender(
            self.manager, logger,
            conn_timeout=get_float(options, "conn_timeout", 0.5),
            node_timeout=get_float(options, "node_timeout", 3.0),
            update_timeout=get_float(options, "container_update_timeout", 1.0))
        self.store = ObjectStore(self.manager, sender, self.constraints.max_file_size)
        self.ssync_receiver = SsyncReceiver(self.store, logger)
        self.allowed_headers = {name.strip().title() for name in options.get(
            "allowed_headers", DEFAULT_ALLOWED_HEADERS).split(",") if name.strip()}
        self._allowed_environ = {environ_key(name): name for name in self.allowed_headers}
        self.handlers = {"GET": self.get, "HEAD": self.get, "PUT": self.put, "POST": self.post,
                         "DELETE": self.delete, "COMMIT": self.commit, "REPLICATE": self.replicate,
                         "SSYNC": self.ssync}

    # -- dispatch ----------------------------------------------------------
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        handler = self.handlers.get(method)
        try:
            if handler is None:
                raise HTTPError(405, f"Method {method} not allowed",
                                {"allow": ", ".join(sorted(self.handlers))})
            return handler(environ, start_response)
        except HTTPError as err:
            return err.response(environ, start_response)
        except Exception:
            self.logger.exception("ERROR handling %s %s", method, environ.get("PATH_INFO"))
            return error_response(500, "An error occurred handling the request.")(
                environ, start_response)

    # -- request parsing -----------------------------------------------------
    def _device_and_partition(self, segments: list[str]) -> tuple[str, str, str]:
        device, partition = segments[0], segments[1]
        error = device_error(device, partition)
        if error:
            raise HTTPError(400, error)
        dev_path = self.manager.device_path(device)
        if dev_path is None:
            raise HTTPError(507, f"{device} is not mounted")
        return device, dev_path, partition

    def _policy(self, environ: dict) -> StoragePolicy:
        raw = environ.get("HTTP_X_BACKEND_STORAGE_POLICY_INDEX")
        if raw is not None:
            try:
                parse_int(raw.strip(), "X-Backend-Storage-Policy-Index")
            except InputError as err:
                raise HTTPError(400, str(err)) from None
        policy = self.policies.get_by_index(raw)
        if policy is None:
            raise HTTPError(503, f"No policy with index {raw}")
        return policy

    def _object_path(self, environ: dict) -> ObjectPath:
        path = wsgi_to_str(environ.get("PATH_INFO", ""))
        if path is None:
            raise HTTPError(400, "Invalid UTF-8 in path")
        try:
            segments = split_path(path, 5, 5, rest_with_last=True)
        except ValueError:
            raise HTTPError(400, "Path must be /<device>/<partition>/<account>/<container>/<object>"
                            ) from None
        device, dev_path, partition = self._device_and_partition(segments)
        limits = self.constraints
        for value, kind, limit in ((segments[2], "Account", limits.max_account_name_length),
                                   (segments[3], "Container", limits.max_container_name_length),
                                   (segments[4], "Object", limits.max_object_name_length)):
            error = name_error(value, kind, limit)
            if error:
                raise HTTPError(400, error)
        return ObjectPath(device, dev_path, partition, segments[2], segments[3], segments[4],
                          self._policy(environ))

    @staticmethod
    def _timestamp(environ: dict) -> Timestamp:
        raw = environ.get("HTTP_X_TIMESTAMP")
        if not raw:
            raise HTTPError(400, "Missing X-Timestamp header")
        try:
            return Timestamp(raw)
        except (TypeError, ValueError):
            raise HTTPError(400, f"Invalid X-Timestamp {raw!r}") from None

    @staticmethod
    def _targets(environ: dict, kind: str) -> tuple[str, list[dict[str, str]]] | None:
        """The replicas named by the proxy's X-<kind>-* headers; 400 if malformed."""
        try:
            return parse_targets(environ, kind)
        except ValueError as err:
            raise HTTPError(400, str(err)) from None

    def _container_update(self, environ: dict) -> ContainerUpdate | None:
        """The container replicas the proxy named for this write's listing
        update, if any; 400 if the headers are malformed."""
        targets = self._targets(environ, "Container")
        if targets is None:
            return None
        overrides = {header_name("HTTP_X_" + key[len(_OVERRIDE_ENVIRON_PREFIX):]): value
                     for key, value in environ.items()
                     if key.startswith(_OVERRIDE_ENVIRON_PREFIX) and value}
        return ContainerUpdate(*targets, trans_id=environ.get("HTTP_X_TRANS_ID", "-"),
                               overrides=overrides)

    def _expiry_queue(self, environ: dict) -> ContainerUpdate:
        """The expiry queue container replicas the proxy named (X-Delete-At-*),
        if any: an object's entry in the queue is updated like its listing."""
        partition, nodes = self._targets(environ, "Delete-At") or ("", [])
        return ContainerUpdate(partition, nodes, trans_id=environ.get("HTTP_X_TRANS_ID", "-"))

    def _stored_delete_at(self, target: ObjectPath) -> str | None:
        """The X-Delete-At of the version a PUT replaces (expired or not)."""
        diskfile = self.store.diskfile(target).open()
        diskfile.close()
        return diskfile.metadata.get("X-Delete-At") if diskfile.exists else None

    def _commit(self, writer: DiskFileWriter, metadata: dict[str, str], timestamp: Timestamp,
                ext: str) -> None:
        try:
            self.store.commit(writer, metadata, timestamp, ext)
        except store.StoreError as err:
            raise _http_error(err) from None

    def _check_metadata(self, environ: dict) -> None:
        """Swift's limits on user metadata (count, name/value length, total size)."""
        prefix = "X-Object-Meta-"
        error = metadata_error(((header_name(key)[len(prefix):], value)
                                for key, value in environ.items()
                                if key.startswith(_META_ENVIRON_PREFIX)),
                               prefix, self.constraints, utf8_only=False)
        if error:
            raise HTTPError(400, error)

    def _request_metadata(self, environ: dict, sysmeta: bool) -> dict[str, str]:
        """Stored headers of a PUT (``sysmeta=True``) or POST.  An empty value
        is not stored (that is how clients remove an item)."""
        stored = {}
        for key, value in environ.items():
            if not value:
                continue
            if key.startswith(_STORED_ENVIRON_PREFIXES):
                if sysmeta or not key.startswith("HTTP_X_OBJECT_SYSMETA_"):
                    stored[header_name(key)] = value
            elif key in self._allowed_environ:
                stored[self._allowed_environ[key]] = value
        return stored

    @staticmethod
    def _delete_at(environ: dict, timestamp: Timestamp) -> str | None:
        """The expiry the request asks for (X-Delete-After counts from its
        X-Timestamp); None if neither header is set or they are empty, which
        removes the expiry."""
        try:
            return checks.delete_at(environ.get("HTTP_X_DELETE_AT") or None,
                                    environ.get("HTTP_X_DELETE_AFTER") or None,
                                    timestamp.seconds, time.time())
        except InputError as err:
            raise HTTPError(400, str(err)) from None

    # -- handlers ------------------------------------------------------------
    def put(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        target = self._object_path(environ)
        timestamp = self._timestamp(environ)
        body, late, object_length = self._put_body(environ)
        content_type = environ.get("CONTENT_TYPE")
        if not content_type:
            raise HTTPError(400, "No content type")
        self._check_metadata(environ)
        delete_at = self._delete_at(environ, timestamp)
        update = self._container_update(environ)
        queue = self._expiry_queue(environ)
        metadata = self._request_metadata(environ, sysmeta=True)
        metadata["Content-Type"] = content_type
        if delete_at is not None:
            metadata["X-Delete-At"] = delete_at
        old_delete_at = self._stored_delete_at(target)
        try:
            stored = self.store.put(
                target, timestamp, metadata, body, expected_etag=environ.get("HTTP_ETAG"),
                expected_length=object_length, footers=late, update=update,
                if_none_match=environ.get("HTTP_IF_NONE_MATCH", "").strip() == "*",
                durable=not target.policy.is_erasure_coded)
        except store.StoreError as err:
            raise _http_error(err) from None
        except footers.MimeError as err:
            raise HTTPError(400, str(err)) from None
        except footers.FooterChecksumError as err:
            raise HTTPError(422, str(err)) from None
        self.store.update_expiry_queue(target, timestamp, old_delete_at, delete_at, queue)
        return Response(201, {"etag": stored.etag})(environ, start_response)

    def commit(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """The second phase of an erasure-coded PUT: the proxy learnt that
        enough nodes stored their fragment archive at ``X-Timestamp``, so this
        node's becomes durable (served from now on) and its container is told
        (``X-Container-*`` as on the PUT)."""
        target = self._object_path(environ)
        if not target.policy.is_erasure_coded:
            raise HTTPError(400, "COMMIT is for erasure-coded policies only")
        try:
            self.store.commit_durable(target, self._timestamp(environ),
                                      self._container_update(environ))
        except store.StoreError as err:
            raise _http_error(err) from None
        return Response(201)(environ, start_response)

    def _put_body(self, environ: dict) -> tuple[Iterator[bytes],
                                                 Callable[[], store.Footers] | None, int | None]:
        """(object bytes, footers if any, object length if known) of a PUT.

        With ``X-Backend-Obj-Metadata-Footer`` the body is multipart MIME and
        the object's length is ``X-Backend-Obj-Content-Length``; the 100
        Continue tells a Swift proxy that footers are understood (it would
        send none otherwise)."""
        content_length = self._content_length(environ)
        if config_true_value(environ.get("HTTP_X_BACKEND_OBJ_MULTIPHASE_COMMIT")):
            raise HTTPError(400, "X-Backend-Obj-Multiphase-Commit is not supported")
        with_footer = config_true_value(environ.get("HTTP_X_BACKEND_OBJ_METADATA_FOOTER"))
        object_length = self._object_length(environ) if with_footer else content_length
        try:
            checks.check_object_size(object_length, self.constraints.max_file_size)
        except InputError as err:
            raise HTTPError(err.status, str(err)) from None
        body = self._request_body(environ, content_length)
        if not with_footer:
            return body, None, object_length
        try:
            mime = footers.FooterBody(body, environ.get(
                "HTTP_X_BACKEND_OBJ_MULTIPART_MIME_BOUNDARY", ""))
        except footers.MimeError as err:
            raise HTTPError(400, str(err)) from None
        stream = environ["wsgi.input"]
        if hasattr(stream, "set_hundred_continue_response_headers"):  # eventlet's input
            stream.set_hundred_continue_response_headers([("X-Obj-Metadata-Footer", "yes")])
        return mime.object_data(), mime.footers, object_length

    @staticmethod
    def _content_length(environ: dict) -> int | None:
        """The request body's length; None if chunked."""
        try:
            return checks.body_length(environ.get("CONTENT_LENGTH"),
                                      environ.get("HTTP_TRANSFER_ENCODING"))
        except InputError as err:
            # an unknown transfer coding is the sender's error here (400, as
            # every refusal of a storage node): a 501 would count against this node
            raise HTTPError(400 if err.status == 501 else err.status, str(err)) from None

    @staticmethod
    def _object_length(environ: dict) -> int | None:
        """The object part's length in a footer PUT, if the proxy knows it."""
        raw = environ.get("HTTP_X_BACKEND_OBJ_CONTENT_LENGTH")
        if raw in (None, ""):
            return None
        try:
            return parse_int(raw, "X-Backend-Obj-Content-Length")
        except InputError as err:
            raise HTTPError(400, str(err)) from None

    @staticmethod
    def _request_body(environ: dict, content_length: int | None) -> Iterator[bytes]:
        """The request body in chunks of at most 64 KiB, never reading past
        ``content_length``; a client that stops early or stalls is 499/408."""
        stream = environ["wsgi.input"]
        remaining = content_length
        while remaining is None or remaining > 0:
            try:
                chunk = stream.read(CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining))
            except (socket.timeout, TimeoutError):
                raise HTTPError(408, "Request Timeout: timed out reading the body") from None
            except (OSError, ValueError) as err:
                raise HTTPError(499, f"Client disconnected: {err}") from None
            if not chunk:
                if remaining is not None:
                    raise HTTPError(499, "Client disconnected: body shorter than Content-Length")
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk

    def _open_existing(self, target: ObjectPath) -> DiskFile:
        """The object, or HTTPError 404 (with X-Backend-Timestamp if deleted/expired)."""
        diskfile = self.store.diskfile(target).open()
        if diskfile.exists and not diskfile.is_expired():
            return diskfile
        diskfile.close()
        headers = {}
        if diskfile.timestamp is not None:
            headers["x-backend-timestamp"] = diskfile.timestamp.internal
        raise HTTPError(404, "Not Found", headers)

    def get(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        target = self._object_path(environ)
        try:
            diskfile = self._open_existing(target)
        except HTTPError as err:
            if err.status == 404 and environ.get("HTTP_IF_MATCH", "").strip() == "*":
                err.response.status = 412
            raise
        try:
            return self._serve(environ, start_response, diskfile)
        except BaseException:
            diskfile.close()
            raise

    def _serve(self, environ: dict, start_response: Callable,
               diskfile: DiskFile) -> Iterable[bytes]:
        metadata = diskfile.metadata
        timestamp = Timestamp(metadata["X-Timestamp"])
        data_timestamp = ondisk.file_timestamp(diskfile.fileset.data)
        etag = metadata["ETag"]
        headers = [("Content-Type", metadata.get("Content-Type", "application/octet-stream")),
                   ("ETag", etag), ("Last-Modified", timestamp.http_date),
                   ("X-Timestamp", timestamp.normal),
                   ("X-Backend-Timestamp", timestamp.internal),
                   ("X-Backend-Data-Timestamp", data_timestamp.internal),
                   ("Accept-Ranges", "bytes")]
        headers.extend((key, value) for key, value in metadata.items()
                       if key not in _NOT_PASSED_THROUGH)
        head = environ["REQUEST_METHOD"] == "HEAD"
        match_etag = metadata.get(environ.get("HTTP_X_BACKEND_ETAG_IS_AT", ""), etag)
        outcome = conditional.evaluate(environ, match_etag, timestamp.seconds)
        if outcome is not None:  # Swift answers 304 and 412 with the object's headers
            diskfile.close()
            if outcome.status == 304:  # no body, by HTTP's rules
                return Response(304, header_dict(headers), [])(environ, start_response)
            return error_response(412, outcome.message, header_dict(
                h for h in headers if h[0] != "Content-Type"))(environ, start_response)
        length = diskfile.size
        try:
            wanted = ranges.parse_range(environ.get("HTTP_RANGE"), length)
        except ranges.Unsatisfiable:  # with the object's headers (ETag...), as Swift
            diskfile.close()
            return Response(416, {**header_dict(headers), "content-range": f"bytes */{length}"},
                            b"Requested Range Not Satisfiable")(environ, start_response)
        status = 200
        if wanted is None:
            body: Iterable[bytes] = diskfile.read_verified() if not head else ()
            headers.append(("Content-Length", str(length)))
        elif len(wanted) == 1:
            status = 206
            start, stop = wanted[0]
            body = diskfile.read_range(start, stop)
            headers.append(("Content-Range", ranges.content_range(start, stop, length)))
            headers.append(("Content-Length", str(stop - start)))
        else:
            status = 206
            multipart = ranges.MultipartRanges(wanted, length, headers[0][1], uuid.uuid4().hex,
                                               diskfile.read_range)
            headers[0] = ("Content-Type",
                          f"multipart/byteranges;boundary={multipart.boundary.decode()}")
            headers.append(("Content-Length", str(multipart.content_length)))
            body = multipart
        # a HEAD closes the body, and so the file, without reading it
        return Response(status, header_dict(headers),
                        FileBody(diskfile, body, self.logger))(environ, start_response)

    def post(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        target = self._object_path(environ)
        timestamp = self._timestamp(environ)
        self._check_metadata(environ)
        delete_at = self._delete_at(environ, timestamp)
        update = self._container_update(environ)
        queue = self._expiry_queue(environ)
        diskfile = self._open_existing(target)
        diskfile.close()
        if diskfile.meta_timestamp >= timestamp:
            raise HTTPError(409, "An equal or newer update already exists",
                            [("X-Backend-Timestamp", diskfile.meta_timestamp.internal)])
        metadata = self._request_metadata(environ, sysmeta=False)
        metadata.update({"name": diskfile.name, "X-Timestamp": timestamp.internal})
        data_timestamp = diskfile.timestamp.internal
        if environ.get("CONTENT_TYPE"):
            content_type, ctype_timestamp = environ["CONTENT_TYPE"], timestamp.internal
        else:  # a type set by an earlier POST stays (the .meta replaces the older one)
            content_type = diskfile.metadata.get("Content-Type", "application/octet-stream")
            ctype_timestamp = diskfile.metadata.get("Content-Type-Timestamp", data_timestamp)
        if ctype_timestamp != data_timestamp:
            metadata["Content-Type"] = content_type
            metadata["Content-Type-Timestamp"] = ctype_timestamp
        if delete_at is not None:
            metadata["X-Delete-At"] = delete_at
        self._commit(diskfile.writer(), metadata, timestamp, ondisk.META)
        if update:
            self.store.update_container("PUT", target, diskfile, update, diskfile.timestamp,
                                        _post_listing_update(diskfile.data_metadata, content_type,
                                                             ctype_timestamp, timestamp))
        self.store.update_expiry_queue(target, timestamp, diskfile.metadata.get("X-Delete-At"),
                                       delete_at, queue)
        return Response(202, {"content-type": TEXT_PLAIN, "x-backend-timestamp": timestamp.internal},
                        b"Accepted\n")(environ, start_response)

    def delete(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        target = self._object_path(environ)
        timestamp = self._timestamp(environ)
        update = self._container_update(environ)
        diskfile = self.store.diskfile(target).open()
        diskfile.close()
        if diskfile.timestamp is not None and diskfile.timestamp >= timestamp:
            raise HTTPError(409, "An equal or newer object already exists",
                            {"x-backend-timestamp": diskfile.timestamp.internal})
        if_delete_at = environ.get("HTTP_X_IF_DELETE_AT")
        if if_delete_at is not None:
            try:
                wanted = checks.if_delete_at(if_delete_at)
            except InputError as err:
                raise HTTPError(400, str(err)) from None
            if not diskfile.exists:
                raise HTTPError(404, "Not Found")
            if diskfile.metadata.get("X-Delete-At") != wanted:
                raise HTTPError(412, "X-If-Delete-At does not match the object's X-Delete-At")
        existed = diskfile.exists and (if_delete_at is not None or not diskfile.is_expired())
        self._commit(diskfile.writer(), {"name": diskfile.name, "X-Timestamp": timestamp.internal},
                     timestamp, ondisk.TOMBSTONE)
        if update:
            self.store.update_container("DELETE", target, diskfile, update, timestamp, {})
        if if_delete_at is None and diskfile.exists:  # else the expirer drops the entry itself
            self.store.update_expiry_queue(target, timestamp, diskfile.metadata.get("X-Delete-At"),
                                           None, self._expiry_queue(environ))
        headers = {"x-backend-timestamp": timestamp.internal}
        if existed:
            return Response(204, headers)(environ, start_response)
        return error_response(404, "Not Found", headers)(environ, start_response)

    def _partition_request(self, environ: dict, tail: str = ""
                           ) -> tuple[str, str, str, StoragePolicy, str | None]:
        """(device, device path, partition, policy, optional third path
        segment) of a replication request ``/<device>/<partition>[/<tail>]``."""
        path = wsgi_to_str(environ.get("PATH_INFO", "")) or ""
        try:
            segments = split_path(path, 2, 3 if tail else 2)
        except ValueError:
            raise HTTPError(400, f"Path must be /<device>/<partition>{tail}") from None
        device, dev_path, partition = self._device_and_partition(segments)
        return device, dev_path, partition, self._policy(environ), \
            segments[2] if tail else None

    def replicate(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        _, dev_path, partition, policy, suffixes = self._partition_request(
            environ, "[/<suffix>-<suffix>...]")
        hashes = self.manager.get_hashes(dev_path, policy.data_dir, partition,
                                         suffixes.split("-") if suffixes else [])
        return Response(200, {"content-type": "application/x-msgpack"},
                        msgpack.packb(hashes, use_bin_type=True))(environ, start_response)

    def ssync(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        device, dev_path, partition, policy, _ = self._partition_request(environ)
        try:
            answer = self.ssync_receiver.handle(
                environ.get(environ_key(ssync.PHASE_HEADER), ""), environ["wsgi.input"],
                device, dev_path, policy, partition)
        except SsyncError as err:
            raise HTTPError(err.status, str(err)) from None
        return Response(200, {"content-type": "application/x-msgpack"}, answer)(environ, start_response)


def app_factory(conf: configparser.ConfigParser, logger: logging.Logger) -> Callable:
    """The object server app wrapped in /recon and /healthcheck."""
    recon = server_recon(ObjectServer(conf, logger), conf, SECTION)
    return server_healthcheck(recon, conf, SECTION)


def main(argv: list[str] | None = None) -> int:
    run_wsgi_daemon(SECTION, app_factory, DEFAULT_PORT, argv=argv)
    return 0
