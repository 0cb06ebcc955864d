"""The data model shared by every layer (pydantic only, no behaviour).

Conventions that hold everywhere:

* Boxes are ``[x0, y0, x1, y1]`` in **page pixels at the page's ``dpi``**,
  origin top-left, y growing downwards. Text-layer words of a PDF are converted
  from PDF points to pixels at the same reference dpi the page is rendered at,
  so OCR words and text-layer words share one geometric model.
* Pages are numbered from 1.
* Every confidence / probability is a float in ``[0, 1]``.
* Every model that crosses a Temporal boundary has defaults for new fields so
  that histories stay replayable when the model grows.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, Field

BBox = list[float]  # [x0, y0, x1, y1], pixels, top-left origin
RECLASSIFICATION = "document_type"  # the Correction.field of a clerk's reclassification


class CaseStatus(str, Enum):
    """Where a case stands. All but ``processing`` are final for `process`.

    ``failed`` is not a verdict on the document: the processing broke for a
    reason outside the file (storage full, a workflow terminated, a bug); the
    case keeps the reason and an operator restarts it.
    """

    PROCESSING = "processing"
    NEEDS_REVIEW = "needs_review"
    COMPLETED = "completed"
    REJECTED = "rejected"
    FAILED = "failed"


# --------------------------------------------------------------------------
# Document content: what the page layer produces
# --------------------------------------------------------------------------


class Word(BaseModel):
    """One word with its box (page pixels) and recogniser confidence."""

    text: str
    bbox: BBox
    confidence: float = 1.0
    page: int = 1
    # line/block ids from the recogniser, when known (helps key-value pairing)
    block: int | None = None
    line: int | None = None


class AcroFormValue(BaseModel):
    """A value read from a filled PDF form field (no OCR involved)."""

    name: str  # the field's fully qualified name in the PDF
    value: str
    page: int | None = None
    bbox: BBox | None = None  # pixels at the page's dpi, when the widget is known
    kind: Literal["text", "checkbox", "choice", "other"] = "text"


class PageContent(BaseModel):
    """Everything known about one page after reading/OCR."""

    page: int
    width: int  # pixels
    height: int  # pixels
    dpi: int = 300
    source: Literal["text_layer", "ocr", "empty"] = "ocr"
    words: list[Word] = Field(default_factory=list)
    image_key: str | None = None  # storage key of the PNG rendering of the page
    # the original file: a page without a stored image (a text-layer page) is
    # rendered from it when someone needs to see it (formwerk.pagerender)
    source_key: str | None = None
    rotation_applied: int = 0  # degrees the scan was turned to be upright
    skew_corrected: float = 0.0  # degrees of deskew applied
    ocr_ms: int = 0
    # a text-layer page of a filled form, whose words were not read (the form is read from
    # its fields): read from the original (``source_key``) when a step needs them
    words_deferred: bool = False

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


class DocumentContent(BaseModel):
    """All pages of one document plus AcroForm values, if any."""

    pages: list[PageContent] = Field(default_factory=list)
    acroform: list[AcroFormValue] = Field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.pages)


# --------------------------------------------------------------------------
# Decisions: classification, extraction, validation
# --------------------------------------------------------------------------


class Classification(BaseModel):
    document_type: str  # a catalogue id, "invoice" or "unknown"
    confidence: float  # calibrated probability of document_type
    scores: dict[str, float] = Field(default_factory=dict)  # all types
    reasons: list[str] = Field(default_factory=list)  # human-readable, German
    model_version: str = ""
    # decided by the PDF's own form fields: one form's PDF, one document (no batch to split)
    by_form_fields: bool = False


class DocumentSegment(BaseModel):
    """One document inside a scanned batch: pages ``start``..``end`` (1-based, inclusive)."""

    start: int
    end: int
    document_type: str
    confidence: float = 0.0


class ValidationIssue(BaseModel):
    """A failed check on a field or between fields."""

    code: str  # machine code, e.g. "iban_checksum"
    message: str  # sentence a clerk understands (German)
    fields: list[str] = Field(default_factory=list)


class ExtractedField(BaseModel):
    """One field value with provenance and confidence.

    ``value`` is normalised per FORMS.md (ISO dates, ints, option ids, ...);
    ``raw`` is the text as read. ``confidence`` already includes the effect of
    validators (a failed check lowers it and adds to ``issues``).
    """

    name: str
    value: Any = None
    raw: str = ""
    confidence: float = 0.0
    page: int | None = None
    bbox: BBox | None = None
    source: Literal["acroform", "text_layer", "ocr", "checkbox", "human", "none"] = "none"
    extractor: str = ""  # which extractor (and version) produced it
    issues: list[ValidationIssue] = Field(default_factory=list)
    needs_review: bool = False


class DetectedPair(BaseModel):
    """A printed question and the answer beside or below it, found on a page of
    a document with no form template (``extractors.kv_pairing``).

    Read-only help for the clerk: never a field, never routed on. ``page`` is
    the page number like ``ExtractedField.page``; boxes in that page's pixels.
    """

    question: str
    answer: str
    page: int = 1
    question_bbox: BBox = Field(default_factory=list)
    answer_bbox: BBox = Field(default_factory=list)
    score: float = 0.0  # probability that question and answer belong together


class Extraction(BaseModel):
    document_type: str
    fields: dict[str, ExtractedField] = Field(default_factory=dict)
    issues: list[ValidationIssue] = Field(default_factory=list)  # cross-field
    extractor_version: str = ""


# --------------------------------------------------------------------------
# Routing policy and review
# --------------------------------------------------------------------------


class RoutingPolicy(BaseModel):
    """Thresholds that decide straight-through vs review.

    Travels in the workflow input so a decision is reproducible from history.
    """

    min_type_confidence: float = 0.90
    min_field_confidence: float = 0.80
    field_thresholds: dict[str, float] = Field(default_factory=dict)
    required_fields: list[str] = Field(default_factory=list)
    four_eyes: bool = False  # always review (e.g. for sensitive types)
    review_sla_hours: float = 48.0
    # the field calibration (formwerk.fieldcal) whose thresholds are in field_thresholds; "" = the form's own
    calibration_version: str = ""


class RoutingDecision(BaseModel):
    status: CaseStatus
    reasons: list[str] = Field(default_factory=list)  # e.g. "low_confidence:birth_date"
    fields_to_review: list[str] = Field(default_factory=list)


class ReviewAction(str, Enum):
    CLAIM = "claim"  # open the case: nobody else may decide it while the claim holds
    EXTEND = "extend"  # the open case screen keeps the claim alive
    RELEASE = "release"  # back to the queue (the holder, or a supervisor)
    REASSIGN = "reassign"  # a supervisor hands the claim to ``assignee``
    APPROVE = "approve"  # accept, with optional corrections (four-eyes: first approval)
    CONFIRM = "confirm"  # four-eyes: a second, different clerk confirms the approval
    RECLASSIFY = "reclassify"
    REJECT = "reject"
    REQUEST_DOCUMENTS = "request_documents"  # the case waits for an attachment
    ATTACH = "attach"  # a requested document arrived (``blob_key``): read it, resume review


#: roles that may reassign claims and see every queue
SUPERVISOR_ROLES = ("supervisor", "admin")


class ReviewDecision(BaseModel):
    """Delivered to a waiting case as a Temporal update.

    ``decision_id`` makes a decision idempotent: a double click or a retried
    request carrying the same id is applied once (it is also the Temporal
    update id).
    """

    action: ReviewAction
    clerk: str
    decision_id: str = ""
    role: str = "clerk"  # the acting user's role, checked again by the workflow
    corrections: dict[str, Any] = Field(default_factory=dict)  # field -> value
    document_type: str | None = None  # for reclassify
    comment: str = ""
    reason_code: str = ""  # reject: one of the common reasons (free text in ``comment``)
    assignee: str | None = None  # reassign: the new holder
    blob_key: str | None = None  # attach: the uploaded file, already in the blob store
    filename: str = ""  # attach


class CaseEvent(BaseModel):
    """One entry of a case's history: routing, claims, releases, decisions."""

    at: datetime
    kind: str  # routed, claimed, claim_extended, released, claim_expired, reassigned,
    #            approved, confirmed, reclassified, rejected, documents_requested,
    #            document_attached, escalated
    actor: str = ""  # user name, or "" for the system
    decision_id: str = ""
    detail: dict[str, Any] = Field(default_factory=dict)


