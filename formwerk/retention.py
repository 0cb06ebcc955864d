"""Retention: originals and extracted data of closed cases go after fixed periods.

Per document type, ``originals_days`` after a case closed its original, page
images and OCR contents are deleted from the blob store; ``data_days`` after
it the extracted values (and the clerks' corrected values) are cleared, the
skeleton (status, type, timings, confidences, reason codes) stays for the
statistics. The periods come from the settings (``retention_*``).

``purge_expired`` does it: run daily by the worker's Temporal schedule
(``workflows.retention_workflow``) and by ``formwerk retention run``. Each
case gets one audit entry per purge step and ``purged_originals_at`` /
``purged_data_at`` in the store; a retry finds the dates set and does
nothing twice. Blobs are content-addressed, so a blob another kept case
references is never deleted.

The policy functions take an explicit ``now`` so they are testable without a clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from formwerk.models import CaseResult, CaseStatus, PageContent

log = logging.getLogger("formwerk.retention")

# Cases in these states are closed; nothing else is ever purged. ``failed`` closes too: it is
# restarted by an operator soon or never, and its scan must not outlive the period either.
CLOSED = frozenset({CaseStatus.COMPLETED, CaseStatus.REJECTED, CaseStatus.FAILED})

AUDIT_ACTOR = "system:retention"
AUDIT_ACTION = "case.retention_purge"
ORIGINALS, DATA = "originals", "data"


@dataclass(frozen=True)
class RetentionPolicy:
    """Days after the case closed: originals/page images/OCR contents, then extracted data."""

    originals_days: int = 90
    data_days: int = 365

    def __post_init__(self) -> None:
        if self.originals_days < 0 or self.data_days < 0:
            raise ValueError("retention periods must not be negative")


@dataclass(frozen=True)
class RetentionPolicies:
    """The default policy and the ones of single document types."""

    default: RetentionPolicy = field(default_factory=RetentionPolicy)
    by_type: dict[str, RetentionPolicy] = field(default_factory=dict)

    def for_type(self, document_type: str | None) -> RetentionPolicy:
        return self.by_type.get(document_type or "", self.default)

    def shortest_days(self) -> int:
        """The shortest period of any policy: no case closed more recently is due for anything."""
        policies = [self.default, *self.by_type.values()]
        return min(min(p.originals_days, p.data_days) for p in policies)

    @classmethod
    def from_settings(cls, settings) -> "RetentionPolicies":
        return cls(RetentionPolicy(settings.retention_originals_days, settings.retention_data_days),
                   parse_by_type(settings.retention_by_type))


def parse_by_type(text: str) -> dict[str, RetentionPolicy]:
    """``"kindergeld_kg1=180/730, invoice=30/3650"`` -> per-type policies (days originals/data)."""
    out: dict[str, RetentionPolicy] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        try:
            type_id, periods = (s.strip() for s in item.split("=", 1))
            if not type_id:  # "=30/90" would silently become the policy of unclassified cases
                raise ValueError(item)
            originals, data = (int(s) for s in periods.split("/", 1))
            out[type_id] = RetentionPolicy(originals, data)
        except ValueError:
            raise ValueError(f"FORMWERK_RETENTION_BY_TYPE: {item!r} is not <type>=<days originals>/<days data> "
                             "with days ≥ 0") from None
    return out


def is_closed(result: CaseResult) -> bool:
    return result.status in CLOSED


def originals_due(policy: RetentionPolicy, finished_at: datetime | None, now: datetime) -> bool:
    """True when the scan, page images and OCR contents of a case closed at ``finished_at`` may go."""
    return finished_at is not None and now >= finished_at + timedelta(days=policy.originals_days)


def data_due(policy: RetentionPolicy, finished_at: datetime | None, now: datetime) -> bool:
    """True when the extracted field values of a case closed at ``finished_at`` may go."""
    return finished_at is not None and now >= finished_at + timedelta(days=policy.data_days)


def deletable_blobs(expired: Iterable[str], still_referenced: Iterable[str]) -> set[str]:
    """Blobs of expired cases that no retained (or open) case references.

    Blobs are content-addressed, so two cases can share one; deleting it for
    the first case would break the second.
    """
    return set(expired) - set(still_referenced)


def original_key(result: CaseResult) -> str | None:
    return f"sha256:{result.sha256}" if result.sha256 else None


def case_blob_keys(result: CaseResult, read_page: Callable[[str], PageContent | None]) -> set[str]:
    """Every blob the case references: original, page contents, their images, attachments.

    ``read_page`` opens a page-content blob (None when it is gone); the page
    images are only named inside it. A batch's documents count as its own.
    """
    keys: set[str] = set()

    def contents(content_keys: list[str]) -> None:
        for key in content_keys:
            keys.add(key)
            page = read_page(key)
            if page is not None:
                keys.update(k for k in (page.image_key, page.source_key) if k)

    if (key := original_key(result)) is not None:
        keys.add(key)
    contents(result.content_keys)
    for attachment in result.attachments:
        keys.add(attachment.blob_key)
        contents(attachment.content_keys)
    for document in result.documents:
        keys |= case_blob_keys(document, read_page)
    return keys


def strip_originals(result: CaseResult, at: datetime) -> CaseResult:
    """The result without references to deleted page contents, marked purged at ``at``."""
    return result.model_copy(update={
        "content_keys": [],
        "attachments": [a.model_copy(update={"content_keys": []}) for a in result.attachments],
        "documents": [strip_originals(d, at) for d in result.documents],
        "purged_originals_at": result.purged_originals_at or at,
    })


# event details that may hold what an applicant or a clerk wrote
_PERSONAL_EVENT_DETAIL = ("comment", "filename")


def strip_values(result: CaseResult, at: datetime | None = None) -> CaseResult:
    """The result without personal data: field values, corrections, comments, file names.

    Keeps the skeleton (status, type, timings, counts, confidences, review
    reasons, which fields were corrected) so the dashboard and statistics keep
    working. With ``at`` the result is marked purged then.
    """
    fields = {
        name: f.model_copy(update={"value": None, "raw": ""})
        for name, f in result.fields.items()
    }
    corrections = [c.model_copy(update={"machine_value": None, "corrected_value": None})
                   for c in result.corrections]
    events = [e.model_copy(update={"detail": _event_detail(e.detail)}) for e in result.events]
    pending = result.pending_approval
    if pending is not None:
        pending = pending.model_copy(update={"corrections": {k: None for k in pending.corrections}})
    update = {
        "fields": fields, "corrections": corrections, "metadata": {}, "events": events, "file": "",
        "pairs": [],  # question -> answer pairs of an unknown document: what the applicant wrote
        "pending_approval": pending,
        "attachments": [a.model_copy(update={"filename": ""}) for a in result.attachments],
        "documents": [strip_values(d, at) for d in result.documents],
    }
    # a clerk's rejection comment is also the case's ``reason`` (reason_code stays)
    comments = {str(e.detail.get("comment") or "").strip() for e in result.events} - {""}
    if result.reason and result.reason.strip() in comments:
        update["reason"] = None
    if at is not None:
        update["purged_data_at"] = result.purged_data_at or at
    return result.model_copy(update=update)


def _event_detail(detail: dict) -> dict:
    out = {k: ("" if k in _PERSONAL_EVENT_DETAIL else v) for k, v in detail.items()}
    if isinstance(out.get("corrections"), dict):  # field -> {"old": ..., "new": ...}: names only
        out["corrections"] = {name: {} for name in out["corrections"]}
    return out


# ---------------------------------------------------------------------------
# The purge
# ---------------------------------------------------------------------------


class PurgedCase(BaseModel):
    """What the purge did (or, dry, would do) to one case. No applicant data."""

    case_id: str
    document_type: str | None = None
    status: str
    closed_at: datetime
    parts: list[str] = Field(default_factory=list)  # "originals", "data"
    blobs_deleted: int = 0
    blobs_kept: int = 0  # shared with a case that keeps them
    deferred: str = ""  # why nothing happened this time (retried on the next run)


class PurgeReport(BaseModel):
    now: datetime
    dry_run: bool = False
    cases: list[PurgedCase] = Field(default_factory=list)

    @property
    def blobs_deleted(self) -> int:
        return sum(c.blobs_deleted for c in self.cases)


def purge_expired(cases, blobs, audit, policies: RetentionPolicies, now: datetime,
                  dry_run: bool = False) -> PurgeReport:
    """Delete what is due at ``now`` (``cases``: CaseStore, ``blobs``: BlobStore, ``audit``: AuditLog).

    Safe to repeat and to interrupt anywhere: blobs go first (deleting a gone
    blob is a no-op), then the audit entry (written unless the case already
    has one for the step), then the purge dates (the marker that the step is done).
    """
    report = PurgeReport(now=now, dry_run=dry_run)
    closed_before = now - timedelta(days=policies.shortest_days())
    due: list[tuple[PurgedCase, CaseResult]] = []
    for row in cases.retention_candidates(sorted(s.value for s in CLOSED), closed_before):
        policy = policies.for_type(row.document_type)
        parts = []
        if row.purged_originals_at is None and originals_due(policy, row.closed_at, now):
            parts.append(ORIGINALS)
        if row.purged_data_at is None and data_due(policy, row.closed_at, now):
            parts.append(DATA)
        if not parts:
            continue
        result = cases.get(row.case_id)
        if result is None:
            continue
        due.append((PurgedCase(case_id=row.case_id, document_type=row.document_type, status=row.status,
                               closed_at=row.closed_at, parts=parts), result))
    if not due:
        return report

    read_page = _page_reader(blobs)
    expiring = {item.case_id for item, _ in due if ORIGINALS in item.parts}
    kept: set[str] = set()  # blobs of every case that keeps its originals
    in_flight: set[str] = set()  # originals of cases still being read: their blobs are not all named yet
    if expiring:
        for other in cases.results_keeping_originals(excluding=expiring):
            kept |= case_blob_keys(other, read_page)
            if other.status == CaseStatus.PROCESSING and (key := original_key(other)):
                in_flight.add(key)

    for item, result in due:
        if ORIGINALS in item.parts and original_key(result) in in_flight:
            item.parts.remove(ORIGINALS)
            item.deferred = "the same file is being read in another case right now"
        if not item.parts:
            report.cases.append(item)
            continue
        updated = result
        if ORIGINALS in item.parts:
            referenced = case_blob_keys(result, read_page)
            doomed = deletable_blobs(referenced, kept)
            item.blobs_kept = len(referenced & kept)
            if dry_run:
                item.blobs_deleted = sum(1 for key in doomed if blobs.exists(key))
            else:
                item.blobs_deleted = sum(1 for key in sorted(doomed) if blobs.delete(key))
            updated = strip_originals(updated, now)
        if DATA in item.parts:
            updated = strip_values(updated, now)
        report.cases.append(item)
        if dry_run:
            continue
        _audit_once(audit, item, policies.for_type(item.document_type))
        if not _record_purge(cases, item, result, updated, now):
            # still changing: the next run does the step again, without a second audit entry;
            # the deleted blobs stay deleted
            item.deferred = "the case changed while it was purged"
    log.info("retention: %d case(s) purged, %d blob(s) deleted%s", len(report.cases),
             report.blobs_deleted, " (dry run)" if dry_run else "")
    return report


def _record_purge(cases, item: PurgedCase, result: CaseResult, updated: CaseResult, now: datetime,
                  attempts: int = 3) -> bool:
    """Store the purged result with its purge dates; a save that came in meanwhile (a late
    webhook save) is read again and purged on top, so the row does not keep pointing at the
    blobs just deleted until the next run (its pages would fail to open instead of saying
    "deleted")."""
    for _ in range(attempts):
        if cases.record_purge(updated.model_copy(update={"revision": result.revision + 1}),
                              expected_revision=result.revision,
                              originals_at=now if ORIGINALS in item.parts else None,
                              data_at=now if DATA in item.parts else None):
            return True
        result = cases.get(item.case_id)
        if result is None:
            return False
        updated = strip_originals(result, now) if ORIGINALS in item.parts else result
        if DATA in item.parts:
            updated = strip_values(updated, now)
    return False


def _page_reader(blobs) -> Callable[[str], PageContent | None]:
    cache: dict[str, PageContent | None] = {}

    def read(key: str) -> PageContent | None:
        if key not in cache:
            try:
                cache[key] = PageContent.model_validate_json(blobs.get(key)) if blobs.exists(key) else None
            except Exception:  # unreadable (a foreign or damaged blob): it names no further blobs
                cache[key] = None
        return cache[key]

    return read


def _audit_once(audit, item: PurgedCase, policy: RetentionPolicy) -> None:
    """One audit entry per case and step, also when the purge is retried after a crash."""
    done = {part for entry in audit.entries(case_id=item.case_id) if entry.action == AUDIT_ACTION
            for part in entry.detail.get("parts", [])}
    parts = [p for p in item.parts if p not in done]
    if not parts:
        return
    audit.record(AUDIT_ACTOR, AUDIT_ACTION, item.case_id, parts=parts, document_type=item.document_type,
                 closed_at=item.closed_at.isoformat(), blobs_deleted=item.blobs_deleted,
                 blobs_kept=item.blobs_kept, originals_days=policy.originals_days,
                 data_days=policy.data_days)
