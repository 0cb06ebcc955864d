"""One model in, one model out, for every activity (defaults on new fields).

Only ids and storage keys cross the Temporal boundary, never file bytes:
payloads are capped at 2 MB and page words live in the blob store.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from formwerk.models import (
    CaseResult,
    Classification,
    Correction,
    DetectedPair,
    DocumentSegment,
    Extraction,
    WebhookTarget,
)


class RegisterInput(BaseModel):
    case_id: str
    reference: str
    blob_key: str
    filename: str = ""


class RegisterOutput(BaseModel):
    sha256: str
    size_bytes: int


class PrepareInput(BaseModel):
    blob_key: str
    filename: str = ""
    pages: list[int] | None = None  # only these pages (a document split from a batch)


class PageJob(BaseModel):
    page: int
    # PNG of the page as scanned (image files); PDF pages are not rendered
    # here: the OCR activity renders its own page from ``source_key``
    image_key: str | None = None
    dpi: int = 300
    needs_ocr: bool = True
    content_key: str | None = None  # PageContent JSON when read from the text layer
    source_key: str | None = None  # the original file, when the page is rendered from it


class PrepareOutput(BaseModel):
    kind: str
    pages: list[PageJob] = Field(default_factory=list)
    acroform_key: str | None = None  # list[AcroFormValue] JSON, when filled fields exist
    duration_ms: int = 0


class OcrPageInput(BaseModel):
    page: int  # 1-based page of the original file
    image_key: str | None = None  # a stored PNG of the page, or
    source_key: str | None = None  # the original, rendered at ``dpi`` by the activity
    dpi: int = 300


class OcrPageOutput(BaseModel):
    page: int
    content_key: str
    duration_ms: int = 0


class ContentRef(BaseModel):
    content_keys: list[str]  # PageContent JSON per page, in page order
    acroform_key: str | None = None
    ocr_pages: int = 0  # pages read by OCR: their classification and extraction are heavy work


class ClassifyInput(BaseModel):
    content: ContentRef
    split: bool = True  # look for several documents in a multi-page batch


class ClassifyOutput(BaseModel):
    classification: Classification
    segments: list[DocumentSegment] = Field(default_factory=list)  # >1: a batch to split
    duration_ms: int = 0


class ExtractInput(BaseModel):
    document_type: str
    content: ContentRef
    case_id: str = ""  # never linked to itself (unknown type: a letter citing a case)
    parent_case_id: str | None = None  # nor to its batch


class ExtractOutput(BaseModel):
    extraction: Extraction | None = None
    duration_ms: int = 0
    pairs: list[DetectedPair] = Field(default_factory=list)  # unknown type: question -> answer pairs
    linked_case_id: str | None = None  # unknown type: the one existing case the letter cites
    linked_reference: str | None = None  # as the letter writes it


#: the failure detail (``{STEP_DETAIL: activity name}``) that names which step of ``read_document`` failed
STEP_DETAIL = "step"


class ReadDocumentInput(BaseModel):
    """A PDF read in one step: registered, split into pages and, if no page needs OCR, classified
    and extracted (a filled or digital form in one local activity)."""

    original: RegisterInput
    prepare: PrepareInput
    split: bool = True  # look for several documents in a multi-page batch
    parent_case_id: str | None = None  # a document of a batch: never linked to its batch


class ReadDocumentOutput(BaseModel):
    registered: RegisterOutput
    prepared: PrepareOutput
    classified: ClassifyOutput | None = None  # None: pages to OCR first
    extracted: ExtractOutput | None = None  # None: pages to OCR first, or a batch to split


class SaveCorrectionsInput(BaseModel):
    case_id: str
    corrections: list[Correction] = Field(default_factory=list)


class SaveResultInput(BaseModel):
    result: CaseResult


class DeliverWebhookInput(BaseModel):
    """One webhook message; the same ``webhook_id`` and body on every attempt."""

    case_id: str
    webhook_id: str
    event: str  # case.completed | case.rejected | case.needs_review
    target: WebhookTarget
    result: CaseResult  # the case as it stood when the event happened
    created_at: datetime  # workflow time of the event: the body's timestamp
    attempts_before: int = 0  # attempts already made (the first one, made locally): attempts are numbered on


class DeliverWebhookOutput(BaseModel):
    status_code: int
    attempt: int = 1
    duration_ms: int = 0
