"""The case store: SQLite by default, PostgreSQL in production (same code).

Machine output (``result``) and clerks' corrections are kept in separate
tables: machine output is never overwritten by a human edit, corrections are
the audit trail and the training data. Every write is an idempotent upsert so
activity retries are safe.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    event,
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Index,
    UniqueConstraint,
    and_,
    case,
    create_engine,
    false,
    func,
    inspect,
    literal,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from formwerk.models import CaseEvent, CaseResult, CaseStatus, Correction

metadata = MetaData()

cases = Table(
    "cases",
    metadata,
    Column("case_id", String(200), primary_key=True),
    Column("reference", String(500), nullable=False, index=True),
    Column("filename", String(500), nullable=False, default=""),
    Column("sha256", String(64), nullable=False, default=""),
    Column("status", String(32), nullable=False, index=True),
    Column("document_type", String(100)),
    Column("document_type_confidence", Float),
    Column("page_count", Integer, nullable=False, default=0),
    Column("result", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # mirrored from ``result`` on every save, for the clerks' queues (added to old databases)
    Column("claimed_by", String(200)),
    Column("claim_expires_at", DateTime(timezone=True)),
    Column("escalated", Boolean, nullable=False, server_default=false()),
    Column("due_at", DateTime(timezone=True), index=True),
    Column("routed_at", DateTime(timezone=True)),
    Column("awaiting_documents", Boolean, nullable=False, server_default=false()),
    Column("revision", Integer, nullable=False, server_default=text("0")),
    Column("reasons", Text, nullable=False, server_default=""),  # review reason codes, space separated
    Column("pending_approval_by", String(200)),  # four-eyes: who gave the first approval
    # for the dashboard's figures (formwerk.casefacts), mirrored like the queue columns
    Column("route", String(32)),  # the machine's decision: straight_through | review | rejected
    Column("finished_at", DateTime(timezone=True)),  # became completed or rejected
    Column("review_seconds", Float),  # the deciding clerk's claim to decision
    Column("escalated_at", DateTime(timezone=True)),
    Column("reason_code", String(100)),  # rejected: why
    # retention (formwerk.retention): set by the purge only, never mirrored from ``result``
    Column("purged_originals_at", DateTime(timezone=True)),
    Column("purged_data_at", DateTime(timezone=True)),
)

corrections = Table(
    "corrections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(200), nullable=False, index=True),
    Column("field", String(200), nullable=False),
    Column("machine_value", Text),
    Column("corrected_value", Text),
    Column("clerk", String(200), nullable=False, default=""),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("decision_id", String(200), nullable=False, server_default=""),
    Column("machine_confidence", Float),  # the confidence the machine gave the corrected value
    UniqueConstraint("case_id", "field", "clerk", name="uq_correction"),
)

# the dashboard's range queries (created for old databases too, by ``make_engine``): each
# leads with the column a figure's range filters on and covers every column that figure
# filters or groups by, so a 90-day range is one index range scan, never a row lookup
# (rows carry the whole ``result``)
_INDEXES = [
    Index("ix_cases_finished_cover", cases.c.finished_at, cases.c.status, cases.c.route,
          cases.c.document_type, cases.c.review_seconds, cases.c.due_at, cases.c.reason_code),
    Index("ix_cases_created_cover", cases.c.created_at, cases.c.document_type),
    Index("ix_cases_routed_cover", cases.c.routed_at, cases.c.route, cases.c.document_type),
    Index("ix_cases_escalated_cover", cases.c.escalated_at, cases.c.document_type),
    Index("ix_corrections_at_cover", corrections.c.at, corrections.c.field, corrections.c.case_id,
          corrections.c.machine_confidence),
    Index("ix_cases_review_seconds", cases.c.review_seconds),
]
# single-column indexes the covering ones above replace: dropped from old databases
_SUPERSEDED_INDEXES = ["ix_cases_finished_at", "ix_cases_created_at", "ix_cases_routed_at", "ix_corrections_at"]

# -- the REST API's tables (formwerk.tokens, formwerk.webhooks, api idempotency) --

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(32), primary_key=True),  # public part of the token: fwk_<id>_<secret>
    Column("name", String(200), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 hex of the whole token
    Column("scopes", Text, nullable=False),  # space separated
    Column("subscriber", String(200)),  # the webhook subscriber its cases report to
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

webhook_subscribers = Table(
    "webhook_subscribers",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("url", Text, nullable=False),  # default callback; callbacks must share its origin
    Column("secret", Text, nullable=False),  # whsec_<base64>: needed in clear to sign
    Column("previous_secret", Text),  # still signed with for a day after a rotation
    Column("events", Text, nullable=False),  # space separated event types
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("rotated_at", DateTime(timezone=True)),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(200), nullable=False, index=True),
    Column("webhook_id", String(100), nullable=False),
    Column("attempt", Integer, nullable=False),  # Temporal's attempt number, from 1
    Column("event", String(50), nullable=False),
    Column("url", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("status_code", Integer),
    Column("error", Text, nullable=False, server_default=""),
    Column("duration_ms", Integer, nullable=False, server_default=text("0")),
    Column("outcome", String(20), nullable=False),  # delivered | retry | failed
    UniqueConstraint("webhook_id", "attempt", name="uq_webhook_attempt"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("fingerprint", String(64), nullable=False),  # SHA-256 of what was asked
    Column("case_id", String(200)),  # None while the first request is still in flight
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# columns newer than the first schema: added to existing databases by ``make_engine``
_ADDED = {
    "cases": ["claimed_by", "claim_expires_at", "escalated", "due_at", "routed_at",
              "awaiting_documents", "revision", "reasons", "pending_approval_by",
              "route", "finished_at", "review_seconds", "escalated_at", "reason_code",
              "purged_originals_at", "purged_data_at"],
    "corrections": ["decision_id", "machine_confidence"],
}


#: libpq settings against a network that drops packets without a reset (a failover, a firewall
#: forgetting the connection): without them a thread waits in commit() for the kernel's default
#: of about 15 minutes and holds its activity slot; with them the call fails within about 30 s
#: and Temporal retries the activity on a new connection
POSTGRES_CONNECT_ARGS = {
    "connect_timeout": 10,
    "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
    "tcp_user_timeout": 30_000,  # ms: unacknowledged data (a commit sent into the void)
}


def _sqlite_wal(dbapi_connection, _record) -> None:
    """Write-ahead log: a commit is one fsync of the log instead of the journal and the file
    (``synchronous`` stays FULL: a committed save survives a power cut), and the API's reads
    no longer wait for a worker's write."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        cursor.close()


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {"future": True}
    sqlite_file = url.startswith("sqlite") and ":memory:" not in url and url.rstrip("/") != "sqlite:"
    if url.startswith("sqlite"):
        # worker threads share the engine; SQLite serialises writes itself. No ping before each
        # use: a file has no connection to lose
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
        if url.startswith("postgresql"):
            kwargs["connect_args"] = POSTGRES_CONNECT_ARGS
    engine = create_engine(url, **kwargs)
    if sqlite_file:
        event.listen(engine, "connect", _sqlite_wal)
    create_tables(engine, metadata)
    _add_missing_columns(engine)
    for index in _INDEXES:
        try:
            index.create(engine, checkfirst=True)
        except (OperationalError, ProgrammingError) as exc:  # created meanwhile by another process
            if "already exists" not in str(exc).lower():
                raise
    with engine.begin() as conn:
        for name in _SUPERSEDED_INDEXES:
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    return engine


