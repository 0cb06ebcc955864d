"""Activities in isolation (ActivityEnvironment), with real Tesseract and pdfium."""

from __future__ import annotations

import io

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from bench.synth import render_document, scan_pages
from formwerk.db import CaseStore
from formwerk.models import PageContent
from formwerk.ocr import TesseractEngine
from formwerk.storage import BlobStore
from tests import badfiles
from tests.fakes import FakeClassifier, FakeExtractor
from formwerk.pagerender import png_bytes as _png
from workflows.activities import CaseActivities
from workflows.messages import OcrPageInput, PrepareInput


@pytest.fixture
def acts(tmp_path):
    return CaseActivities(
        blobs=BlobStore(tmp_path / "b"), cases=CaseStore.from_url(f"sqlite:///{tmp_path / 'c.db'}"),
        ocr=TesseractEngine(), classifier=FakeClassifier(), extractor=FakeExtractor(),
        known_types={"gewerbeanmeldung"})


def test_digital_pdf_is_read_from_its_text_layer_without_ocr(acts):
    doc = render_document("gewerbeanmeldung", seed=5)
    out = ActivityEnvironment().run(acts.prepare_document,
                                    PrepareInput(blob_key=acts.blobs.put(doc.pdf_bytes)))
    assert out.kind == "pdf" and len(out.pages) >= 1
    assert not any(p.needs_ocr for p in out.pages)
    page = PageContent.model_validate_json(acts.blobs.get(out.pages[0].content_key))
    assert page.source == "text_layer"
    assert doc.truth["family_name"] in page.text


def test_only_requested_pages_are_prepared(acts):
    doc = render_document("gewerbeanmeldung", seed=5)
    out = ActivityEnvironment().run(acts.prepare_document,
                                    PrepareInput(blob_key=acts.blobs.put(doc.pdf_bytes), pages=[2]))
    assert [p.page for p in out.pages] == [2]


def test_bad_input_becomes_a_non_retryable_application_error(acts):
    key = acts.blobs.put(badfiles.encrypted_pdf())
    with pytest.raises(ApplicationError) as info:
        ActivityEnvironment().run(acts.prepare_document, PrepareInput(blob_key=key))
    assert info.value.type == "encrypted_pdf" and info.value.non_retryable
    assert "verschlüsselt" in info.value.message


@pytest.mark.integration
def test_upside_down_scan_is_turned_and_read(acts):
    doc = render_document("gewerbeanmeldung", seed=3)
    page = scan_pages(doc.pdf_bytes, "upside_down", seed=3)[0]
    key = acts.blobs.put(_png(page))
    out = ActivityEnvironment().run(acts.ocr_page, OcrPageInput(page=1, image_key=key, dpi=300))
    content = PageContent.model_validate_json(acts.blobs.get(out.content_key))
    assert content.rotation_applied == 180
    assert content.image_key != key  # the upright rendering is stored for the UI and checkboxes
    text = content.text.replace(" ", "")
    assert "Gewerbe-Anmeldung" in text
    found = [k for k in ("family_name", "given_names", "email", "activity")
             if str(doc.truth[k]).replace(" ", "") in text]
    assert len(found) >= 2, found


def test_a_digital_pdf_is_not_rendered_until_someone_looks(acts):
    doc = render_document("gewerbeanmeldung", seed=6)
    blob_key = acts.blobs.put(doc.pdf_bytes)
    out = ActivityEnvironment().run(acts.prepare_document, PrepareInput(blob_key=blob_key))
    pages = [PageContent.model_validate_json(acts.blobs.get(p.content_key)) for p in out.pages]
    assert all(p.image_key is None for p in out.pages) and all(p.image_key is None for p in pages)
    assert all(p.source_key == blob_key for p in pages)
    # whoever needs the pixels renders them from the original, at the page's size
    from formwerk.pagerender import RenderedPages, stored_or_rendered_png
    from PIL import Image

    png = stored_or_rendered_png(acts.blobs, RenderedPages(), None, pages[0].source_key, 1, pages[0].dpi)
    image = Image.open(io.BytesIO(png))
    # pdfium rounds the bitmap up to whole pixels (595.28 pt at 300 dpi: 2481 px, not 2480)
    assert abs(image.width - pages[0].width) <= 1 and abs(image.height - pages[0].height) <= 1
    assert image.getextrema()[0] < 100  # ink: the form was drawn, not a blank page


