"""``objstore``: a command-line client for any Swift v1 endpoint, like the ``swift`` CLI.

    objstore [-A URL -U USER -K KEY] stat|list|upload|download|delete|post|copy ...
    objstore tempurl METHOD TIME PATH KEY

Credentials come from the options or ``$ST_AUTH``, ``$ST_USER``, ``$ST_KEY``.
Failures print one line, ``objstore: <message>``, and exit non-zero.
"""
from __future__ import annotations

import argparse
import os
import sys

from client import commands
from client.connection import ClientError, Connection
from client.download import download_object
from client.tempurl import add_arguments as add_tempurl_arguments, cmd_tempurl
from client.units import human_size, parse_size
from client.upload import UploadOptions, ensure_container, upload_file


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _auth_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Auth options, accepted before and after the command name."""
    defaults = {"default": argparse.SUPPRESS} if suppress else {}
    parser.add_argument("-A", "--auth", help="auth v1 URL ($ST_AUTH)", **defaults)
    parser.add_argument("-U", "--user", help="account:user ($ST_USER)", **defaults)
    parser.add_argument("-K", "--key", help="key / password ($ST_KEY)", **defaults)
    parser.add_argument("--progress", action="store_true",
                        help="show a progress bar even when stderr is not a terminal",
                        **({"default": argparse.SUPPRESS} if suppress else {}))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="objstore", description="Work with a Swift v1 object store.")
    _auth_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=text, description=text)
        _auth_options(cmd, suppress=True)
        return cmd

    stat = command("stat", "show the account, a container or an object")
    stat.add_argument("container", nargs="?")
    stat.add_argument("object", nargs="?")

    listing = command("list", "list the containers of the account or the objects of a container")
    listing.add_argument("container", nargs="?")
    listing.add_argument("-p", "--prefix")
    listing.add_argument("-d", "--delimiter")
    listing.add_argument("-l", "--long", action="store_true", help="sizes, dates, types")
    listing.add_argument("--lh", action="store_true", help="like --long with human-readable sizes")

    upload = command("upload", "upload files (and directories, recursively)")
    upload.add_argument("container")
    upload.add_argument("files", nargs="+", metavar="FILE")
    upload.add_argument("--object-name", help="object name (one file only; default: its path)")
    upload.add_argument("-S", "--segment-size", type=_size, default=0, metavar="SIZE",
                        help="split files larger than SIZE (1048576, 100M, 1G) into segments")
    upload.add_argument("--use-dlo", action="store_true", help="a DLO manifest instead of an SLO")
    upload.add_argument("--segment-threads", type=int, default=10, metavar="N",
                        help="segments uploaded in parallel (default 10)")
    upload.add_argument("--leave-segments", action="store_true",
                        help="keep the old segments when overwriting a large object")
    _meta_options(upload)

    download = command("download", "download objects (all of a container if none is named)")
    download.add_argument("container")
    download.add_argument("objects", nargs="*", metavar="OBJECT")
    download.add_argument("-o", "--output", help="output file ('-' for stdout; one object only)")
    download.add_argument("-D", "--output-dir", default=".", help="directory to download into")
    download.add_argument("-p", "--prefix", help="only objects starting with this")

    delete = command("delete", "delete objects, or a container with everything in it")
    delete.add_argument("container")
    delete.add_argument("objects", nargs="*", metavar="OBJECT")
    delete.add_argument("--leave-segments", action="store_true",
                        help="do not delete the segments of large objects")
    delete.add_argument("--object-threads", type=int, default=10, metavar="N")

    post = command("post", "set metadata or ACLs (creates a missing container)")
    post.add_argument("container", nargs="?")
    post.add_argument("object", nargs="?")
    post.add_argument("-r", "--read-acl", help="container read ACL, e.g. '.r:*,.rlistings'")
    post.add_argument("-w", "--write-acl", help="container write ACL, e.g. 'test2:tester2'")
    _meta_options(post)

    copy = command("copy", "copy objects server-side")
    copy.add_argument("container")
    copy.add_argument("objects", nargs="+", metavar="OBJECT")
    copy.add_argument("-d", "--destination", help="/container or /container/object "
                                                  "(default: onto itself, to change metadata)")
    copy.add_argument("--fresh-metadata", action="store_true",
                      help="drop the source's metadata instead of keeping it")
    _meta_options(copy)

    tempurl = command("tempurl", "sign a temporary URL (no request is made)")
    add_tempurl_arguments(tempurl)
    return parser


def _meta_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-m", "--meta", action="append", metavar="KEY:VALUE", help="metadata item")
    parser.add_argument("-H", "--header", action="append", metavar="NAME:VALUE", help="extra header")


def connect(args: argparse.Namespace) -> Connection:
    return Connection(args.auth or os.environ.get("ST_AUTH", ""),
                      args.user or os.environ.get("ST_USER", ""),
                      args.key or os.environ.get("ST_KEY", ""))


def cmd_upload(conn: Connection, args: argparse.Namespace) -> None:
    files = list(_walk(args.files))
    if args.object_name and len(files) != 1:
        raise ClientError("--object-name needs exactly one file")
    options = UploadOptions(segment_size=args.segment_size, use_dlo=args.use_dlo,
                            segment_threads=args.segment_threads, progress=args.show_progress,
                            leave_segments=args.leave_segments,
                            headers=commands.meta_headers("Object", args))
    ensure_container(conn, args.container)
    for path, name in files:
        result = upload_file(conn, path, args.container, args.object_name or name, options)
        detail = ""
        if result.segments:
            detail = f" ({result.segments} segments" + (
                f", {result.skipped} already uploaded)" if result.skipped else ")")
        print(f"{result.name}{detail} {human_size(result.size)} at {result.rate / 1e6:.1f} MB/s")


def _walk(paths: list[str]):
    """(local path, object name) for each file; directories are walked."""
    for path in paths:
        if os.path.isdir(path):
            for root, _, names in os.walk(path):
                for name in sorted(names):
                    full = os.path.join(root, name)
                    yield full, os.path.normpath(full).lstrip("/")
        elif os.path.isfile(path):
            yield path, os.path.normpath(path).lstrip("/")
        else:
            raise ClientError(f"no such file: {path}")


def cmd_download(conn: Connection, args: argparse.Namespace) -> None:
    names = args.objects or [item["name"] for item in
                             conn.listing(args.container, **({"prefix": args.prefix} if args.prefix else {}))]
    if args.output and len(names) != 1:
        raise ClientError("--output needs exactly one object")
    for name in names:
        dest = args.output or local_path(args.output_dir, name)
        size = download_object(conn, args.container, name, dest, args.show_progress)
        if dest != "-":
            print(f"{name} {human_size(size)}")


def local_path(directory: str, name: str) -> str:
    """Where object ``name`` goes under ``directory``; names must not climb out of it."""
    base = os.path.abspath(directory)
    dest = os.path.abspath(os.path.join(base, name.lstrip("/")))
    if not dest.startswith(base + os.sep):
        raise ClientError(f"object name {name!r} would be saved outside {directory}; use --output")
    return dest


HANDLERS = {"stat": commands.cmd_stat, "list": commands.cmd_list, "upload": cmd_upload,
            "download": cmd_download, "delete": commands.cmd_delete, "post": commands.cmd_post,
            "copy": commands.cmd_copy}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.show_progress = args.progress or sys.stderr.isatty()
    try:
        if args.command == "tempurl":  # signs locally: no connection, no credentials
            cmd_tempurl(args)
        else:
            HANDLERS[args.command](connect(args), args)
    except ClientError as err:
        print(f"objstore: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. piped into head: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as err:
        print(f"objstore: {err.strerror or err}: {err.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("objstore: interrupted", file=sys.stderr)
        return 130
    return 0
