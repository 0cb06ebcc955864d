"""``formwerk retention ...``: the retention purge for operators (see formwerk.cli for the parser).

    formwerk retention run [--now ISO] [--dry-run] [--json]
        delete what is due now (or at ``--now``): originals, page images and OCR
        contents, then extracted values; ``--dry-run`` lists what would go
    formwerk retention policy          the periods per document type

The worker runs the same purge daily (Temporal schedule ``formwerk-retention``);
this command runs it at once, in this process, without Temporal.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone

from formwerk.settings import Settings


def add_parser(sub):
    r = sub.add_parser("retention", help="delete originals and data of closed cases after their periods")
    rsub = r.add_subparsers(dest="retention_command", required=True)
    run = rsub.add_parser("run", help="purge what is due (idempotent)")
    run.add_argument("--now", help="ISO 8601 time to purge as of (default: now; without zone: UTC)")
    run.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    run.add_argument("--json", action="store_true", help="the report as one JSON object")
    rsub.add_parser("policy", help="the retention periods per document type")
    return r


def _parse_now(text: str | None) -> datetime:
    if not text:
        return datetime.now(timezone.utc)
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


async def retention(settings: Settings, args) -> int:
    from formwerk.retention import RetentionPolicies

    try:
        policies = RetentionPolicies.from_settings(settings)
    except ValueError as exc:
        print(f"formwerk retention: {exc}", file=sys.stderr)
        return 2
    if args.retention_command == "policy":
        print(f"{'type':<28} {'originals (days)':>17} {'data (days)':>12}")
        print(f"{'(default)':<28} {policies.default.originals_days:>17} {policies.default.data_days:>12}")
        for type_id, p in sorted(policies.by_type.items()):
            print(f"{type_id:<28} {p.originals_days:>17} {p.data_days:>12}")
        return 0
    try:
        now = _parse_now(args.now)
    except ValueError:
        print(f"formwerk retention run: --now {args.now!r} is not an ISO 8601 time", file=sys.stderr)
        return 2
    report = run_purge(settings, policies, now, args.dry_run)
    if args.json:
        print(report.model_dump_json())
        return 0
    verb = "would purge" if report.dry_run else "purged"
    for c in report.cases:
        what = "+".join(c.parts) or "-"
        note = f"  deferred: {c.deferred}" if c.deferred else ""
        print(f"{c.case_id}  {c.document_type or '-'}  {c.status}  closed {c.closed_at:%Y-%m-%d}  "
              f"{what}  blobs {'to delete' if report.dry_run else 'deleted'} {c.blobs_deleted}, "
              f"kept (shared) {c.blobs_kept}{note}")
    print(f"{verb} {sum(1 for c in report.cases if c.parts)} case(s) as of {now.isoformat()}, "
          f"{report.blobs_deleted} blob(s)")
    return 0


def run_purge(settings: Settings, policies, now: datetime, dry_run: bool):
    from formwerk.audit import AuditLog
    from formwerk.db import CaseStore
    from formwerk.retention import purge_expired
    from formwerk.storage import BlobStore

    settings.ensure_dirs()
    cases = CaseStore.from_url(settings.sqlalchemy_url)
    return purge_expired(cases, BlobStore.from_settings(settings), AuditLog(cases.engine), policies, now,
                         dry_run=dry_run)