@pytest.mark.integration
def test_a_scanned_pdf_page_is_rendered_by_its_ocr_activity(acts):
    from bench.synth import scan_document

    doc = render_document("gewerbeanmeldung", seed=7)
    blob_key = acts.blobs.put(scan_document(doc, "office_300", seed=7))
    prepared = ActivityEnvironment().run(acts.prepare_document, PrepareInput(blob_key=blob_key))
    first = prepared.pages[0]
    assert first.needs_ocr and first.image_key is None and first.source_key == blob_key
    out = ActivityEnvironment().run(acts.ocr_page, OcrPageInput(page=first.page, source_key=first.source_key,
                                                                dpi=first.dpi))
    content = PageContent.model_validate_json(acts.blobs.get(out.content_key))
    assert content.source == "ocr" and "Gewerbe" in content.text
    # an upright page is not stored: rendered again and levelled, it is the very image that was read
    assert content.image_key is None and content.rotation_applied == 0
    from formwerk.documents.upright import deskew
    from formwerk.pagerender import page_pixels, render_page

    read, skew = deskew(render_page(acts.blobs.get(blob_key), first.page, first.dpi))
    assert skew == content.skew_corrected
    again = page_pixels(acts.blobs, None, blob_key, first.page, first.dpi, content.skew_corrected)
    assert again.mode == "L" and again.size == (content.width, content.height)
    assert again.tobytes() == read.convert("L").tobytes()


def test_a_turned_scan_page_is_stored_upright(acts):
    import pypdfium2 as pdfium

    from bench.synth import scan_document

    doc = render_document("gewerbeanmeldung", seed=7)

    scan = scan_document(doc, "office_300", seed=7)
    pdf = pdfium.PdfDocument(scan)
    pdf[0].set_rotation(180)  # scanned upside down
    buf = io.BytesIO()
    pdf.save(buf)
    pdf.close()
    blob_key = acts.blobs.put(buf.getvalue())
    out = ActivityEnvironment().run(acts.ocr_page, OcrPageInput(page=1, source_key=blob_key, dpi=300))
    content = PageContent.model_validate_json(acts.blobs.get(out.content_key))
    assert content.rotation_applied in (90, 180, 270) and content.image_key  # turned: stored as read
    assert "Gewerbe" in content.text


def test_a_filled_forms_pdf_is_not_split_as_a_batch(tmp_path):
    from formwerk.models import Classification
    from workflows.messages import ClassifyInput, ContentRef

    class FormFieldClassifier:
        version = "fields-1"
        split_calls = 0

        def classify(self, content):
            return Classification(document_type="gewerbeanmeldung", confidence=0.999, by_form_fields=True)

        def split_batch(self, pages):
            FormFieldClassifier.split_calls += 1
            raise AssertionError("the encoder ran over a form's own PDF")

    acts = CaseActivities(
        blobs=BlobStore(tmp_path / "b"), cases=CaseStore.from_url(f"sqlite:///{tmp_path / 'c.db'}"),
        ocr=TesseractEngine(), classifier=FormFieldClassifier(), extractor=FakeExtractor(),
        known_types={"gewerbeanmeldung"})
    doc = render_document("gewerbeanmeldung", seed=8)
    prepared = ActivityEnvironment().run(acts.prepare_document, PrepareInput(blob_key=acts.blobs.put(doc.pdf_bytes)))
    assert len(prepared.pages) > 1
    ref = ContentRef(content_keys=[p.content_key for p in prepared.pages])
    out = ActivityEnvironment().run(acts.classify_document, ClassifyInput(content=ref, split=True))
    assert out.segments == [] and FormFieldClassifier.split_calls == 0


