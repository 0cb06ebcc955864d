"""The supervisors' figures, computed in SQL on the case store (SQLite and PostgreSQL).

Every figure is an aggregate query over the mirrored columns of ``cases``
(``route``, ``finished_at``, ``review_seconds``, ``escalated_at``,
``reason_code``, kept by ``CaseStore.save_result`` from
``formwerk.casefacts``) and the ``corrections`` table; no case is loaded
into Python. Python only re-buckets the few pre-aggregated rows (UTC hours
into the office's local days) and formats nothing: the page does that.

Conventions: a time range is ``[start, end)`` in aware UTC datetimes;
durations are seconds; rates are in ``[0, 1]`` (None when nothing was counted).
Batch scans (``document_type = "batch"``) are left out: each of their
documents is a case of its own.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import String, and_, case, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from formwerk.casefacts import REVIEW, STRAIGHT_THROUGH
from formwerk.db import cases, corrections
from formwerk.models import RECLASSIFICATION, CaseStatus


class utc_hour(FunctionElement):
    """``'YYYY-MM-DD HH'`` of a timestamp in UTC: the one expression the two dialects spell differently."""

    type = String()
    inherit_cache = True
    name = "utc_hour"


@compiles(utc_hour, "sqlite")
def _utc_hour_sqlite(element, compiler, **kw):
    # SQLAlchemy stores SQLite timestamps as UTC text: 'YYYY-MM-DD HH:MM:SS.ffffff', so the
    # hour is its first 13 characters (what strftime('%Y-%m-%d %H') gives, without parsing)
    return "substr(%s, 1, 13)" % compiler.process(element.clauses, **kw)


@compiles(utc_hour, "postgresql")
def _utc_hour_pg(element, compiler, **kw):
    # the hour as a timestamp (formatting every row with to_char costs more than the count):
    # ``_hour_key`` spells the few grouped hours in Python
    return "date_trunc('hour', timezone('UTC', %s))" % compiler.process(element.clauses, **kw)


def _hour_key(value) -> str:
    """``'YYYY-MM-DD HH'``: ``utc_hour`` comes back as that text (SQLite) or as a naive UTC timestamp."""
    return value if isinstance(value, str) else value.strftime("%Y-%m-%d %H")


def _not_batch():
    return or_(cases.c.document_type.is_(None), cases.c.document_type != "batch")


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


# -- queues (now) ------------------------------------------------------------

QUEUES = ("open", "escalated", "awaiting_documents", "awaiting_confirmation")


@dataclass
class QueueFigure:
    queue: str  # one of QUEUES; a case is in exactly one
    depth: int = 0
    oldest_at: datetime | None = None  # when the oldest waiting case was routed
    oldest_age_s: float | None = None


def queue_figures(engine: Engine, now: datetime) -> list[QueueFigure]:
    """Cases waiting for a clerk, per queue, with the oldest one's age (one grouped query)."""
    queue = case(
        (cases.c.escalated, "escalated"),
        (cases.c.awaiting_documents, "awaiting_documents"),
        (cases.c.pending_approval_by.is_not(None), "awaiting_confirmation"),
        else_="open",
    ).label("queue")
    since = func.min(func.coalesce(cases.c.routed_at, cases.c.created_at))
    query = (select(queue, func.count(), since)
             .where(cases.c.status == CaseStatus.NEEDS_REVIEW.value, _not_batch())
             .group_by(queue))
    with engine.connect() as conn:
        rows = {q: (n, _aware(oldest)) for q, n, oldest in conn.execute(query)}
    out = []
    for q in QUEUES:
        n, oldest = rows.get(q, (0, None))
        out.append(QueueFigure(q, int(n), oldest,
                               max(0.0, (now - oldest).total_seconds()) if oldest else None))
    return out


def status_counts(engine: Engine) -> dict[str, int]:
    query = select(cases.c.status, func.count()).where(_not_batch()).group_by(cases.c.status)
    with engine.connect() as conn:
        return {s: int(n) for s, n in conn.execute(query)}


# -- figures over a time range ---------------------------------------------------


