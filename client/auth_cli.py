"""The ``objstore-auth-*`` commands: manage accounts, users and keys through the admin API.

    objstore-auth-<command> [-A ADMIN_URL] [-U ADMIN_USER] -K ADMIN_KEY ARGS...

Each command is one call (or two) of ``client.auth_admin.AdminClient``; its
options follow Swauth's tools, so scripts written for those keep working.
A failure prints one line, ``objstore-auth-<command>: <what failed>``, and
exits 1 (2 for a usage error), never a traceback.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import Callable

from client.auth_admin import DEFAULT_ADMIN_URL, SUPER_ADMIN, AdminClient, Transport
from client.connection import ClientError


@dataclasses.dataclass(frozen=True)
class Command:
    summary: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[AdminClient, argparse.Namespace], None]


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def _account(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("account")


def _account_user(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("account")
    parser.add_argument("user")


def _suffix(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-s", "--suffix", help="storage account id suffix, for a new account "
                                               "(default: a random UUID)")


def _add_account_arguments(parser: argparse.ArgumentParser) -> None:
    _suffix(parser)
    _account(parser)


def _add_user_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--admin", action="store_true",
                        help="the user administers its account (.admin)")
    parser.add_argument("-r", "--reseller-admin", action="store_true",
                        help="the user administers every account (.reseller_admin; "
                             "super admin only)")
    parser.add_argument("-g", "--groups", metavar="GROUP,...",
                        help="more groups, e.g. 'service' for a service user whose token "
                             "goes in X-Service-Token (reseller admin)")
    parser.add_argument("--if-missing", action="store_true",
                        help="leave an existing user as it is (key, rights, tokens): "
                             "for scripts that run again and again")
    _suffix(parser)
    _account_user(parser)
    parser.add_argument("key")


def _set_key_arguments(parser: argparse.ArgumentParser) -> None:
    _account_user(parser)
    parser.add_argument("key")


def _add_s3_key_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--access-key", help="the access key to use (default: generated)")
    parser.add_argument("--secret-key", help="the secret to use (default: generated)")
    parser.add_argument("--if-missing", action="store_true",
                        help="with --access-key: leave that key as it is if the user has it "
                             "already (prints nothing)")
    _account_user(parser)


def _delete_s3_key_arguments(parser: argparse.ArgumentParser) -> None:
    _account_user(parser)
    parser.add_argument("access_key")


def _list_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-p", "--plain-text", action="store_true",
                        help="one name a line instead of JSON: accounts, an account's users, "
                             "or a user's groups")
    parser.add_argument("account", nargs="?")
    parser.add_argument("user", nargs="?")


def run_prep(client: AdminClient, args: argparse.Namespace) -> None:
    client.prep()


def run_add_account(client: AdminClient, args: argparse.Namespace) -> None:
    client.add_account(args.account, args.suffix)


def run_add_user(client: AdminClient, args: argparse.Namespace) -> None:
    groups = [g.strip() for g in args.groups.split(",") if g.strip()] \
        if args.groups is not None else None
    client.add_user(args.account, args.user, args.key, admin=args.admin,
                    reseller_admin=args.reseller_admin, groups=groups, suffix=args.suffix,
                    if_missing=args.if_missing)


def run_set_key(client: AdminClient, args: argparse.Namespace) -> None:
    client.set_key(args.account, args.user, args.key)


def run_delete_user(client: AdminClient, args: argparse.Namespace) -> None:
    client.delete_user(args.account, args.user)


def run_delete_account(client: AdminClient, args: argparse.Namespace) -> None:
    client.delete_account(args.account)


def run_list(client: AdminClient, args: argparse.Namespace) -> None:
    if args.user:
        found, names = client.get_user(args.account, args.user), "groups"
    elif args.account:
        found, names = client.get_account(args.account), "users"
    else:
        found, names = client.list_accounts(), "accounts"
    if not args.plain_text:
        print(json.dumps(found))
        return
    for item in found.get(names, []):
        print(item.get("name", "") if isinstance(item, dict) else item)


def run_add_s3_key(client: AdminClient, args: argparse.Namespace) -> None:
    if args.if_missing and not args.access_key:
        raise ClientError("--if-missing needs --access-key")
    pair = client.add_s3_key(args.account, args.user, args.access_key, args.secret_key,
                             if_missing=args.if_missing)
    if pair is None:
        return
    # the lines of an ~/.aws/credentials profile; the secret is never shown again
    print(f"aws_access_key_id = {pair.get('access_key', '')}")
    print(f"aws_secret_access_key = {pair.get('secret_key', '')}")


def run_list_s3_keys(client: AdminClient, args: argparse.Namespace) -> None:
    for item in client.list_s3_keys(args.account, args.user).get("s3_keys", []):
        print(item.get("access_key", "") if isinstance(item, dict) else item)


def run_delete_s3_key(client: AdminClient, args: argparse.Namespace) -> None:
    client.delete_s3_key(args.account, args.user, args.access_key)


def run_cleanup_tokens(client: AdminClient, args: argparse.Namespace) -> None:
    counts = client.cleanup_tokens()
    print(f"checked {counts.get('checked', 0)} tokens, removed {counts.get('removed', 0)} "
          "expired")
    if counts.get("failed"):
        raise ClientError(f"{counts['failed']} token containers could not be read; run it again")


COMMANDS: dict[str, Command] = {
    "prep": Command("prepare the auth store in the cluster (once per cluster; super admin)",
                    _no_arguments, run_prep),
    "add-account": Command("create an account (202, nothing changed, if it exists)",
                           _add_account_arguments, run_add_account),
    "add-user": Command("create a user, or replace its key and rights; creates a missing account",
                        _add_user_arguments, run_add_user),
    "set-key": Command("give a user a new key, keeping its rights (its tokens are revoked)",
                       _set_key_arguments, run_set_key),
    "delete-user": Command("delete a user (its tokens are revoked)", _account_user,
                           run_delete_user),
    "delete-account": Command("delete an account that has no users left", _account,
                              run_delete_account),
    "list": Command("list the accounts, an account's users and id, or a user's groups (JSON)",
                    _list_arguments, run_list),
    "add-s3-key": Command("make an S3 access key and secret for a user (the secret is shown once)",
                          _add_s3_key_arguments, run_add_s3_key),
    "list-s3-keys": Command("list a user's S3 access keys (never the secrets)", _account_user,
                            run_list_s3_keys),
    "delete-s3-key": Command("delete one of a user's S3 access keys", _delete_s3_key_arguments,
                             run_delete_s3_key),
    "cleanup-tokens": Command("remove the expired tokens from the store now (super admin)",
                              _no_arguments, run_cleanup_tokens),
}


def build_parser(command: str) -> argparse.ArgumentParser:
    spec = COMMANDS[command]
    parser = argparse.ArgumentParser(prog=f"objstore-auth-{command}", description=spec.summary)
    parser.add_argument("-A", "--admin-url", default=DEFAULT_ADMIN_URL,
                        help=f"the proxy's auth URL (default {DEFAULT_ADMIN_URL}; "
                             ".../auth/v1.0 works too)")
    parser.add_argument("-U", "--admin-user", default=SUPER_ADMIN,
                        help=f"who acts: {SUPER_ADMIN} (default), a reseller admin or an "
                             "account admin (account:user)")
    parser.add_argument("-K", "--admin-key", required=True,
                        help=f"that user's key ({SUPER_ADMIN}: the proxy's super_admin_key)")
    spec.arguments(parser)
    return parser


def main(command: str, argv: list[str] | None = None, transport: Transport | None = None) -> int:
    args = build_parser(command).parse_args(argv)
    try:
        client = AdminClient(args.admin_url, args.admin_user, args.admin_key, transport)
        COMMANDS[command].run(client, args)
    except ClientError as err:
        print(f"objstore-auth-{command}: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. a listing piped into head: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except KeyboardInterrupt:
        print(f"objstore-auth-{command}: interrupted", file=sys.stderr)
        return 130
    return 0
