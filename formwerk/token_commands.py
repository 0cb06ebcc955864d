"""``formwerk token ...`` and ``formwerk webhook ...``: access for back-office systems (see formwerk.cli).

    formwerk token create NAME --scope cases:submit --scope cases:read [--webhook SUBSCRIBER]
    formwerk token list
    formwerk token revoke ID|NAME

    formwerk webhook add NAME --url https://fv.example/hook [--event case.completed ...]
    formwerk webhook rotate NAME          a new signing secret (the old one signs for a day more)
    formwerk webhook set NAME [--url URL] [--event ...]
    formwerk webhook list | remove NAME

A token is printed once, when it is created; the database keeps only its
hash. A subscriber's secret is printed when it is added or rotated.
"""

from __future__ import annotations

import argparse
import sys

from formwerk.models import WEBHOOK_EVENTS
from formwerk.settings import Settings
from formwerk.tokens import SCOPES, TokenError, TokenStore


def add_parsers(sub) -> None:
    t = sub.add_parser("token", help="API tokens for back-office systems (create, list, revoke)")
    tsub = t.add_subparsers(dest="token_command", required=True)
    c = tsub.add_parser("create", help="create a token (printed once)")
    c.add_argument("name", help="who uses it, e.g. the back-office system's name")
    c.add_argument("--scope", action="append", choices=SCOPES, required=True,
                   help="repeat for several scopes")
    c.add_argument("--webhook", metavar="SUBSCRIBER", help="its cases report to this webhook subscriber")
    tsub.add_parser("list", help="list tokens (never their secret)")
    r = tsub.add_parser("revoke", help="revoke a token at once")
    r.add_argument("token", help="its id or name")

    w = sub.add_parser("webhook", help="webhook subscribers and their signing secrets")
    wsub = w.add_subparsers(dest="webhook_command", required=True)
    a = wsub.add_parser("add", help="add a subscriber (prints its secret)")
    a.add_argument("name")
    a.add_argument("--url", required=True, help="callback URL; cases may only name URLs on its origin")
    a.add_argument("--event", action="append", choices=WEBHOOK_EVENTS,
                   help="repeat; default case.completed and case.rejected")
    ro = wsub.add_parser("rotate", help="a new secret (the previous one keeps signing for a day)")
    ro.add_argument("name")
    s = wsub.add_parser("set", help="change URL or events")
    s.add_argument("name")
    s.add_argument("--url")
    s.add_argument("--event", action="append", choices=WEBHOOK_EVENTS)
    wsub.add_parser("list", help="list subscribers (never their secret)")
    rm = wsub.add_parser("remove", help="remove a subscriber (its pending deliveries fail)")
    rm.add_argument("name")


def _engine(settings: Settings):
    from formwerk.db import make_engine

    if not settings.database_url:
        settings.ensure_dirs()
    return make_engine(settings.sqlalchemy_url)


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


async def token(settings: Settings, args: argparse.Namespace) -> int:
    from formwerk.webhooks import SubscriberStore

    engine = _engine(settings)
    store = TokenStore(engine)
    try:
        if args.token_command == "create":
            if args.webhook and SubscriberStore(engine).get(args.webhook) is None:
                raise TokenError(f"No webhook subscriber {args.webhook!r} (add it with `formwerk webhook add`).")
            created, plain = store.create(args.name, args.scope, subscriber=args.webhook)
            print(plain)
            _err(f"token {created.id} ({created.name}: {' '.join(sorted(created.scopes))}) created. "
                 "It is shown only now: store it in the back-office system's secret store.")
        elif args.token_command == "list":
            tokens = store.list()
            if not tokens:
                print("No token yet: `formwerk token create NAME --scope cases:submit --scope cases:read`")
                return 0
            rows = [["ID", "NAME", "SCOPES", "WEBHOOK", "CREATED", "LAST USED", "STATE"]]
            rows += [[t.id, t.name, ",".join(sorted(t.scopes)), t.subscriber or "-", _when(t.created_at),
                      _when(t.last_used_at), "active" if t.active else f"revoked {_when(t.revoked_at)}"]
                     for t in tokens]
            print(_table(rows))
        elif args.token_command == "revoke":
            revoked = store.revoke(args.token)
            print(f"revoked token {revoked.id} ({revoked.name})")
    except TokenError as exc:
        _err(f"error: {exc}")
        return 1
    return 0


async def webhook(settings: Settings, args: argparse.Namespace) -> int:
    from formwerk.webhooks import SubscriberStore, WebhookConfigError

    store = SubscriberStore(_engine(settings))
    cmd = args.webhook_command
    try:
        if cmd == "add":
            sub = store.add(args.name, args.url, args.event)
            print(sub.secret)
            _err(f"subscriber {sub.name} → {sub.url} ({' '.join(sub.events)}). The signing secret above is "
                 "shown only now (`formwerk webhook rotate` makes a new one). Bind tokens to it with "
                 f"`formwerk token create NAME --scope ... --webhook {sub.name}`.")
        elif cmd == "rotate":
            sub = store.rotate(args.name)
            print(sub.secret)
            _err(f"new secret for {sub.name}; the previous one keeps signing (second signature) for a day.")
        elif cmd == "set":
            sub = store.update(args.name, args.url, args.event)
            print(f"{sub.name} → {sub.url} ({' '.join(sub.events)})")
        elif cmd == "list":
            subs = store.list()
            if not subs:
                print("No webhook subscriber yet: `formwerk webhook add NAME --url URL`")
                return 0
            rows = [["NAME", "URL", "EVENTS", "SECRET ROTATED"]]
            rows += [[s.name, s.url, ",".join(s.events), _when(s.rotated_at)] for s in subs]
            print(_table(rows))
        elif cmd == "remove":
            store.remove(args.name)
            print(f"removed subscriber {args.name}")
    except WebhookConfigError as exc:
        _err(f"error: {exc}")
        return 1
    return 0