@dataclass
class Bucket:
    start: datetime  # local time of the office (hour or day)
    straight_through: int = 0
    reviewed: int = 0
    rejected: int = 0
    received: int = 0

    @property
    def finished(self) -> int:
        return self.straight_through + self.reviewed + self.rejected


@dataclass
class TypeRate:
    document_type: str | None
    straight_through: int
    review: int

    @property
    def routed(self) -> int:
        return self.straight_through + self.review

    @property
    def rate(self) -> float | None:
        return self.straight_through / self.routed if self.routed else None


@dataclass
class FieldCorrections:
    document_type: str | None
    field: str
    count: int
    mean_confidence: float | None  # what the machine gave the values clerks changed


@dataclass
class EscalatedCase:
    case_id: str
    reference: str
    document_type: str | None
    claimed_by: str | None
    due_at: datetime | None
    escalated_at: datetime | None


@dataclass
class Figures:
    start: datetime
    end: datetime
    now: datetime
    received: int = 0
    straight_through: int = 0  # completed without a clerk
    reviewed: int = 0  # completed after review
    rejected: int = 0  # by the machine (bad input) or a clerk
    staff_minutes_saved: float = 0.0
    minutes_per_manual_case: float = 0.0
    per_hour: list[Bucket] = field(default_factory=list)
    per_day: list[Bucket] = field(default_factory=list)
    by_type: list[TypeRate] = field(default_factory=list)
    queues: list[QueueFigure] = field(default_factory=list)
    escalated_in_range: int = 0
    decided_late: int = 0  # decided in the range after their due time
    overdue_now: int = 0  # waiting past their due time now
    failed_now: int = 0  # cases whose processing failed (storage, terminated workflow): need an operator
    escalated_cases: list[EscalatedCase] = field(default_factory=list)
    corrections: list[FieldCorrections] = field(default_factory=list)
    corrected_cases: int = 0
    reclassified: int = 0
    reviews: int = 0  # decisions with a review time in the range
    review_median_s: float | None = None
    review_p90_s: float | None = None
    rejected_by_reason: list[tuple[str, int]] = field(default_factory=list)

    @property
    def finished(self) -> int:
        return self.straight_through + self.reviewed + self.rejected

    @property
    def straight_through_rate(self) -> float | None:
        """Straight through among the cases the machine routed to a type (bad files left out)."""
        routed = sum(t.routed for t in self.by_type)
        return sum(t.straight_through for t in self.by_type) / routed if routed else None

    @property
    def queue_depth(self) -> int:
        return sum(q.depth for q in self.queues)

    def to_json(self) -> dict[str, Any]:
        def plain(value):
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [plain(v) for v in value]
            return value

        out = plain(asdict(self))
        out["finished"] = self.finished
        out["straight_through_rate"] = self.straight_through_rate
        out["queue_depth"] = self.queue_depth
        for key, items in (("per_hour", self.per_hour), ("per_day", self.per_day)):
            for row, b in zip(out[key], items):
                row["finished"] = b.finished
        for row, t in zip(out["by_type"], self.by_type):
            row["rate"] = t.rate
        return out


def _hours(engine: Engine, start: datetime, end: datetime) -> tuple[dict[str, dict[str, int]], int, int]:
    """Pre-aggregated rows: UTC hour -> {outcome: n} for finished and received cases.

    The same pass over the cases finished in the range also counts the decisions
    with a review time (``reviews``) and those made after their due time
    (``decided_late``): returned beside the hours.
    """
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    outcome = case(
        (cases.c.status == CaseStatus.REJECTED.value, "rejected"),
        (cases.c.route == STRAIGHT_THROUGH, "straight_through"),
        else_="reviewed",
    )
    hour = utc_hour(cases.c.finished_at)
    late = func.sum(case((and_(cases.c.route != STRAIGHT_THROUGH, cases.c.due_at.is_not(None),
                               cases.c.finished_at > cases.c.due_at), 1), else_=0))
    finished = (select(hour, outcome, func.count(), func.count(cases.c.review_seconds), late)
                .where(cases.c.finished_at >= start, cases.c.finished_at < end, _not_batch())
                .group_by(hour, outcome))
    rhour = utc_hour(cases.c.created_at)
    received = (select(rhour, func.count())
                .where(cases.c.created_at >= start, cases.c.created_at < end, _not_batch())
                .group_by(rhour))
    reviews = decided_late = 0
    with engine.connect() as conn:
        for h, kind, n, n_reviews, n_late in conn.execute(finished):
            out[_hour_key(h)][kind] += int(n)
            reviews += int(n_reviews or 0)
            decided_late += int(n_late or 0)
        for h, n in conn.execute(received):
            out[_hour_key(h)]["received"] += int(n)
    return out, reviews, decided_late