def create_tables(engine: Engine, tables: MetaData, attempts: int = 10) -> None:
    """``tables.create_all``, safe when several processes start on a fresh database at once
    (the case store's tables here; the audit log's and the users' in their modules).

    Each process checks which tables exist, then creates the missing ones; a
    second process doing the same in between fails with "already exists"
    (SQLite, PostgreSQL) or a duplicate key in PostgreSQL's catalogue. Seen
    when an API and two workers started together: one worker died at start.
    Another pass then finds the tables there and creates only what is left.
    """
    for attempt in range(attempts):
        try:
            tables.create_all(engine)
            return
        except (OperationalError, ProgrammingError, IntegrityError) as exc:
            text_ = str(exc).lower()
            if attempt == attempts - 1 or not ("already exists" in text_ or "duplicate key" in text_):
                raise
            time.sleep(0.05 * (attempt + 1))


def _add_missing_columns(engine: Engine) -> None:
    """ALTER TABLE ... ADD COLUMN for columns a database created by older code lacks.

    Safe when several processes start at once (PostgreSQL: ``IF NOT EXISTS``,
    SQLite: a duplicate column is ignored). The mirrored columns of rows that
    existed before are filled in from their stored result.
    """
    dialect = engine.dialect
    inspector = inspect(engine)
    added_case_columns = False
    for table_name, names in _ADDED.items():
        table = metadata.tables[table_name]
        present = {c["name"] for c in inspector.get_columns(table_name)}
        for name in names:
            if name in present:
                continue
            col = table.c[name]
            ddl = f"ALTER TABLE {table_name} ADD COLUMN "
            if dialect.name == "postgresql":
                ddl += "IF NOT EXISTS "
            ddl += f"{name} {col.type.compile(dialect=dialect)}"
            if col.server_default is not None:
                default = col.server_default.arg
                default = default if isinstance(default, str) else str(default.compile(dialect=dialect))
                ddl += f" DEFAULT {default if default.strip() else repr(default)}"
                if not col.nullable:
                    ddl += " NOT NULL"
            try:
                with engine.begin() as conn:
                    conn.execute(text(ddl))
            except (OperationalError, ProgrammingError) as exc:
                if "duplicate column" not in str(exc).lower():
                    raise
            if table_name == "cases":
                added_case_columns = True
    if added_case_columns:
        with engine.begin() as conn:
            rows = conn.execute(select(cases.c.case_id, cases.c.result)).all()
            for case_id, payload in rows:
                try:
                    mirrored = _mirrored(CaseResult.model_validate(payload))
                except Exception:  # a row the current model cannot read: leave it as it is
                    continue
                conn.execute(cases.update().where(cases.c.case_id == case_id).values(**mirrored))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _utc(value: datetime | None) -> datetime | None:
    """Aware UTC (naive values are taken as UTC): SQLite compares the stored text."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _mirrored(result: CaseResult) -> dict[str, Any]:
    """The columns copied from the result for the queues and the dashboard's figures."""
    from formwerk import casefacts

    return {
        "route": casefacts.route(result),
        "finished_at": _utc(casefacts.finished_at(result)),
        "review_seconds": casefacts.review_seconds(result),
        "escalated_at": _utc(casefacts.escalated_at(result)),
        "reason_code": (result.reason_code
                        if result.status in (CaseStatus.REJECTED, CaseStatus.FAILED) else None),
        "claimed_by": result.claimed_by,
        "claim_expires_at": _utc(result.claim_expires_at),
        "escalated": bool(result.escalated),
        "due_at": _utc(result.due_at),
        "routed_at": _utc(result.routed_at),
        "awaiting_documents": bool(result.awaiting_documents),
        "revision": result.revision,
        "reasons": " ".join(result.review_reasons),
        "pending_approval_by": result.pending_approval.clerk if result.pending_approval else None,
    }