class PendingApproval(BaseModel):
    """Four-eyes: the first clerk's approval, waiting for a second clerk."""

    clerk: str
    at: datetime
    decision_id: str = ""
    corrections: dict[str, Any] = Field(default_factory=dict)


class Attachment(BaseModel):
    """A document a clerk requested, attached to the case and read by the pipeline."""

    blob_key: str
    filename: str = ""
    sha256: str = ""
    page_count: int = 0
    document_type: str | None = None
    document_type_confidence: float | None = None
    content_keys: list[str] = Field(default_factory=list)
    attached_by: str = ""
    at: datetime | None = None


class Correction(BaseModel):
    field: str
    machine_value: Any = None
    corrected_value: Any = None
    clerk: str = ""
    at: datetime | None = None
    decision_id: str = ""


# --------------------------------------------------------------------------
# Workflow boundary
# --------------------------------------------------------------------------


#: webhook event types (Standard Webhooks ``type``)
WEBHOOK_EVENTS = ("case.completed", "case.rejected", "case.needs_review", "case.failed")
DEFAULT_WEBHOOK_EVENTS = ["case.completed", "case.rejected", "case.failed"]


class WebhookTarget(BaseModel):
    """Where and how a case reports back to the back-office system.

    The subscriber's signing secret never travels in the workflow: the
    delivery activity looks it up by ``subscriber``. The retry schedule is
    part of the input, so the history alone tells when each attempt was due.
    """

    url: str
    subscriber: str
    events: list[str] = Field(default_factory=lambda: list(DEFAULT_WEBHOOK_EVENTS))
    retry_initial_seconds: float = 1.0
    retry_max_seconds: float = 3600.0
    retry_for_seconds: float = 86400.0
    timeout_seconds: float = 10.0
    api_base_url: str = ""  # where the API is reachable: links in the message body


