"""Field calibrations (``formwerk.fieldcal``) in the case store's database.

Every fit is kept under its version; at most one is active. Submissions take
the active one's thresholds into each case's routing policy
(:func:`calibrated_policies`), so a case records the calibration that routed
it and an operator can go back to an older version, or to the forms' own
thresholds, at any time.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Iterator, Mapping

from sqlalchemy import JSON, Boolean, Column, DateTime, MetaData, String, Table, and_, false, func, or_, select, update
from sqlalchemy.engine import Engine

from formwerk.casefacts import REVIEW
from formwerk.fieldcal import Evidence, FieldCalibration, evidence_from_case
from formwerk.models import CaseResult, CaseStatus, RoutingPolicy

metadata = MetaData()

field_calibrations = Table(
    "field_calibrations",
    metadata,
    Column("version", String(50), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("active", Boolean, nullable=False, server_default=false()),
    Column("body", JSON, nullable=False),  # the FieldCalibration
)


class UnknownCalibration(LookupError):
    pass


class CalibrationStore:
    def __init__(self, engine: Engine) -> None:
        from formwerk.db import create_tables

        self.engine = engine
        create_tables(engine, metadata)

    @classmethod
    def from_url(cls, url: str) -> "CalibrationStore":
        from formwerk.db import make_engine

        return cls(make_engine(url))

    def next_version(self) -> str:
        with self.engine.connect() as conn:
            n = conn.execute(select(func.count()).select_from(field_calibrations)).scalar() or 0
        return f"fc{n + 1}"

    def save(self, calibration: FieldCalibration, *, activate: bool) -> None:
        with self.engine.begin() as conn:
            if activate:
                conn.execute(update(field_calibrations).values(active=False))
            conn.execute(field_calibrations.insert().values(
                version=calibration.version, created_at=calibration.created_at, active=activate,
                body=calibration.model_dump(mode="json")))

    def get(self, version: str) -> FieldCalibration:
        with self.engine.connect() as conn:
            body = conn.execute(select(field_calibrations.c.body)
                                .where(field_calibrations.c.version == version)).scalar()
        if body is None:
            raise UnknownCalibration(version)
        return FieldCalibration.model_validate(body)

    def active(self) -> FieldCalibration | None:
        with self.engine.connect() as conn:
            body = conn.execute(select(field_calibrations.c.body)
                                .where(field_calibrations.c.active)).scalar()
        return None if body is None else FieldCalibration.model_validate(body)

    def versions(self) -> list[tuple[str, datetime, bool, FieldCalibration]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(field_calibrations).order_by(field_calibrations.c.created_at)).mappings()
            return [(r["version"], r["created_at"], bool(r["active"]), FieldCalibration.model_validate(r["body"]))
                    for r in rows]

    def activate(self, version: str | None) -> None:
        """Make ``version`` the active calibration; None: the forms' own thresholds again."""
        with self.engine.begin() as conn:
            if version is not None and conn.execute(
                    select(field_calibrations.c.version).where(field_calibrations.c.version == version)
            ).scalar() is None:
                raise UnknownCalibration(version)
            conn.execute(update(field_calibrations).values(active=False))
            if version is not None:
                conn.execute(update(field_calibrations).where(field_calibrations.c.version == version)
                             .values(active=True))


def reviewed_results(engine: Engine, batch: int = 500) -> Iterator[CaseResult]:
    """Every case a clerk approved whose values are still held (not purged), oldest first."""
    from formwerk.db import cases

    where = and_(cases.c.status == CaseStatus.COMPLETED.value, cases.c.route == REVIEW,
                 cases.c.purged_data_at.is_(None),
                 or_(cases.c.document_type.is_(None), cases.c.document_type != "batch"))
    last = ""
    while True:
        with engine.connect() as conn:
            rows = conn.execute(select(cases.c.case_id, cases.c.result).where(where, cases.c.case_id > last)
                                .order_by(cases.c.case_id).limit(batch)).all()
        if not rows:
            return
        for case_id, result in rows:
            yield CaseResult.model_validate(result)
        last = rows[-1][0]


def reviewed_evidence(engine: Engine) -> tuple[list[Evidence], int]:
    """(decided values, cases they came from) over every approved reviewed case."""
    evidence: list[Evidence] = []
    n = 0
    for result in reviewed_results(engine):
        found = evidence_from_case(result)
        if found:
            evidence.extend(found)
            n += 1
    return evidence, n


class ActiveCalibration:
    """The active calibration, read again at most every ``ttl_s`` (a submission must not
    cost a query, and an activation reaches every API process within that time)."""

    def __init__(self, store: CalibrationStore, ttl_s: float = 30.0) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._read_at = -1e18
        self._value: FieldCalibration | None = None

    def get(self) -> FieldCalibration | None:
        with self._lock:
            if time.monotonic() - self._read_at >= self.ttl_s:
                self._value = self.store.active()
                self._read_at = time.monotonic()
            return self._value

    def policies(self, base: Mapping[str, RoutingPolicy]) -> dict[str, RoutingPolicy]:
        from formwerk.fieldcal import apply

        return apply(base, self.get())


def calibrated_policies(base: Mapping[str, RoutingPolicy], url: str) -> dict[str, RoutingPolicy]:
    """The forms' policies with the active calibration of the store at ``url`` (CLI: one read)."""
    from formwerk.fieldcal import apply

    return apply(base, CalibrationStore.from_url(url).active())