def _not_purged():
    """Rows the retention purge has not touched (their stored result is final)."""
    return and_(cases.c.purged_originals_at.is_(None), cases.c.purged_data_at.is_(None))


@dataclass(frozen=True)
class RetentionRow:
    """A closed case as the retention purge sees it (no applicant data)."""

    case_id: str
    document_type: str | None
    status: str
    closed_at: datetime  # finished_at; for failed cases the last change
    purged_originals_at: datetime | None
    purged_data_at: datetime | None


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass
class QueueFilter:
    """What a clerk's queue shows (cases waiting for review)."""

    document_type: str | None = None
    reason: str | None = None  # a reason kind ("low_confidence") or a full code ("low_confidence:birth_date")
    escalated: bool | None = None
    claimed_by: str | None = None  # a user name; "" for unclaimed cases
    sort: str = "due"  # "due" | "age" | "type"
    descending: bool = False
    page: int = 1
    per_page: int = 25


class CaseStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> "CaseStore":
        return cls(make_engine(url))

    def save_result(self, result: CaseResult) -> bool:
        """Upsert the case's row; never replaces a stored row of a higher revision.

        Saves of one case may arrive out of order (activities run in
        parallel, retries): an older revision is ignored. Returns whether the
        row was written.
        """
        payload = json.loads(result.model_dump_json())
        row = {
            "reference": result.reference,
            "filename": result.file,
            "sha256": result.sha256,
            "status": result.status.value,
            "document_type": result.document_type,
            "document_type_confidence": result.document_type_confidence,
            "page_count": result.page_count,
            "result": payload,
            "updated_at": _now(),
            **_mirrored(result),
        }
        newer_or_same = ((cases.c.case_id == result.case_id) & (cases.c.revision <= result.revision)
                         & _not_purged())  # a late save must not bring purged data back
        for _ in range(3):
            with self.engine.begin() as conn:
                # one conditional statement: no window between reading and writing the revision
                if conn.execute(cases.update().where(newer_or_same).values(**row)).rowcount:
                    return True
                if conn.execute(select(cases.c.case_id).where(cases.c.case_id == result.case_id)).first():
                    return False  # the stored row is newer
            try:
                with self.engine.begin() as conn:
                    conn.execute(cases.insert().values(case_id=result.case_id, created_at=_now(), **row))
                return True
            except IntegrityError:  # inserted meanwhile by a parallel save: compare again
                continue
        return False

    def get(self, case_id: str) -> CaseResult | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(cases.c.result).where(cases.c.case_id == case_id)).first()
        return CaseResult.model_validate(row[0]) if row else None

    def list(self, status: CaseStatus | None = None, limit: int = 100) -> list[CaseResult]:
        query = select(cases.c.result).order_by(cases.c.created_at).limit(limit)
        if status is not None:
            query = query.where(cases.c.status == status.value)
        with self.engine.connect() as conn:
            return [CaseResult.model_validate(r[0]) for r in conn.execute(query)]

    def page(self, *, status: str | None = None, document_type: str | None = None,
             updated_since: datetime | None = None, after: tuple[datetime, str] | None = None,
             limit: int = 50) -> list[tuple[CaseResult, datetime]]:
        """Cases in the order they last changed (oldest first), for the API's cursor pages.

        ``after`` is the (updated_at, case_id) of the last row of the previous
        page: a caller syncing "everything updated since" never misses a row
        and never sees one twice unless it changed again.
        """
        conditions = []
        if status:
            conditions.append(cases.c.status == status)
        if document_type:
            conditions.append(cases.c.document_type == document_type)
        if updated_since is not None:
            conditions.append(cases.c.updated_at >= _utc(updated_since))
        if after is not None:
            at, case_id = _utc(after[0]), after[1]
            conditions.append(or_(cases.c.updated_at > at,
                                  and_(cases.c.updated_at == at, cases.c.case_id > case_id)))
        query = (select(cases.c.result, cases.c.updated_at).where(and_(true(), *conditions))
                 .order_by(cases.c.updated_at.asc(), cases.c.case_id.asc())
                 .limit(max(1, min(int(limit), 500))))
        with self.engine.connect() as conn:
            return [(CaseResult.model_validate(r[0]), _utc(r[1])) for r in conn.execute(query)]

    def cases_citing(self, values: list[str], limit: int = 10) -> list[tuple[str, str]]:
        """(case_id, reference) of the cases whose ``reference`` or ``case_id`` is exactly one of ``values``.

        For linking a letter to the case it cites (``extractors.letters``): exact
        comparison only, at most ``limit`` rows (more than one is ambiguous anyway).
        """
        wanted = sorted({v for v in values if v and len(v) <= 500})[:200]
        if not wanted:
            return []
        query = (select(cases.c.case_id, cases.c.reference)
                 .where(or_(cases.c.reference.in_(wanted), cases.c.case_id.in_(wanted)))
                 .order_by(cases.c.case_id).limit(max(1, int(limit))))
        with self.engine.connect() as conn:
            return [(r[0], r[1]) for r in conn.execute(query)]

    def count_by_status(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(cases.c.status, func.count()).group_by(cases.c.status))
            return {status: n for status, n in rows}

    def status_of(self, case_id: str) -> str | None:
        """The stored status of a case (None: not stored yet); a light read for metrics."""
        with self.engine.connect() as conn:
            return conn.execute(select(cases.c.status).where(cases.c.case_id == case_id)).scalar()

    def save_corrections(self, case_id: str, items: list[Correction]) -> None:
        with self.engine.begin() as conn:
            stored = conn.execute(select(cases.c.result).where(cases.c.case_id == case_id)).scalar()
            fields = (stored or {}).get("fields") or {}
            for c in items:
                conn.execute(
                    corrections.delete().where(
                        (corrections.c.case_id == case_id)
                        & (corrections.c.field == c.field)
                        & (corrections.c.clerk == c.clerk)
                    )
                )
                conn.execute(
                    corrections.insert().values(
                        case_id=case_id,
                        field=c.field,
                        machine_value=json.dumps(c.machine_value, ensure_ascii=False),
                        corrected_value=json.dumps(c.corrected_value, ensure_ascii=False),
                        clerk=c.clerk,
                        at=c.at or _now(),
                        decision_id=c.decision_id,
                        machine_confidence=(fields.get(c.field) or {}).get("confidence"),
                    )
                )

    def reclassifications(self) -> list[tuple[CaseResult, str]]:
        """(case, the type a clerk gave it) for every reclassified case: training data."""
        from formwerk.models import RECLASSIFICATION

        query = (
            select(cases.c.result, corrections.c.corrected_value)
            .join(corrections, corrections.c.case_id == cases.c.case_id)
            .where(corrections.c.field == RECLASSIFICATION)
            .order_by(corrections.c.id)
        )
        with self.engine.connect() as conn:
            return [(CaseResult.model_validate(r[0]), json.loads(r[1])) for r in conn.execute(query)]

    def corrections_for(self, case_id: str) -> list[Correction]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(corrections).where(corrections.c.case_id == case_id).order_by(corrections.c.id)
            ).mappings()
            return [
                Correction(
                    field=r["field"],
                    machine_value=json.loads(r["machine_value"]) if r["machine_value"] else None,
                    corrected_value=json.loads(r["corrected_value"]) if r["corrected_value"] else None,
                    clerk=r["clerk"],
                    at=r["at"],
                    decision_id=r["decision_id"] or "",
                )
                for r in rows
            ]

    # -- clerks' queues ------------------------------------------------------

    @staticmethod
    def _reviewable():
        """Cases a clerk can decide: waiting for review, not a batch (its documents are cases)."""
        return and_(cases.c.status == CaseStatus.NEEDS_REVIEW.value,
                    or_(cases.c.document_type.is_(None), cases.c.document_type != "batch"))

    def review_queue(self, flt: QueueFilter) -> tuple[list[CaseResult], int]:
        """One page of the review queue and the number of cases matching the filter."""
        conditions = [self._reviewable()]
        if flt.document_type:
            conditions.append(cases.c.document_type == flt.document_type)
        if flt.reason:
            padded = literal(" ").concat(cases.c.reasons).concat(literal(" "))
            code = _like_escape(flt.reason)
            if ":" in flt.reason:  # a full code
                conditions.append(padded.like(f"% {code} %", escape="\\"))
            else:  # a kind: "kind" alone or "kind:<anything>"
                conditions.append(or_(padded.like(f"% {code} %", escape="\\"),
                                      padded.like(f"% {code}:%", escape="\\")))
        if flt.escalated is not None:
            conditions.append(cases.c.escalated == bool(flt.escalated))
        if flt.claimed_by is not None:
            conditions.append(cases.c.claimed_by == flt.claimed_by if flt.claimed_by
                              else cases.c.claimed_by.is_(None))
        where = and_(*conditions)

        def order(col):
            return col.desc() if flt.descending else col.asc()

        due_missing = case((cases.c.due_at.is_(None), 1), else_=0)  # no due date: last
        if flt.sort == "age":
            ordering = [order(cases.c.created_at)]
        elif flt.sort == "type":
            ordering = [order(cases.c.document_type), due_missing, cases.c.due_at.asc()]
        elif flt.sort == "due":
            ordering = [due_missing, order(cases.c.due_at), cases.c.created_at.asc()]
        else:
            raise ValueError(f"unknown sort {flt.sort!r} (due, age, type)")
        ordering.append(cases.c.case_id.asc())  # a stable order across pages
        per_page = max(1, min(int(flt.per_page), 500))
        page = max(1, int(flt.page))
        query = (select(cases.c.result).where(where).order_by(*ordering)
                 .limit(per_page).offset((page - 1) * per_page))
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(cases).where(where)).scalar_one()
            items = [CaseResult.model_validate(r[0]) for r in conn.execute(query)]
        return items, int(total)

    def next_for(self, username: str, now: datetime) -> CaseResult | None:
        """The case ``username`` should take next: the one due first that they may claim now.

        Unclaimed, claimed by them or with a lapsed claim; not waiting for
        documents; not a four-eyes approval they gave themselves.
        """
        now = _utc(now)
        due_missing = case((cases.c.due_at.is_(None), 1), else_=0)
        query = (
            select(cases.c.result)
            .where(
                self._reviewable(),
                cases.c.awaiting_documents == false(),
                or_(cases.c.claimed_by.is_(None), cases.c.claimed_by == username,
                    cases.c.claim_expires_at < now),
                or_(cases.c.pending_approval_by.is_(None), cases.c.pending_approval_by != username),
            )
            .order_by(due_missing, cases.c.due_at.asc(), cases.c.created_at.asc(), cases.c.case_id.asc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return CaseResult.model_validate(row[0]) if row else None

    def history(self, case_id: str) -> list[CaseEvent]:
        """The case's events (routing, claims, decisions) as last saved."""
        result = self.get(case_id)
        return list(result.events) if result else []

    # -- retention (formwerk.retention) ----------------------------------------

    @staticmethod
    def _closed_at():
        # completed/rejected carry finished_at; a failed case closed when it was last saved
        return func.coalesce(cases.c.finished_at, cases.c.updated_at)

    def retention_candidates(self, statuses: list[str], closed_before: datetime) -> list[RetentionRow]:
        """Cases in ``statuses`` closed before ``closed_before`` with something left to purge."""
        closed_at = self._closed_at()
        query = (
            select(cases.c.case_id, cases.c.document_type, cases.c.status, closed_at,
                   cases.c.purged_originals_at, cases.c.purged_data_at)
            .where(cases.c.status.in_(statuses), closed_at < _utc(closed_before),
                   or_(cases.c.purged_originals_at.is_(None), cases.c.purged_data_at.is_(None)))
            .order_by(closed_at, cases.c.case_id)
        )
        with self.engine.connect() as conn:
            return [RetentionRow(r[0], r[1], r[2], _utc(_as_datetime(r[3])), _utc(r[4]), _utc(r[5]))
                    for r in conn.execute(query)]

    def results_keeping_originals(self, excluding: set[str]):
        """Every stored result whose originals are still kept, except ``excluding`` (a generator).

        These are the cases whose blobs the purge must not delete (open cases included).
        """
        query = select(cases.c.case_id, cases.c.result).where(cases.c.purged_originals_at.is_(None))
        with self.engine.connect() as conn:
            for case_id, payload in conn.execution_options(yield_per=200).execute(query):
                if case_id not in excluding:
                    yield CaseResult.model_validate(payload)

    def record_purge(self, result: CaseResult, *, expected_revision: int,
                     originals_at: datetime | None = None, data_at: datetime | None = None) -> bool:
        """Store the purged ``result`` and the purge dates, unless the row changed meanwhile.

        A date already recorded is kept (a retry records nothing twice). With
        ``data_at`` the corrections' values go too (field names, clerks and
        confidences stay for the statistics; reclassifications keep the type,
        the training data). Returns whether the row was written.
        """
        from formwerk.models import RECLASSIFICATION

        # updated_at stays: it is a failed case's close time, and the purge is no case change
        values: dict[str, Any] = {"result": json.loads(result.model_dump_json()), "revision": result.revision}
        if originals_at is not None:
            values["purged_originals_at"] = func.coalesce(cases.c.purged_originals_at, _utc(originals_at))
        if data_at is not None:
            values["purged_data_at"] = func.coalesce(cases.c.purged_data_at, _utc(data_at))
            values["filename"] = result.file
        with self.engine.begin() as conn:
            written = conn.execute(cases.update().where(
                (cases.c.case_id == result.case_id) & (cases.c.revision == expected_revision)
            ).values(**values)).rowcount
            if written and data_at is not None:
                conn.execute(corrections.update().where(
                    (corrections.c.case_id == result.case_id) & (corrections.c.field != RECLASSIFICATION)
                ).values(machine_value=None, corrected_value=None))
        return bool(written)

    def purge_dates(self, case_id: str) -> tuple[datetime | None, datetime | None]:
        """(purged_originals_at, purged_data_at) as recorded in the columns."""
        with self.engine.connect() as conn:
            row = conn.execute(select(cases.c.purged_originals_at, cases.c.purged_data_at)
                               .where(cases.c.case_id == case_id)).first()
        return (_utc(row[0]), _utc(row[1])) if row else (None, None)


def _as_datetime(value) -> datetime:
    # SQLite returns coalesce() of two DATETIME columns as the stored text
    return datetime.fromisoformat(value) if isinstance(value, str) else value