def _local(utc: datetime, tz) -> datetime:
    """Local time; ``tz`` None: the server's zone with its daylight-saving rules."""
    return utc.astimezone(tz) if tz is not None else utc.astimezone()


def _midnight(day: date, tz) -> datetime:
    naive = datetime(day.year, day.month, day.day)
    return naive.replace(tzinfo=tz) if tz is not None else naive.astimezone()


def _buckets(hours: dict[str, dict[str, int]], start: datetime, end: datetime, tz,
             unit: str) -> list[Bucket]:
    """Every hour (or local day) of [start, end), empty ones included, in local time."""
    def local_key(utc: datetime):
        local = _local(utc, tz)
        return local.replace(minute=0, second=0, microsecond=0) if unit == "hour" else local.date()

    keys: list = []
    t = start.replace(minute=0, second=0, microsecond=0)
    while t < end:
        k = local_key(t)
        if not keys or keys[-1] != k:
            keys.append(k)
        t += timedelta(hours=1)
    buckets = {k: Bucket(start=k if isinstance(k, datetime) else _midnight(k, tz)) for k in keys}
    for h, counts in hours.items():
        k = local_key(datetime.strptime(h, "%Y-%m-%d %H").replace(tzinfo=timezone.utc))
        b = buckets.get(k)
        if b is None:
            continue
        for name, n in counts.items():
            setattr(b, name, getattr(b, name) + n)
    return [buckets[k] for k in keys]


def _percentile(conn, where, n: int, q: float) -> float | None:
    """Nearest-rank percentile of review_seconds: the value at rank ceil(q*n), by ORDER BY/OFFSET."""
    if n == 0:
        return None
    import math

    rank = max(1, math.ceil(q * n))
    query = (select(cases.c.review_seconds).where(where)
             .order_by(cases.c.review_seconds).offset(rank - 1).limit(1))
    return float(conn.execute(query).scalar())