def test_a_refused_file_is_a_benign_failure_and_a_fault_is_not():
    from temporalio.exceptions import ApplicationErrorCategory

    from formwerk.errors import CorruptFileError, FormwerkError
    from workflows.activities import boundary

    def fails_with(exc):
        @boundary
        def act():
            raise exc
        with pytest.raises(ApplicationError) as info:
            act()
        return info.value

    refused = fails_with(CorruptFileError())
    # logged by the SDK at debug level: an expected outcome prints no traceback on stderr
    assert refused.category == ApplicationErrorCategory.BENIGN and refused.non_retryable
    fault = fails_with(FormwerkError(detail="store down"))
    assert fault.category == ApplicationErrorCategory.UNSPECIFIED


# -- a filled form's words are read only when a step needs them ------------------------


def _filled_form_pdf(value: str = "Müller") -> bytes:
    """A one-page form with printed labels and one filled text field (reportlab's AcroForm)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setFont("Helvetica", 11)
    c.drawString(72, 780, "Gewerbe-Anmeldung nach § 14 GewO")
    c.drawString(72, 740, "Familienname der anmeldenden Person")
    c.acroForm.textfield(name="Name", value=value, x=72, y=700, width=200, height=20)
    c.save()
    return buf.getvalue()


class _RecordingClassifier:
    version = "rec-1"

    def __init__(self, by_form_fields: bool) -> None:
        self.by_form_fields = by_form_fields
        self.texts: list[str] = []

    def classify(self, content):
        from formwerk.models import Classification

        self.texts.append(" ".join(p.text for p in content.pages))
        return Classification(document_type="gewerbeanmeldung", confidence=0.99, by_form_fields=self.by_form_fields)


class _RecordingExtractor:
    version = "rec-1"

    def __init__(self, source: str) -> None:
        self.source = source
        self.texts: list[str] = []

    def extract(self, form_id, content, page_image):
        from formwerk.models import ExtractedField, Extraction

        self.texts.append(" ".join(p.text for p in content.pages))
        return Extraction(document_type=form_id, fields={"family_name": ExtractedField(
            name="family_name", value="Müller", confidence=0.99, source=self.source)})


@pytest.mark.parametrize("settled_by_fields", [True, False])
def test_a_filled_forms_words_are_read_only_when_a_step_needs_them(tmp_path, settled_by_fields):
    from formwerk.documents.pdf import read_pdf
    from formwerk.pagecontent import load_pages
    from workflows.messages import ClassifyInput, ContentRef, ExtractInput

    classifier = _RecordingClassifier(by_form_fields=settled_by_fields)
    # settled by its fields, the form is also read from them (acroform); else a field from the page
    extractor = _RecordingExtractor("acroform" if settled_by_fields else "text_layer")
    acts = CaseActivities(
        blobs=BlobStore(tmp_path / "b"), cases=CaseStore.from_url(f"sqlite:///{tmp_path / 'c.db'}"),
        ocr=TesseractEngine(), classifier=classifier, extractor=extractor, known_types={"gewerbeanmeldung"})
    data = _filled_form_pdf()
    prepared = ActivityEnvironment().run(acts.prepare_document, PrepareInput(blob_key=acts.blobs.put(data)))
    assert prepared.acroform_key and not any(p.needs_ocr for p in prepared.pages)
    stored = PageContent.model_validate_json(acts.blobs.get(prepared.pages[0].content_key))
    assert stored.source == "text_layer" and stored.words_deferred and stored.words == []

    ref = ContentRef(content_keys=[p.content_key for p in prepared.pages], acroform_key=prepared.acroform_key)
    ActivityEnvironment().run(acts.classify_document, ClassifyInput(content=ref, split=True))
    ActivityEnvironment().run(acts.extract_fields, ExtractInput(document_type="gewerbeanmeldung", content=ref))
    printed = "Gewerbe-Anmeldung nach § 14 GewO Familienname der anmeldenden Person"
    if settled_by_fields:  # nothing needed the printed words: never read
        assert classifier.texts == [""] and extractor.texts == [""]
    else:  # each step tried without, then read the words and ran again
        assert classifier.texts == ["", printed] and extractor.texts == ["", printed]

    # read later, the words are those an eager read finds
    eager = read_pdf(data, 300, 50).pages[0].words
    assert [w.text for w in eager] == printed.split()
    assert load_pages(acts.blobs, ref.content_keys)[0].words == eager
    assert load_pages(acts.blobs, ref.content_keys, words=False)[0].words == []