class FileRef(BaseModel):
    """A further file submitted with the case (stored first, read as an attachment)."""

    blob_key: str
    filename: str = ""


class WebhookDelivery(BaseModel):
    """One webhook message of a case and how it ended (attempts are in the store)."""

    webhook_id: str
    event: str
    url: str = ""
    status: Literal["pending", "delivered", "failed"] = "pending"
    attempts: int = 0
    status_code: int | None = None
    error: str = ""
    created_at: datetime | None = None
    finished_at: datetime | None = None


class CaseInput(BaseModel):
    reference: str  # the caller's own reference; the workflow id derives from it
    blob_key: str  # content-addressed storage key of the original
    filename: str = ""
    policies: dict[str, RoutingPolicy] = Field(default_factory=dict)  # per document type
    default_policy: RoutingPolicy = Field(default_factory=RoutingPolicy)
    submitted_at: datetime | None = None
    callback_url: str | None = None
    ocr_task_queue: str = ""  # empty: the default OCR queue
    # set for a document split out of a batch: its pages in the original file
    pages: list[int] | None = None
    parent_case_id: str | None = None
    # a claim not extended for this long expires and the case returns to the queue
    claim_idle_minutes: float = 15.0
    webhook: WebhookTarget | None = None  # report back when the case is decided
    expected_type: str | None = None  # the caller's expectation: a different type goes to review
    metadata: dict[str, str] = Field(default_factory=dict)  # the caller's own, returned as given
    extra_files: list[FileRef] = Field(default_factory=list)  # read as attachments of the case
    # a retried failed case (`formwerk retry`): the stored revision it continues from
    revision_base: int = 0
    # every step as a Temporal activity, as runs did before the light steps became local
    # activities (workflows.case_workflow.LIGHT_STEPS_LOCAL): bench.digital's "before" column
    steps_as_activities: bool = False


class Timings(BaseModel):
    pages: int = 0
    ocr: int = 0
    classify: int = 0
    extract: int = 0
    total: int = 0