def figures(engine: Engine, start: datetime, end: datetime, *, now: datetime | None = None,
            minutes_per_manual_case: float = 8.0, tz=None, hour_window: timedelta = timedelta(hours=48),
            top_fields: int = 12) -> Figures:
    """All the dashboard's figures for ``[start, end)``; queues and overdue cases as of ``now``."""
    now = now or datetime.now(timezone.utc)
    start, end = _aware(start), _aware(end)
    f = Figures(start=start, end=end, now=now, minutes_per_manual_case=minutes_per_manual_case)

    hours, f.reviews, f.decided_late = _hours(engine, start, end)
    f.per_day = _buckets(hours, start, end, tz, "day")
    f.per_hour = _buckets(hours, max(start, end - hour_window), end, tz, "hour")
    for counts in hours.values():
        f.straight_through += counts.get("straight_through", 0)
        f.reviewed += counts.get("reviewed", 0)
        f.rejected += counts.get("rejected", 0)
        f.received += counts.get("received", 0)
    f.staff_minutes_saved = f.straight_through * minutes_per_manual_case

    in_range = lambda col: and_(col >= start, col < end)  # noqa: E731
    with engine.connect() as conn:
        # straight-through rate per type: cases the machine routed in the range
        rows = conn.execute(
            select(cases.c.document_type, cases.c.route, func.count())
            .where(in_range(cases.c.routed_at), cases.c.route.in_([STRAIGHT_THROUGH, REVIEW]), _not_batch())
            .group_by(cases.c.document_type, cases.c.route))
        per_type: dict[str | None, TypeRate] = {}
        for doc_type, route, n in rows:
            t = per_type.setdefault(doc_type, TypeRate(doc_type, 0, 0))
            if route == STRAIGHT_THROUGH:
                t.straight_through += int(n)
            else:
                t.review += int(n)
        f.by_type = sorted(per_type.values(), key=lambda t: (-t.routed, t.document_type or ""))

        # SLA: escalations in the range, cases overdue now (decisions after their due time: with the hours)
        f.escalated_in_range = int(conn.execute(
            select(func.count()).where(in_range(cases.c.escalated_at), _not_batch())).scalar())
        waiting = and_(cases.c.status == CaseStatus.NEEDS_REVIEW.value, _not_batch())
        f.overdue_now = int(conn.execute(
            select(func.count()).where(waiting, cases.c.due_at < now)).scalar())
        f.failed_now = int(conn.execute(
            select(func.count()).where(cases.c.status == CaseStatus.FAILED.value, _not_batch())).scalar())
        f.escalated_cases = [
            EscalatedCase(r.case_id, r.reference, r.document_type, r.claimed_by, _aware(r.due_at),
                          _aware(r.escalated_at))
            for r in conn.execute(
                select(cases.c.case_id, cases.c.reference, cases.c.document_type, cases.c.claimed_by,
                       cases.c.due_at, cases.c.escalated_at)
                .where(waiting, cases.c.escalated).order_by(cases.c.due_at.asc(), cases.c.case_id).limit(10))
        ]

        # corrections per field, beside the confidence the machine gave the corrected values
        corr_in_range = and_(in_range(corrections.c.at), corrections.c.field != RECLASSIFICATION)
        joined = corrections.join(cases, cases.c.case_id == corrections.c.case_id)
        n = func.count().label("n")
        f.corrections = [
            FieldCorrections(doc_type, name, int(count), None if conf is None else float(conf))
            for doc_type, name, count, conf in conn.execute(
                select(cases.c.document_type, corrections.c.field, n, func.avg(corrections.c.machine_confidence))
                .select_from(joined).where(corr_in_range)
                .group_by(cases.c.document_type, corrections.c.field)
                .order_by(n.desc(), corrections.c.field).limit(top_fields))
        ]
        f.corrected_cases = int(conn.execute(
            select(func.count(func.distinct(corrections.c.case_id))).where(corr_in_range)).scalar())
        f.reclassified = int(conn.execute(
            select(func.count()).where(in_range(corrections.c.at),
                                       corrections.c.field == RECLASSIFICATION)).scalar())

        # review time: the deciding clerk's claim to decision, for decisions in the range
        reviewed = and_(in_range(cases.c.finished_at), cases.c.review_seconds.is_not(None), _not_batch())
        # (f.reviews: counted with the hours, in the same pass)
        f.review_median_s = _percentile(conn, reviewed, f.reviews, 0.5)
        f.review_p90_s = _percentile(conn, reviewed, f.reviews, 0.9)

        reason = func.coalesce(cases.c.reason_code, "unknown")
        f.rejected_by_reason = [
            (code, int(count)) for code, count in conn.execute(
                select(reason, func.count()).where(
                    in_range(cases.c.finished_at), cases.c.status == CaseStatus.REJECTED.value, _not_batch())
                .group_by(reason).order_by(func.count().desc(), reason))
        ]
    f.queues = queue_figures(engine, now)
    return f


# -- time ranges ---------------------------------------------------------------

PRESETS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30),
           "90d": timedelta(days=90)}


def time_range(preset: str, start_day: date | None, end_day: date | None, now: datetime,
               tz=None) -> tuple[str, datetime, datetime]:
    """(preset, start, end): a preset ending now, or whole local days ``start_day``..``end_day``."""
    if preset == "custom" and start_day:
        end_day = end_day or now.astimezone(tz).date()
        if end_day < start_day:
            start_day, end_day = end_day, start_day
        start_day = max(start_day, end_day - timedelta(days=366))  # at most a year at once
        start = _midnight(start_day, tz)
        end = _midnight(end_day + timedelta(days=1), tz)
        return "custom", start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    preset = preset if preset in PRESETS else "7d"
    return preset, now - PRESETS[preset], now
