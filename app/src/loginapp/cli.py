"""Command line: ``loginapp hash-password`` and ``loginapp check-config``."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence

from argon2 import PasswordHasher

from .config import ConfigError, load_settings
from .users import load_users


def _read_password() -> str | None:
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.removesuffix("\n").removesuffix("\r")
    first = getpass.getpass("Password: ")
    second = getpass.getpass("Repeat password: ")
    if first != second:
        print("error: passwords do not match", file=sys.stderr)
        return None
    return first


def cmd_hash_password(_args: argparse.Namespace) -> int:
    password = _read_password()
    if password is None:
        return 1
    if not password:
        print("error: empty password", file=sys.stderr)
        return 1
    print(PasswordHasher().hash(password))
    return 0


def cmd_check_config(_args: argparse.Namespace) -> int:
    try:
        settings = load_settings(os.environ)
        users = load_users(settings.users_file) if settings.users_file else {}
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"config ok: {len(users)} users")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loginapp", description="loginapp admin commands")
    sub = parser.add_subparsers(dest="command", required=True)
    p_hash = sub.add_parser(
        "hash-password",
        help="print an argon2 hash of a password read from stdin or prompted for",
    )
    p_hash.set_defaults(func=cmd_hash_password)
    p_check = sub.add_parser("check-config", help="validate LOGINAPP_* environment config")
    p_check.set_defaults(func=cmd_check_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    return result