class CaseResult(BaseModel):
    """The case's result, in the shape of PRODUCT.md's output contract."""

    case_id: str
    reference: str = ""
    file: str = ""
    status: CaseStatus = CaseStatus.PROCESSING
    document_type: str | None = None
    document_type_confidence: float | None = None
    classification_reasons: list[str] = Field(default_factory=list)
    model_version: str = ""
    calibration_version: str = ""  # the field calibration that routed it ("" = the forms' thresholds)
    review_reasons: list[str] = Field(default_factory=list)
    fields: dict[str, ExtractedField] = Field(default_factory=dict)
    issues: list[ValidationIssue] = Field(default_factory=list)
    # a document of unknown type: question -> answer pairs read from its pages (at most 100)
    pairs: list[DetectedPair] = Field(default_factory=list)
    # a letter (unknown type) citing an existing case's reference (extractors.letters): that case,
    # and the reference as the letter writes it ("FV-2026-0042"); None when it cites none or several
    linked_case_id: str | None = None
    linked_reference: str | None = None
    corrections: list[Correction] = Field(default_factory=list)
    reason: str | None = None  # for rejected: a sentence a clerk understands
    reason_code: str | None = None
    page_count: int = 0
    sha256: str = ""
    timings_ms: dict[str, int] = Field(default_factory=dict)
    escalated: bool = False
    parent_case_id: str | None = None  # the batch this document was split from
    page_range: list[int] | None = None  # [first, last] page of the batch (split documents only)
    content_keys: list[str] = Field(default_factory=list)  # page contents in the blob store
    documents: list["CaseResult"] = Field(default_factory=list)  # a batch's documents, as routed
    claimed_by: str | None = None
    claim_expires_at: datetime | None = None
    reviewed_by: str | None = None
    routed_at: datetime | None = None  # when the machine's decision was made
    due_at: datetime | None = None  # review SLA: escalated to the supervisors after this
    awaiting_documents: bool = False  # a clerk requested documents; review resumes on attach
    pending_approval: PendingApproval | None = None  # four-eyes: first approval given
    attachments: list[Attachment] = Field(default_factory=list)
    events: list[CaseEvent] = Field(default_factory=list)  # the case's history
    revision: int = 0  # increases with every save: the store never goes back to an older one
    metadata: dict[str, str] = Field(default_factory=dict)  # the caller's, as submitted
    expected_type: str | None = None
    webhooks: list[WebhookDelivery] = Field(default_factory=list)  # messages to the caller
    # retention (formwerk.retention): when the original, page images and OCR contents were
    # deleted, and when the extracted values were cleared; None while they are kept
    purged_originals_at: datetime | None = None
    purged_data_at: datetime | None = None

    def delivered_fields(self) -> dict[str, ExtractedField]:
        """Machine output with the clerks' corrections merged in (delivery view).

        The machine output in ``fields`` is never changed by a correction.
        """
        merged = dict(self.fields)
        for c in self.corrections:
            if c.field == RECLASSIFICATION:
                continue
            base = merged.get(c.field, ExtractedField(name=c.field))
            merged[c.field] = base.model_copy(update={
                "value": c.corrected_value, "confidence": 1.0, "source": "human",
                "needs_review": False, "issues": [],
            })
        return merged

    def contract_json(self) -> dict[str, Any]:
        """The public JSON object of PRODUCT.md (one per file and line)."""
        out: dict[str, Any] = {
            "file": self.file,
            "case_id": self.case_id,
            "status": self.status.value,
            "document_type": self.document_type,
            "document_type_confidence": self.document_type_confidence,
            "review_reasons": self.review_reasons,
            "fields": {
                name: {
                    "value": f.value,
                    "raw": f.raw,
                    "confidence": round(f.confidence, 4),
                    "page": f.page,
                    "bbox": [round(v, 1) for v in f.bbox] if f.bbox else None,
                    "needs_review": f.needs_review,
                }
                for name, f in self.delivered_fields().items()
            },
            "timings_ms": self.timings_ms,
        }
        if self.documents:
            out["documents"] = [d.contract_json() for d in self.documents]
        if self.parent_case_id:
            out["parent_case_id"] = self.parent_case_id
        if self.page_range:
            out["pages"] = list(self.page_range)
        if self.status in (CaseStatus.REJECTED, CaseStatus.FAILED):
            out["reason"] = self.reason
            out["reason_code"] = self.reason_code
        if self.purged_originals_at:
            out["purged_originals_at"] = self.purged_originals_at.isoformat()
        if self.purged_data_at:
            out["purged_data_at"] = self.purged_data_at.isoformat()
        return out

CaseResult.model_rebuild()
