"""Extraction driven by the form catalogue: AcroForm values first, words otherwise.

Contract (see ``extractors.CatalogueExtractor``): ``extract`` returns an
:class:`~formwerk.models.Extraction` with an :class:`ExtractedField` for
*every* field of the form definition — ``value=None, confidence=0`` when
nothing was found — so routing can flag missing required fields.

Order of evidence per field:

1. filled AcroForm fields named in the definition (no OCR involved,
   ``extractors.acro_fields``);
2. on a page registered onto a known printed edition, the words inside the
   edition's widget boxes, checkboxes from their pixels, with a second OCR
   of unsure boxes (``extractors.edition_fields``);
3. otherwise words (text layer or OCR, one geometric model) located relative
   to the fuzzy-matched printed label, checkbox groups from the page pixels
   (``extractors.word_fields``) — or, for a free-layout form
   (``reader: invoice``), German invoice vocabulary over whole lines
   (``extractors.invoice_fields``).

Every value is normalised, validated (failures lower the confidence and add
German issues) and scored by ``extractors.confidence``; values that look like
the form's labels or another field's reading are marked down
(``extractors.plausibility``); cross-field rules run, and the confidences are
mapped onto the calibrated scale (``confidence.calibrate``) last.
"""

from __future__ import annotations

from datetime import date

from formwerk.models import DocumentContent, ExtractedField, Extraction, ValidationIssue, Word

from extractors import confidence as conf
from extractors.acro_fields import AcroFields
from extractors.edition_fields import EditionFields
from extractors.fieldtext import dots_restored
from extractors import invoice_fields as inv
from extractors.normalise import clean_text, normalise
from extractors.reader import DocumentReader, PageImage
from extractors.layout import union
from extractors import plausibility
from extractors.plausibility import label_vocabulary
from extractors.rules import apply_rules
from extractors.validators import CHECKSUM_VALIDATORS, FORMAT_MESSAGES, run_validators, validators_for
from extractors.word_fields import WordFields
from forms.catalogue import Catalogue, FieldDefinition


class CatalogueExtractor(AcroFields, EditionFields, WordFields):
    """Extracts the fields of any catalogue form; built once per worker.

    ``today`` fixes the reference date of the plausibility checks (tests,
    replays); default: the day of the extraction.
    """

    version = f"catalogue-1.0+{conf.CONFIDENCE_VERSION}"

    def __init__(self, catalogue: Catalogue, today: date | None = None):
        self.catalogue = catalogue
        self.today = today
        self._vocab: dict[str, set[str]] = {}  # form id → label words (extractors.plausibility)

    # ------------------------------------------------------------------
    def extract(self, form_id: str, content: DocumentContent, page_image: PageImage) -> Extraction:
        form = self.catalogue.get(form_id)
        today = self.today or date.today()
        reader = DocumentReader(form, content, page_image, today)
        fields: dict[str, ExtractedField] = {}
        for f in form.fields:
            ef = self._from_acroform(f, reader, fields) if reader.acro else None
            if ef is None and form.reader == "invoice":
                ef = self._from_invoice(f, reader)
            if ef is None:
                try:
                    ef = self._from_words(f, reader, fields)
                except Exception as exc:  # one bad field must not lose the others
                    ef = ExtractedField(name=f.name, extractor=f"{self.version} error: {type(exc).__name__}",
                                        issues=[ValidationIssue(code="extraction_error", fields=[f.name],
                                                                message="Das Feld konnte nicht gelesen werden.")])
            ef.extractor = ef.extractor or self.version
            fields[f.name] = ef
        self._shared_diacritics(form, fields)
        self._plausibility(form, fields)
        issues = apply_rules(form.rules, fields)
        for ef in fields.values():
            ef.confidence = round(conf.calibrate(ef.confidence), 4)
        return Extraction(document_type=form.id, fields=fields, issues=issues, extractor_version=self.version)

    # ------------------------------------------------------------------
    def _plausibility(self, form, fields: dict[str, ExtractedField]) -> None:
        """Lower the confidence of read text values that a named plausibility
        rule flags (``extractors.plausibility.RULES``): values that look like
        the form's labels, that are another field's reading, or that hold a
        character sequence OCR produces and writers do not."""
        vocab = self._vocab.get(form.id)
        if vocab is None:
            vocab = self._vocab[form.id] = label_vocabulary(form)
        plausibility.apply_rules(form, fields, vocab)

    def _shared_diacritics(self, form, fields: dict[str, ExtractedField]) -> None:
        """Two read values of one type that differ only by diacritics one of them
        lacks ("Andre-Ritter-Weg …" as business address, "André-Ritter-Weg …" as
        home address): OCR drops umlaut dots and accents, it seldom invents them,
        so both take the marked spelling, with the lower of the two confidences."""
        read = [(f, fields[f.name]) for f in form.fields if f.type in ("text", "address")
                and fields.get(f.name) is not None and fields[f.name].source in ("ocr", "text_layer")
                and isinstance(fields[f.name].value, str)]
        for fa, a in read:
            for fb, b in read:
                if fa.type == fb.type and a is not b and dots_restored(a.value, b.value):
                    a.value = b.value
                    a.confidence = min(a.confidence, b.confidence)

    def _from_invoice(self, f: FieldDefinition, r: DocumentReader) -> ExtractedField | None:
        """Free-layout invoice reading (``extractors.invoice_fields``); evidence scales the confidence."""
        if f.name not in inv.READERS and f.name != "seller_name":
            return None  # a field without an invoice reader is read by its label
        if not r.pages:
            return ExtractedField(name=f.name, source="none")
        if f.name == "seller_name":
            found = inv.find_seller(r.full_lines, min(r.pages))
        else:
            found = inv.READERS[f.name](r.full_lines)
        if found is None:
            return ExtractedField(name=f.name, source="none")
        return self._finish(f, found.raw, r.sources[found.page], page=found.page,
                            bbox=union([w.bbox for w in found.words]) if found.words else None,
                            words=found.words, extra=found.evidence)

    def _finish(self, f: FieldDefinition, raw: str, source: str, *, page=None, bbox=None,
                words: list[Word] | None = None, label_score: float = 1.0, fallback: bool = False,
                extra: float = 1.0) -> ExtractedField:
        """Normalise, validate and score one raw value (shared by all readers)."""
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
