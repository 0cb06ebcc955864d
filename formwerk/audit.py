"""The audit log: who viewed or changed which case, and when; tamper-evident.

Append-only table ``audit_log`` in the case store's database (SQLite or
PostgreSQL). Entry *n* stores the SHA-256 of entry *n-1* (``prev_hash``)
and its own hash over its content and that link, so editing or removing
any entry breaks the chain from there on; ``formwerk audit verify`` finds
the first broken entry. ``seq`` is 1, 2, 3, ... with no gaps (a unique
primary key: two writers racing for the same number retry, so the chain
never forks). Removing entries at the *end* leaves a valid shorter chain:
keep the head hash ``verify`` prints somewhere else to detect that too.

Entries never carry applicant values: ``detail`` holds ids, page numbers,
field *names* and the like.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

GENESIS = "0" * 64

metadata = MetaData()

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False, index=True),  # ISO 8601 UTC, hashed as stored
    Column("actor", String(200), nullable=False),  # user name, "cli:<os user>", "token:<name>"
    Column("action", String(100), nullable=False),  # e.g. case.view, case.page_image, case.decision
    Column("case_id", String(200), index=True),
    Column("detail", Text, nullable=False),  # canonical JSON object
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)


def _canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(seq: int, at: str, actor: str, action: str, case_id: str | None, detail: str,
               prev_hash: str) -> str:
    body = _canonical([seq, at, actor, action, case_id, detail, prev_hash])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    case_id: str | None
    detail: dict
    prev_hash: str
    hash: str


@dataclass
class Verification:
    ok: bool
    count: int
    head: str  # hash of the last entry (GENESIS when empty)
    problems: list[str] = field(default_factory=list)
    first_broken: int | None = None  # seq of the first entry that does not check out


def _entry(row) -> AuditEntry:
    try:
        detail = json.loads(row["detail"])
    except ValueError:
        detail = {"unreadable": row["detail"]}
    return AuditEntry(seq=row["seq"], at=row["at"], actor=row["actor"], action=row["action"],
                      case_id=row["case_id"], detail=detail, prev_hash=row["prev_hash"], hash=row["hash"])


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        from formwerk.db import create_tables

        create_tables(engine, metadata)  # other processes may be creating them right now
        self._lock = threading.Lock()  # in-process writers queue here; other processes retry

    @classmethod
    def from_url(cls, url: str) -> "AuditLog":
        from formwerk.db import make_engine

        return cls(make_engine(url))

    def record(self, actor: str, action: str, case_id: str | None = None, **detail: Any) -> AuditEntry:
        """Append one entry (idempotent only by being cheap: call it once per event)."""
        at = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        detail_json = _canonical(detail)
        with self._lock:
            for _ in range(50):
                with self.engine.connect() as conn:
                    last = conn.execute(select(audit_log.c.seq, audit_log.c.hash)
                                        .order_by(audit_log.c.seq.desc()).limit(1)).first()
                seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
                digest = entry_hash(seq, at, actor, action, case_id, detail_json, prev)
                try:
                    with self.engine.begin() as conn:
                        conn.execute(audit_log.insert().values(
                            seq=seq, at=at, actor=actor, action=action, case_id=case_id,
                            detail=detail_json, prev_hash=prev, hash=digest))
                except IntegrityError:  # another process took this number: link to its entry
                    continue
                return AuditEntry(seq, at, actor, action, case_id, detail, prev, digest)
        raise RuntimeError("audit log: could not append after 50 attempts (contention)")

    def entries(self, case_id: str | None = None, limit: int | None = None,
                newest_first: bool = False) -> list[AuditEntry]:
        query = select(audit_log)
        if case_id is not None:
            query = query.where(audit_log.c.case_id == case_id)
        query = query.order_by(audit_log.c.seq.desc() if newest_first else audit_log.c.seq)
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(query).mappings()]

    def verify(self) -> Verification:
        """Walk the chain from the first entry; name the first one that does not check out."""
        problems: list[str] = []
        first_broken: int | None = None
        prev_hash, expected_seq, count = GENESIS, 1, 0

        def broken(seq: int, message: str) -> None:
            nonlocal first_broken
            if first_broken is None:
                first_broken = seq
            problems.append(message)

        with self.engine.connect() as conn:
            for row in conn.execute(select(audit_log).order_by(audit_log.c.seq)).mappings():
                count += 1
                seq = row["seq"]
                what = f"entry {seq} ({row['at']}, {row['actor']}, {row['action']}, case {row['case_id'] or '-'})"
                if seq != expected_seq:
                    missing = (f"entry {expected_seq}" if seq == expected_seq + 1
                               else f"entries {expected_seq}–{seq - 1}")
                    broken(expected_seq, f"{missing} removed (the log jumps from {expected_seq - 1} to {seq})")
                recomputed = entry_hash(seq, row["at"], row["actor"], row["action"], row["case_id"],
                                        row["detail"], row["prev_hash"])
                if recomputed != row["hash"]:
                    broken(seq, f"{what}: its content does not match its hash (edited)")
                elif row["prev_hash"] != prev_hash and seq == expected_seq:
                    broken(seq, f"{what}: does not link to entry {seq - 1} (that entry was edited or replaced)")
                prev_hash, expected_seq = row["hash"], seq + 1
        return Verification(ok=not problems, count=count, head=prev_hash, problems=problems,
                            first_broken=first_broken)
