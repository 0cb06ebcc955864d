"""Extraction driven by the form catalogue: a chain of readers per field, one finishing step.

Contract (see ``extractors.CatalogueExtractor``): ``extract`` returns an
:class:`~formwerk.models.Extraction` with an :class:`ExtractedField` for
*every* field of the form definition — ``value=None, confidence=0`` when
nothing was found — so routing can flag missing required fields.

Each field is read by the first reader of the form's chain that answers
(``extractors.readers.FieldReader``; the chain is :data:`CHAINS` of the form
definition's ``reader``):

1. ``acroform`` — filled AcroForm fields named in the definition (no OCR
   involved, ``extractors.acro_fields``);
2. ``invoice`` — for a free-layout form (``reader: invoice``), the field's
   named finder over whole lines (``extractors.invoice_fields``);
3. ``edition`` — on a page registered onto a known printed edition, the
   words inside the edition's widget boxes, checkboxes from their pixels,
   with a second OCR of unsure boxes (``extractors.edition_fields``);
4. ``labels`` — otherwise words (text layer or OCR, one geometric model)
   located relative to the fuzzy-matched printed label, checkbox groups from
   the page pixels (``extractors.word_fields``).

A reader that fails loses its field only (an ``extraction_error`` issue).

Every value is normalised, validated (failures lower the confidence and add
German issues) and scored by ``extractors.confidence``; values that look like
the form's labels or another field's reading are marked down
(``extractors.plausibility``); cross-field rules run, and the confidences are
mapped onto the calibrated scale (``confidence.calibrate``) last.
"""

from __future__ import annotations

from datetime import date

from formwerk.models import DocumentContent, ExtractedField, Extraction, ValidationIssue

from extractors import confidence as conf
from extractors import evidence
from extractors import plausibility
from extractors.acro_fields import AcroFormReader
from extractors.edition_fields import EditionReader
from extractors.fieldtext import dots_restored
from extractors.invoice_fields import FINDERS, InvoiceReader
from extractors.plausibility import label_vocabulary
from extractors.reader import DocumentReader, PageImage
from extractors.readers import FieldReader, Finisher
from extractors.reocr import TESSERACT_CROPS, CropOcr
from extractors.rules import apply_rules
from extractors.word_fields import LabelReader
from forms.catalogue import Catalogue, FormDefinition

#: the readers a form's ``reader`` asks, in order; ``acroform`` only for forms
#: that name AcroForm fields, ``edition`` only for forms with known editions
CHAINS: dict[str, tuple[str, ...]] = {
    "labels": ("acroform", "edition", "labels"),
    "invoice": ("acroform", "invoice", "edition", "labels"),
}


class CatalogueExtractor:
    """Extracts the fields of any catalogue form; built once per worker.

    ``today`` fixes the reference date of the plausibility checks (tests,
    replays); default: the day of the extraction. ``crop_ocr``: the engine of
    second reads of unsure boxes (``extractors.reocr.CropOcr``), built at the
    edge like the page OCR engine; default: Tesseract (``reocr.TesseractCrops``).
    """

    version = f"catalogue-1.0+{conf.CONFIDENCE_VERSION}"

    def __init__(self, catalogue: Catalogue, today: date | None = None, crop_ocr: CropOcr | None = None):
        self.catalogue = catalogue
        self.today = today
        self.crop_ocr = crop_ocr or TESSERACT_CROPS
        self._vocab: dict[str, set[str]] = {}  # form id → label words (extractors.plausibility)
        finish = Finisher(today)
        edition = EditionReader(finish)
        self.readers: dict[str, FieldReader] = {
            r.name: r for r in (AcroFormReader(finish), InvoiceReader(finish), edition, LabelReader(finish, edition))}
        self._chains: dict[str, list[FieldReader]] = {}
        for form_id in catalogue.ids:  # a misspelt finder fails when the worker starts, not on a document
            form = catalogue.get(form_id)
            unknown = {f.finder for f in form.fields if f.finder and f.finder not in FINDERS}
            if unknown:
                raise ValueError(f"form {form_id!r}: unknown finder(s) {sorted(unknown)}; known: {sorted(FINDERS)}")

    def chain(self, form: FormDefinition) -> list[FieldReader]:
        """The readers of ``form``, in the order they are asked (:data:`CHAINS`)."""
        got = self._chains.get(form.id)
        if got is None:
            names = [n for n in CHAINS[form.reader]
                     if not (n == "acroform" and not form.acroform_names) and not (n == "edition" and not form.editions)]
            got = self._chains[form.id] = [self.readers[n] for n in names]
        return got

    # ------------------------------------------------------------------
    def extract(self, form_id: str, content: DocumentContent, page_image: PageImage) -> Extraction:
        form = self.catalogue.get(form_id)
        today = self.today or date.today()
        reader = DocumentReader(form, content, page_image, today, self.crop_ocr)
        chain = self.chain(form)
        fields: dict[str, ExtractedField] = {}
        for f in form.fields:
            failed_reads = len(reader.second_read_failures)
            try:
                ef = _first_answer(chain, f, reader, fields)
            except Exception as exc:  # one bad field must not lose the others
                ef = ExtractedField(name=f.name, extractor=f"{self.version} error: {type(exc).__name__}",
                                    issues=[ValidationIssue(code="extraction_error", fields=[f.name],
                                                            message="Das Feld konnte nicht gelesen werden.")])
            if len(reader.second_read_failures) > failed_reads and ef.value is not None:
                # its second read was asked for (the page read was unsure) and timed out: nothing
                # vouches for the value, whatever the page read's confidence
                ef.confidence = min(ef.confidence, conf.UNREADABLE)
            ef.extractor = ef.extractor or self.version
            fields[f.name] = ef
        self._shared_diacritics(form, fields)
        self._plausibility(form, fields)
        # values whose pixels look handwritten: no OCR read vouches for them (extractors.evidence)
        evidence.apply_evidence(form, fields, reader)
        issues = apply_rules(form.rules, fields)
        for ef in fields.values():
            ef.confidence = round(conf.calibrate(ef.confidence), 4)
        return Extraction(document_type=form.id, fields=fields, issues=issues, extractor_version=self.version)

    # -- the finishing passes over all fields -------------------------------
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


def _first_answer(chain: list[FieldReader], f, doc: DocumentReader, done: dict[str, ExtractedField]) -> ExtractedField:
    """The first reader's field that is not "not mine"; an empty field when none answers."""
    for r in chain:
        ef = r.read(f, doc, done)
        if ef is not None:
            return ef
    return ExtractedField(name=f.name, source="none")
