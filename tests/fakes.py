"""Small fakes for testing one layer at a time (the workflow layer here)."""

from __future__ import annotations

from dataclasses import dataclass, field

from formwerk.models import Classification, DocumentContent, ExtractedField, Extraction, Word


class FakeOcr:
    name = "fake-ocr"

    def recognise(self, image, page: int) -> list[Word]:
        return [Word(text="Gewerbe-Anmeldung", bbox=[10, 10, 200, 40], confidence=0.95, page=page)]

    def detect_rotation(self, image) -> int:
        return 0


@dataclass
class FakeClassifier:
    document_type: str = "gewerbeanmeldung"
    confidence: float = 0.99
    version: str = "fake-1"

    def classify(self, content: DocumentContent) -> Classification:
        return Classification(document_type=self.document_type, confidence=self.confidence,
                              model_version=self.version, reasons=["fake"])


@dataclass
class FakeExtractor:
    """Returns fixed values; ``confidences`` decides what gets flagged."""

    values: dict = field(default_factory=lambda: {"family_name": "Müller", "birth_date": "1986-02-14"})
    confidences: dict = field(default_factory=lambda: {"family_name": 0.97, "birth_date": 0.96})
    version: str = "fake-1"
    calls: list = field(default_factory=list)

    def extract(self, form_id: str, content: DocumentContent, page_image) -> Extraction:
        self.calls.append(form_id)
        assert page_image(content.pages[0].page) is not None  # the page rendering is reachable
        return Extraction(
            document_type=form_id,
            fields={
                n: ExtractedField(name=n, value=v, raw=str(v), confidence=self.confidences[n],
                                  page=1, bbox=[0, 0, 10, 10], source="ocr")
                for n, v in self.values.items()
            },
        )


@dataclass
class FakeBatchClassifier:
    """Pages 1–2 are a Gewerbe-Anmeldung, page 3 an invoice (by page number)."""

    version: str = "fake-batch-1"

    def classify(self, content: DocumentContent) -> Classification:
        first = content.pages[0].page
        doc_type = "invoice" if first == 3 else "gewerbeanmeldung"
        return Classification(document_type=doc_type, confidence=0.99, model_version=self.version)

    def split_batch(self, pages):
        from types import SimpleNamespace as NS

        if len(pages) != 3:
            return [NS(start=1, end=len(pages), document_type="gewerbeanmeldung", confidence=0.99)]
        return [NS(start=1, end=2, document_type="gewerbeanmeldung", confidence=0.99),
                NS(start=3, end=3, document_type="invoice", confidence=0.98)]
