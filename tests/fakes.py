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
        assert page_image(1) is not None  # the page rendering is reachable
        return Extraction(
            document_type=form_id,
            fields={
                n: ExtractedField(name=n, value=v, raw=str(v), confidence=self.confidences[n],
                                  page=1, bbox=[0, 0, 10, 10], source="ocr")
                for n, v in self.values.items()
            },
        )
