"""``formwerk user ...``: manage the web app's users (see formwerk.cli for the parser).

    formwerk user add NAME [--role clerk|supervisor|admin] [--display-name "Anna Berg"]
                           [--language de|en] [--password-stdin]
    formwerk user passwd NAME [--password-stdin]
    formwerk user disable NAME
    formwerk user enable NAME
    formwerk user list
"""

from __future__ import annotations

import argparse
import getpass
import sys

from formwerk.settings import Settings
from formwerk.users import LANGUAGES, Role, UnknownUser, UserExists, UserStore


def no_users_hint() -> str:
    return "No user yet: create one with `formwerk user add NAME --role admin`"


def add_parser(sub) -> argparse.ArgumentParser:
    """Register the ``user`` command group on the CLI's subparsers."""
    u = sub.add_parser("user", help="manage the web app's users (add, passwd, disable, enable, list)")
    usub = u.add_subparsers(dest="user_command", required=True)

    a = usub.add_parser("add", help="create a user")
    a.add_argument("name")
    a.add_argument("--role", choices=[r.value for r in Role], default=Role.CLERK.value)
    a.add_argument("--display-name", default="", help='shown in the web app, e.g. "Anna Berg"')
    a.add_argument("--language", choices=list(LANGUAGES), default="de")
    a.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of stdin instead of prompting")

    p = usub.add_parser("passwd", help="set a user's password (ends their sessions)")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of stdin instead of prompting")

    d = usub.add_parser("disable", help="disable a user (ends their sessions)")
    d.add_argument("name")
    e = usub.add_parser("enable", help="enable a disabled user")
    e.add_argument("name")
    usub.add_parser("list", help="list all users")
    return u


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _read_password(args) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise ValueError("no password on stdin")
        return line.rstrip("\r\n")
    first = getpass.getpass("Password: ")
    second = getpass.getpass("Repeat password: ")
    if first != second:
        raise ValueError("the passwords do not match")
    return first


def _store(settings: Settings) -> UserStore:
    if not settings.database_url:
        settings.ensure_dirs()  # the SQLite file lives in the data directory
    return UserStore.from_url(settings.sqlalchemy_url)


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


async def user(settings: Settings, args) -> int:
    try:
        store = _store(settings)
        cmd = args.user_command
        if cmd == "add":
            # check before prompting: no point typing a password twice for nothing
            if store.get(args.name) is not None:
                raise UserExists(f"user {args.name!r} exists already")
            from formwerk.users import validate_username

            validate_username(args.name)
            created = store.add(args.name, _read_password(args), role=args.role,
                                display_name=args.display_name, language=args.language)
            print(f"added user {created.username} ({created.role.value})")
        elif cmd == "passwd":
            if store.get(args.name) is None:
                raise UnknownUser(f"no user {args.name!r}")
            changed = store.set_password(args.name, _read_password(args))
            print(f"password of {changed.username} changed; their sessions have ended")
        elif cmd == "disable":
            changed = store.disable(args.name)
            print(f"disabled {changed.username}; their sessions have ended")
        elif cmd == "enable":
            changed = store.enable(args.name)
            print(f"enabled {changed.username}")
        elif cmd == "list":
            all_users = store.list()
            if not all_users:
                print(no_users_hint())
                return 0
            rows = [["NAME", "DISPLAY NAME", "ROLE", "LANGUAGE", "ACTIVE"]]
            rows += [[u.username, u.display_name, u.role.value, u.language, "yes" if u.active else "no"]
                     for u in all_users]
            print(_table(rows))
        else:  # argparse makes this unreachable
            _err(f"unknown user command {cmd!r}")
            return 2
    except (UserExists, UnknownUser, ValueError) as exc:
        _err(f"error: {exc}")
        return 1
    return 0
