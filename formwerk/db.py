"""The case store: SQLite by default, PostgreSQL in production (same code).

Machine output (``result``) and clerks' corrections are kept in separate
tables: machine output is never overwritten by a human edit, corrections are
the audit trail and the training data. Every write is an idempotent upsert so
activity retries are safe.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    func,
    select,
)
from sqlalchemy.engine import Engine

from formwerk.models import CaseResult, CaseStatus, Correction

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
    UniqueConstraint("case_id", "field", "clerk", name="uq_correction"),
)


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {"future": True, "pool_pre_ping": True}
    if url.startswith("sqlite"):
        # worker threads share the engine; SQLite serialises writes itself
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    metadata.create_all(engine)
    return engine


def _now() -> datetime:
    return datetime.now(timezone.utc)


class CaseStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> "CaseStore":
        return cls(make_engine(url))

    def save_result(self, result: CaseResult) -> None:
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
        }
        with self.engine.begin() as conn:
            exists = conn.execute(
                select(cases.c.case_id).where(cases.c.case_id == result.case_id)
            ).first()
            if exists:
                conn.execute(cases.update().where(cases.c.case_id == result.case_id).values(**row))
            else:
                conn.execute(cases.insert().values(case_id=result.case_id, created_at=_now(), **row))

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

    def count_by_status(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(cases.c.status, func.count()).group_by(cases.c.status))
            return {status: n for status, n in rows}

    def save_corrections(self, case_id: str, items: list[Correction]) -> None:
        with self.engine.begin() as conn:
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
                )
                for r in rows
            ]
