"""What the REST API answers: response models (they are the OpenAPI schema) and their examples.

Field names and value types follow FORMS.md; boxes are ``[x0, y0, x1, y1]``
in page pixels at the page's dpi, origin top-left; confidences in [0, 1].
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from formwerk.models import CaseResult


class Links(BaseModel):
    self: str
    result: str | None = None
    xgewerbeanzeige: str | None = None
    original: str | None = None


class CaseAccepted(BaseModel):
    case_id: str
    reference: str
    status: str = Field(description="processing | needs_review | completed | rejected | failed")
    created: bool = Field(description="false: the reference already named this case (same file)")
    links: Links


class FieldOut(BaseModel):
    value: Any = None
    raw: str = ""
    confidence: float
    page: int | None = None
    bbox: list[float] | None = None
    needs_review: bool = False
    source: str = Field(description="acroform | text_layer | ocr | checkbox | human | none")
    machine_value: Any = Field(None, description="what the machine read, when a clerk corrected it")
    corrected_by: str | None = None
    corrected_at: datetime | None = None


class CorrectionOut(BaseModel):
    field: str
    machine_value: Any = None
    corrected_value: Any = None
    clerk: str
    at: datetime | None = None


class EventOut(BaseModel):
    at: datetime
    kind: str
    actor: str = ""
    detail: dict[str, Any] = Field(default_factory=dict)


class DocumentOut(BaseModel):
    case_id: str
    status: str
    document_type: str | None = None
    pages: list[int] | None = None
    links: Links


class AttachmentOut(BaseModel):
    filename: str
    sha256: str
    page_count: int
    document_type: str | None = None
    attached_by: str = ""
    at: datetime | None = None


class AttemptOut(BaseModel):
    attempt: int
    at: datetime
    status_code: int | None = None
    error: str = ""
    duration_ms: int
    outcome: str = Field(description="delivered | retry | failed")


class DeliveryOut(BaseModel):
    webhook_id: str
    event: str
    url: str
    status: str = Field(description="pending | delivered | failed")
    attempts: list[AttemptOut] = Field(default_factory=list)


class PairOut(BaseModel):
    """A question printed on a page of unknown type and the answer found for it."""

    question: str = Field(description="the printed question / label, as read")
    answer: str = Field(description="the text found for it, as read (not normalised)")
    page: int = Field(description="page number, from 1")
    question_bbox: list[float] = Field(description="box of the question, [x0, y0, x1, y1] in page pixels")
    answer_bbox: list[float] = Field(description="box of the answer, [x0, y0, x1, y1] in page pixels")
    score: float = Field(description="probability in [0, 1] that question and answer belong together")


class CaseOut(BaseModel):
    case_id: str
    reference: str
    file: str
    status: str
    document_type: str | None = None
    document_type_confidence: float | None = None
    review_reasons: list[str] = Field(default_factory=list)
    calibration_version: str = Field(
        "", description="the field calibration whose thresholds routed the case (fitted from clerks' decisions, "
                        "`formwerk calibrate`); empty: the form's own thresholds", examples=["fc3"])
    reason: str | None = None
    reason_code: str | None = None
    fields: dict[str, FieldOut] = Field(default_factory=dict)
    pairs: list[PairOut] = Field(
        default_factory=list,
        description="document_type unknown (no form template): question -> answer pairs read from its pages, "
                    "at most 100, in page and reading order; for reading, not fields (empty for every other type)")
    linked_case_id: str | None = Field(
        None, description="document_type unknown (e.g. a letter): the existing case whose reference the document "
                          "cites (\"Az.: FV-2026-0042\", \"Ihr Zeichen: 32-1/2026\"), matched exactly and only when "
                          "exactly one other case matches; the case then goes to review (reason `linked_to_case`); "
                          "null otherwise", examples=["case-FV-2026-0042"])
    linked_reference: str | None = Field(
        None, description="the reference as the document writes it, when `linked_case_id` is set",
        examples=["FV-2026-0042"])
    corrections: list[CorrectionOut] = Field(default_factory=list)
    history: list[EventOut] = Field(default_factory=list)
    timings_ms: dict[str, int] = Field(default_factory=dict)
    page_count: int = 0
    sha256: str = ""
    awaiting_documents: bool = False
    parent_case_id: str | None = None
    documents: list[DocumentOut] = Field(default_factory=list, description="a split batch's documents")
    attachments: list[AttachmentOut] = Field(default_factory=list)
    webhooks: list[DeliveryOut] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)
    updated_at: datetime | None = None
    # retention: when the original (with page images, OCR contents) and the extracted values went
    purged_originals_at: datetime | None = None
    purged_data_at: datetime | None = None
    links: Links


class CaseSummary(BaseModel):
    case_id: str
    reference: str
    status: str
    document_type: str | None = None
    updated_at: datetime
    links: Links


class CasePage(BaseModel):
    items: list[CaseSummary]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page; null: no more")


def links(case_id: str, document_type: str | None = None, status: str | None = None) -> Links:
    base = f"/api/v1/cases/{case_id}"
    return Links(self=base, result=base + "/result.json", original=base + "/original",
                 xgewerbeanzeige=base + "/xgewerbeanzeige.xml"
                 if document_type == "gewerbeanmeldung" and status == "completed" else None)


def case_out(case: CaseResult, *, attempts: list[dict], children: dict[str, CaseResult],
             updated_at: datetime | None = None) -> CaseOut:
    by_field = {c.field: c for c in case.corrections}
    fields = {}
    for name, f in case.delivered_fields().items():
        c = by_field.get(name)
        fields[name] = FieldOut(
            value=f.value, raw=f.raw, confidence=round(f.confidence, 4), page=f.page,
            bbox=[round(x, 1) for x in f.bbox] if f.bbox else None, needs_review=f.needs_review,
            source=f.source, machine_value=c.machine_value if c else None,
            corrected_by=c.clerk if c else None, corrected_at=c.at if c else None)
    from formwerk.webhooks import deliveries_of

    deliveries = [DeliveryOut(webhook_id=g["webhook_id"], event=g["event"], url=g["url"], status=g["status"],
                              attempts=[AttemptOut(**{k: a[k] for k in AttemptOut.model_fields})
                                        for a in g["attempts"]])
                  for g in deliveries_of(case, attempts)]
    docs = []
    for d in case.documents:
        cur = children.get(d.case_id, d)
        docs.append(DocumentOut(case_id=d.case_id, status=cur.status.value, document_type=cur.document_type,
                                pages=list(d.page_range) if d.page_range else None,
                                links=links(d.case_id, cur.document_type, cur.status.value)))
    return CaseOut(
        case_id=case.case_id, reference=case.reference, file=case.file, status=case.status.value,
        document_type=case.document_type, document_type_confidence=case.document_type_confidence,
        review_reasons=case.review_reasons, calibration_version=case.calibration_version,
        reason=case.reason, reason_code=case.reason_code, fields=fields,
        pairs=[PairOut(question=p.question, answer=p.answer, page=p.page, question_bbox=p.question_bbox,
                       answer_bbox=p.answer_bbox, score=p.score) for p in case.pairs],
        linked_case_id=case.linked_case_id, linked_reference=case.linked_reference,
        corrections=[CorrectionOut(field=c.field, machine_value=c.machine_value, corrected_value=c.corrected_value,
                                   clerk=c.clerk, at=c.at) for c in case.corrections],
        history=[EventOut(at=e.at, kind=e.kind, actor=e.actor, detail=e.detail) for e in case.events],
        timings_ms=case.timings_ms, page_count=case.page_count, sha256=case.sha256,
        awaiting_documents=case.awaiting_documents, parent_case_id=case.parent_case_id, documents=docs,
        attachments=[AttachmentOut(filename=a.filename, sha256=a.sha256, page_count=a.page_count,
                                   document_type=a.document_type, attached_by=a.attached_by, at=a.at)
                     for a in case.attachments],
        webhooks=deliveries, metadata=case.metadata, updated_at=updated_at,
        purged_originals_at=case.purged_originals_at, purged_data_at=case.purged_data_at,
        links=links(case.case_id, case.document_type, case.status.value))


# -- examples (OpenAPI) ------------------------------------------------------

CASE_ID = "case-FV-2026-0042"
EXAMPLE_LINKS = links(CASE_ID, "gewerbeanmeldung", "completed").model_dump()

ACCEPTED_EXAMPLE = {"case_id": CASE_ID, "reference": "FV-2026-0042", "status": "processing", "created": True,
                    "links": EXAMPLE_LINKS}

CASE_EXAMPLE = {
    "case_id": CASE_ID, "reference": "FV-2026-0042", "file": "gewa1.pdf", "status": "completed",
    "document_type": "gewerbeanmeldung", "document_type_confidence": 0.998, "review_reasons": [],
    "calibration_version": "fc3", "reason": None, "reason_code": None,
    "fields": {
        "family_name": {"value": "Schulze-Brandt", "raw": "Schulze Brandt", "confidence": 1.0, "page": 1,
                        "bbox": [412.0, 880.5, 903.0, 930.0], "needs_review": False, "source": "human",
                        "machine_value": "Schulze Brandt", "corrected_by": "anna",
                        "corrected_at": "2026-03-02T09:14:03Z"},
        "birth_date": {"value": "1986-02-14", "raw": "14.02.1986", "confidence": 0.97, "page": 1,
                       "bbox": [412.0, 990.0, 640.0, 1032.0], "needs_review": False, "source": "acroform",
                       "machine_value": None, "corrected_by": None, "corrected_at": None},
    },
    "pairs": [], "linked_case_id": None, "linked_reference": None,
    "corrections": [{"field": "family_name", "machine_value": "Schulze Brandt", "corrected_value": "Schulze-Brandt",
                     "clerk": "anna", "at": "2026-03-02T09:14:03Z"}],
    "history": [{"at": "2026-03-02T09:02:11Z", "kind": "routed", "actor": "",
                 "detail": {"status": "needs_review", "reasons": ["low_confidence:family_name"]}},
                {"at": "2026-03-02T09:14:03Z", "kind": "approved", "actor": "anna", "detail": {}}],
    "timings_ms": {"pages": 120, "ocr": 0, "classify": 12, "extract": 40, "total": 310},
    "page_count": 2, "sha256": "9f2c…", "awaiting_documents": False, "parent_case_id": None,
    "documents": [], "attachments": [],
    "webhooks": [{"webhook_id": "msg_5f0c2d1e9a8b4c7d", "event": "case.completed",
                  "url": "https://fachverfahren.example/formwerk/hook", "status": "delivered",
                  "attempts": [{"attempt": 1, "at": "2026-03-02T09:14:04Z", "status_code": 503, "error": "",
                                "duration_ms": 35, "outcome": "retry"},
                               {"attempt": 2, "at": "2026-03-02T09:14:05Z", "status_code": 204, "error": "",
                                "duration_ms": 21, "outcome": "delivered"}]}],
    "metadata": {"vorgang": "4711"}, "updated_at": "2026-03-02T09:14:05Z", "links": EXAMPLE_LINKS,
}

UNKNOWN_CASE_ID = "case-FV-2026-0043"
UNKNOWN_CASE_EXAMPLE = {
    "case_id": UNKNOWN_CASE_ID, "reference": "FV-2026-0043", "file": "schreiben.pdf", "status": "needs_review",
    "document_type": "unknown", "document_type_confidence": 0.41,
    "review_reasons": ["unknown_document_type", "linked_to_case"],
    "reason": None, "reason_code": None, "fields": {},
    "pairs": [{"question": "Name:", "answer": "Erika Mustermann", "page": 1,
               "question_bbox": [200.0, 400.0, 310.0, 440.0], "answer_bbox": [360.0, 402.0, 760.0, 444.0],
               "score": 0.97},
              {"question": "Geburtsdatum", "answer": "01.02.1980", "page": 1,
               "question_bbox": [200.0, 520.0, 480.0, 560.0], "answer_bbox": [800.0, 522.0, 1040.0, 564.0],
               "score": 0.95}],
    "linked_case_id": CASE_ID, "linked_reference": "FV-2026-0042",
    "corrections": [],
    "history": [{"at": "2026-03-02T10:01:40Z", "kind": "routed", "actor": "",
                 "detail": {"status": "needs_review", "reasons": ["unknown_document_type", "linked_to_case"]}}],
    "timings_ms": {"pages": 90, "ocr": 2100, "classify": 15, "extract": 380, "total": 2700},
    "page_count": 1, "sha256": "4b7e…", "awaiting_documents": False, "parent_case_id": None,
    "documents": [], "attachments": [], "webhooks": [], "metadata": {},
    "updated_at": "2026-03-02T10:01:40Z", "links": links(UNKNOWN_CASE_ID, "unknown", "needs_review").model_dump(),
}

PAGE_EXAMPLE = {"items": [{"case_id": CASE_ID, "reference": "FV-2026-0042", "status": "completed",
                           "document_type": "gewerbeanmeldung", "updated_at": "2026-03-02T09:14:05Z",
                           "links": EXAMPLE_LINKS}],
                "next_cursor": "WyIyMDI2LTAzLTAyVDA5OjE0OjA1KzAwOjAwIiwiY2FzZS1GVi0yMDI2LTAwNDIiXQ"}

RESULT_EXAMPLE = {"file": "gewa1.pdf", "case_id": CASE_ID, "reference": "FV-2026-0042", "status": "completed",
                  "document_type": "gewerbeanmeldung", "document_type_confidence": 0.998, "review_reasons": [],
                  "fields": {"birth_date": {"value": "1986-02-14", "raw": "14.02.1986", "confidence": 0.97,
                                            "page": 1, "bbox": [412.0, 990.0, 640.0, 1032.0],
                                            "needs_review": False}},
                  "timings_ms": {"classify": 12, "extract": 40, "total": 310}, "metadata": {}}

XML_EXAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<xga:abh.gewerbemeldung.0500 xmlns:xga="http://www.xgewerbeanzeige.de/spezifikation/2.2" produkt="Formwerk" \
produkthersteller="Formwerk" produktversion="0.1.0" standard="XGewerbeanzeige" version="2.2">
  <xga:nachrichtenkopf>…</xga:nachrichtenkopf>
  <xga:satz><xga:anmeldung>…<xga:gewerbe>…<xga:beteiligtePerson>
    <xga:personFunktion><code>1</code></xga:personFunktion><xga:familienname>Schulze-Brandt</xga:familienname>
  …</xga:beteiligtePerson></xga:gewerbe>…</xga:anmeldung></xga:satz>
</xga:abh.gewerbemeldung.0500>"""
