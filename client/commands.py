"""The small commands of the ``objstore`` CLI: stat, list, delete, post, copy.

Each takes a Connection and the parsed arguments, prints its result on stdout
and raises ClientError on failure.
"""
from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

from client.connection import ClientError, Connection, quote
from client.units import human_size
from client.upload import dlo_segments, is_slo

# headers that say nothing to a user of ``stat``
_NOISE = {"date", "x-trans-id", "x-openstack-request-id", "connection", "content-length",
          "accept-ranges", "transfer-encoding", "keep-alive", "vary"}
_LABELS = {
    "x-account-container-count": "Containers", "x-account-object-count": "Objects",
    "x-account-bytes-used": "Bytes", "x-container-object-count": "Objects",
    "x-container-bytes-used": "Bytes", "x-container-read": "Read ACL",
    "x-container-write": "Write ACL", "x-storage-policy": "Storage Policy",
    "content-type": "Content Type", "etag": "ETag", "last-modified": "Last Modified",
    "x-object-manifest": "Manifest", "x-static-large-object": "Static Large Object",
    "x-timestamp": "Timestamp",
}
CONTAINER_DELETE_ATTEMPTS = 5


def parse_pairs(values: list[str] | None, separator: str, what: str) -> dict[str, str]:
    """``["Key:Value", ...]`` -> dict; a clear error for a missing separator."""
    pairs = {}
    for value in values or []:
        key, sep, rest = value.partition(separator)
        if not sep or not key.strip():
            raise ClientError(f"{what} {value!r} must look like 'Name{separator}value'")
        pairs[key.strip()] = rest.strip()
    return pairs


def meta_headers(kind: str, args: argparse.Namespace) -> dict[str, str]:
    """Headers from ``-m key:value`` (metadata of ``kind``) and ``-H name:value``."""
    headers = {f"X-{kind}-Meta-{key}": value
               for key, value in parse_pairs(getattr(args, "meta", None), ":", "metadata").items()}
    headers.update(parse_pairs(getattr(args, "header", None), ":", "header"))
    return headers


def cmd_stat(conn: Connection, args: argparse.Namespace) -> None:
    resp = conn.request("HEAD", args.container, args.object, ok=(404,))
    if resp.status == 404:
        raise ClientError(f"{_describe(args.container, args.object)} not found", 404)
    account = conn.storage_url.rstrip("/").rsplit("/", 1)[-1]
    rows = [("Account", account)]
    if args.container:
        rows.append(("Container", args.container))
    if args.object:
        rows.append(("Object", args.object))
        rows.append(("Content Length", resp.headers.get("content-length", "0")))
    for name, value in sorted(resp.headers.items()):
        if name in _NOISE or (name == "content-type" and not args.object):
            continue
        if "-meta-" in name:
            label = "Meta " + name.split("-meta-", 1)[1].title()
        else:
            label = _LABELS.get(name, "-".join(p.capitalize() for p in name.split("-")))
        rows.append((label, value))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:>{width}}: {value}")


def _describe(container: str | None, obj: str | None) -> str:
    if obj:
        return f"object {container}/{obj}"
    return f"container {container}" if container else "account"


def cmd_list(conn: Connection, args: argparse.Namespace) -> None:
    params = {key: value for key, value in (("prefix", args.prefix), ("delimiter", args.delimiter))
              if value}
    size = human_size if args.lh else str
    for item in conn.listing(args.container, **params):
        if "subdir" in item:
            print(item["subdir"])
        elif not (args.long or args.lh):
            print(item["name"])
        elif args.container:
            print(f"{size(item['bytes']):>12} {item.get('last_modified', '')[:19]:>19} "
                  f"{item.get('content_type', ''):>24} {item['name']}")
        else:
            print(f"{item['count']:>10} {size(item['bytes']):>12} "
                  f"{item.get('last_modified', '')[:19]:>19} {item['name']}")


def delete_object(conn: Connection, container: str, obj: str, leave_segments: bool = False) -> None:
    """Delete an object; a large object's segments go too unless ``leave_segments``."""
    if not leave_segments:
        head = conn.request("HEAD", container, obj, ok=(404,))
        if head.status == 404:
            raise ClientError(f"object {container}/{obj} not found", 404)
        if is_slo(head.headers):
            conn.request("DELETE", container, obj, query={"multipart-manifest": "delete"})
            return
        manifest = head.headers.get("x-object-manifest")
        if manifest:
            seg_container, items = dlo_segments(conn, manifest)
            for item in items:
                conn.request("DELETE", seg_container, item["name"], ok=(404,))
    resp = conn.request("DELETE", container, obj, ok=(404,))
    if resp.status == 404:
        raise ClientError(f"object {container}/{obj} not found", 404)


def cmd_delete(conn: Connection, args: argparse.Namespace) -> None:
    objects = args.objects or [item["name"] for item in conn.listing(args.container)]
    with ThreadPoolExecutor(max(1, args.object_threads)) as pool:
        for name, _ in zip(objects, pool.map(
                lambda name: delete_object(conn, args.container, name, args.leave_segments), objects)):
            print(name)
    if args.objects:
        return
    for attempt in range(CONTAINER_DELETE_ATTEMPTS):
        resp = conn.request("DELETE", args.container, ok=(404, 409))
        if resp.status != 409:
            break
        time.sleep(0.2 * (attempt + 1))  # listings can lag a moment behind the deletes
    if resp.status == 404:
        raise ClientError(f"container {args.container} not found", 404)
    if resp.status == 409:
        raise ClientError(f"container {args.container} is not empty yet; try again", 409)
    print(args.container)


def cmd_post(conn: Connection, args: argparse.Namespace) -> None:
    kind = "Object" if args.object else "Container" if args.container else "Account"
    headers = meta_headers(kind, args)
    if args.read_acl is not None:
        headers["X-Container-Read"] = args.read_acl
    if args.write_acl is not None:
        headers["X-Container-Write"] = args.write_acl
    if (args.read_acl is not None or args.write_acl is not None) and kind != "Container":
        raise ClientError("-r/-w set container ACLs: give a container and no object")
    resp = conn.request("POST", args.container, args.object, headers=headers, ok=(404,))
    if resp.status == 404:
        if kind != "Container":
            raise ClientError(f"{_describe(args.container, args.object)} not found", 404)
        conn.request("PUT", args.container, headers=headers)


def cmd_copy(conn: Connection, args: argparse.Namespace) -> None:
    headers = meta_headers("Object", args)
    if args.fresh_metadata:
        headers["X-Fresh-Metadata"] = "true"
    if args.destination and len(args.objects) > 1 and args.destination.count("/") > 1:
        raise ClientError("with several objects, --destination must be a container (/container)")
    for obj in args.objects:
        destination = args.destination or f"/{args.container}"
        if destination.count("/") == 1:  # a container: keep the object's name
            destination = f"{destination}/{obj}"
        conn.request("COPY", args.container, obj,
                     headers={**headers, "Destination": quote(destination)})
        print(f"{args.container}/{obj} copied to {destination}")
