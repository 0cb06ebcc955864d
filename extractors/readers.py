"""The one reader contract, and the finishing step every reader shares.

A :class:`FieldReader` is one way of finding a field's value in a document
(AcroForm values, a registered edition's widget boxes, words relative to the
printed label, invoice vocabulary). ``CatalogueExtractor`` asks the readers
of the form's chain in order (``catalogue_extractor.CHAINS``, chosen by the
form definition's ``reader``); the first that answers wins. A reader that
returns ``None`` says "not mine": the next one reads the field.

Readers hold no per-document state (that is the ``DocumentReader``); they
are built once per extractor and get what they share — the
:class:`Finisher`, another reader's second look — through their constructor.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Protocol

from formwerk.models import ExtractedField, ValidationIssue, Word

from extractors import confidence as conf
from extractors.normalise import clean_text, normalise
from extractors.validators import CHECKSUM_VALIDATORS, FORMAT_MESSAGES, run_validators, validators_for
from forms.catalogue import FieldDefinition

if TYPE_CHECKING:
    from extractors.reader import DocumentReader


class FieldReader(Protocol):
    """One strategy for reading a field.

    ``done``: the fields read so far (in catalogue order), by name — a table's
    column may default to an earlier field's value. Returns the field (value
    ``None`` when the reader looked and found nothing) or ``None`` when the
    field is not this reader's to read. Coordinates in the returned field are
    page pixels, top-left origin (``formwerk.models``); confidences in [0, 1]
    before calibration.
    """

    name: str

    def read(self, field: FieldDefinition, doc: DocumentReader,
             done: dict[str, ExtractedField]) -> ExtractedField | None: ...


class Finisher:
    """Normalise, validate and score one raw value (shared by all readers).

    ``today``: reference day of the date validators (``None``: the day of the call).
    """

    def __init__(self, today: date | None = None):
        self.today = today

    def __call__(self, f: FieldDefinition, raw: str, source: str, *, page=None, bbox=None,
                 words: list[Word] | None = None, label_score: float = 1.0, fallback: bool = False,
                 extra: float = 1.0) -> ExtractedField:
        """``raw`` as read from ``source`` ("acroform", "text_layer", "ocr");
        ``label_score`` and ``extra`` in [0, 1] scale the confidence (label
        evidence, reader-specific evidence); ``fallback``: found in the other
        layout than the declared one."""
        if not raw:
            return ExtractedField(name=f.name, source=source if source == "acroform" else "none", page=page)
        value = normalise(f.normaliser or f.type, raw)
        issues: list[ValidationIssue] = []
        format_failed = value is None
        if format_failed:
            issues.append(ValidationIssue(code=f"format_{f.type}", message=FORMAT_MESSAGES.get(
                f.type, "Die Angabe ist nicht lesbar."), fields=[f.name]))
            # keep the text as read: a clerk sees it and fixes it
            value = clean_text(raw) if f.type not in ("int", "bool") else None
            failed = []
        else:
            failed = run_validators(f.type, f.validators, value, self.today or date.today())
            for i in failed:
                i.fields = [f.name]
            issues.extend(failed)
        checksum = any(v in CHECKSUM_VALIDATORS for v in validators_for(f.type, f.validators))
        if fallback and f.type == "text":
            extra *= conf.FALLBACK_TEXT
        c = conf.combine(source, words=words, label_score=label_score, fallback=fallback,
                         failed_checks=len(failed), format_failed=format_failed, extra=extra,
                         checksum_passed=checksum and not failed and not format_failed)
        return ExtractedField(name=f.name, value=value, raw=raw, confidence=c, page=page,
                              bbox=[float(v) for v in bbox] if bbox else None, source=source, issues=issues)
