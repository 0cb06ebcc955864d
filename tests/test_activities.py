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
from workflows.activities import CaseActivities, _png
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
