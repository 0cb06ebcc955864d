"""``formwerk audit ...``: read and check the audit log (see formwerk.cli for the parser).

    formwerk audit verify             check the hash chain; exit 1 naming the first broken entry
    formwerk audit list [--case ID] [--limit N]   the newest entries
"""

from __future__ import annotations

import json
import sys

from formwerk.settings import Settings


def add_parser(sub):
    a = sub.add_parser("audit", help="the audit log: verify its hash chain, list entries")
    asub = a.add_subparsers(dest="audit_command", required=True)
    asub.add_parser("verify", help="check that no entry was edited or removed (exit 1 if one was)")
    ls = asub.add_parser("list", help="the newest entries, one JSON object a line")
    ls.add_argument("--case", dest="case_id", help="only this case")
    ls.add_argument("--limit", type=int, default=50)
    return a


def _log(settings: Settings):
    from formwerk.audit import AuditLog

    if not settings.database_url:
        settings.ensure_dirs()
    return AuditLog.from_url(settings.sqlalchemy_url)


async def audit(settings: Settings, args) -> int:
    log = _log(settings)
    if args.audit_command == "verify":
        result = log.verify()
        if result.ok:
            print(f"audit log intact: {result.count} entries, head {result.head}")
            return 0
        print(f"audit log BROKEN at entry {result.first_broken}: {result.problems[0]}", file=sys.stderr)
        for problem in result.problems[1:10]:
            print(f"  also: {problem}", file=sys.stderr)
        if len(result.problems) > 10:
            print(f"  ... and {len(result.problems) - 10} more", file=sys.stderr)
        return 1
    for e in log.entries(case_id=args.case_id, limit=args.limit, newest_first=True):
        print(json.dumps({"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action,
                          "case_id": e.case_id, "detail": e.detail}, ensure_ascii=False))
    return 0
