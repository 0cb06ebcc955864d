"""Second reads are bounded (issue 17): a read past its timeout raises the page
engines' error (``OcrEngineError``), and an extraction whose second read timed
out finishes, leaves the field to the page read and a clerk, and says so in the
log without applicant data."""

from __future__ import annotations

import logging
import threading
import time
from datetime import date

import pytest
from PIL import Image, ImageDraw

from extractors import CatalogueExtractor
from extractors.reocr import TesseractCrops
from forms import load_catalogue
from formwerk import tess_inproc
from formwerk.errors import OcrEngineError
from formwerk.models import Classification
from formwerk.routing import route
from tests.drawing import truetype_font

synth = pytest.importorskip("bench.synth")
from tests.test_extract_support import render_pages, text_layer_content, with_unsure_word  # noqa: E402


def _block(lines: int = 30) -> Image.Image:
    """A page of text: far more than a millisecond of recognition."""
    img = Image.new("L", (2400, 80 * lines + 60), 255)
    d = ImageDraw.Draw(img)
    for i in range(lines):
        d.text((30, 30 + 80 * i), f"Zeile {i} Gewerbeanmeldung Mühlenstraße 12 47239 Duisburg", fill=0,
               font=truetype_font(44))
    return img


def _line(text: str) -> Image.Image:
    img = Image.new("L", (900, 120), 255)
    ImageDraw.Draw(img).text((30, 30), text, fill=0, font=truetype_font(44))
    return img


@pytest.mark.parametrize("in_process", [True, False])
def test_a_read_past_its_timeout_is_an_ocr_engine_error_and_the_next_read_works(monkeypatch, in_process):
    monkeypatch.setattr(tess_inproc, "_failed", threading.Event())
    crops = TesseractCrops(in_process=in_process, timeout_s=0.001)
    with pytest.raises(OcrEngineError, match="timeout"):
        crops.read_words(_block(), "deu", 6)
    assert not tess_inproc._failed.is_set()  # a timeout is no broken install: in process stays on
    # the thread's API was cleared, not left half-way
    again = TesseractCrops(in_process=in_process).read_words(_line("Wohngeld 2026"), "deu", 7)
    assert " ".join(w["text"] for w in again) == "Wohngeld 2026"


def test_an_in_process_timeout_is_not_read_again_by_the_cli(monkeypatch):
    cli_calls = []
    monkeypatch.setattr(tess_inproc, "_words_cli", lambda *a: cli_calls.append(a) or [])
    monkeypatch.setattr(tess_inproc, "_failed", threading.Event())
    tess_inproc.available.cache_clear()
    with pytest.raises(OcrEngineError, match="timeout"):
        tess_inproc.read_words(_block(), "deu", 6, timeout_s=0.001)
    assert cli_calls == []  # a crop that hangs one Tesseract hangs the other


class HangingCrops:
    """A crop engine whose recognition would take a minute, bounded at
    ``timeout_s`` as :class:`extractors.reocr.TesseractCrops` is."""

    def __init__(self, timeout_s: float = 0.2) -> None:
        self.timeout_s = timeout_s
        self.calls = 0

    def read_words(self, image, lang, psm, whitelist=None):
        self.calls += 1
        time.sleep(min(60.0, self.timeout_s))
        raise OcrEngineError(detail=f"tesseract timeout after {self.timeout_s} s")


class EmptyCrops:
    def __init__(self) -> None:
        self.calls = 0

    def read_words(self, image, lang, psm, whitelist=None):
        self.calls += 1
        return []


@pytest.fixture(scope="module")
def unsure_scan():
    """A generated GewA 1 as an OCR'd page whose family name the page read is
    unsure of (word confidence 0.8): the name gets a second read."""
    doc = synth.render_document("gewerbeanmeldung", 0)
    content = text_layer_content(doc.pdf_bytes)
    imgs = render_pages(doc.pdf_bytes)
    return with_unsure_word(content, doc.truth["family_name"], 0.8), imgs, doc.truth


def test_a_second_read_that_times_out_leaves_the_field_for_review(unsure_scan, caplog):
    content, imgs, truth = unsure_scan
    catalogue = load_catalogue()
    hanging = HangingCrops()
    ext = CatalogueExtractor(catalogue, today=date(2026, 11, 27), crop_ocr=hanging)
    with caplog.at_level(logging.WARNING, logger="extractors.reader"):
        res = ext.extract("gewerbeanmeldung", content, lambda p: imgs.get(p))
    # the extraction finished: one wait, then no more second reads for this document
    assert hanging.calls == 1
    name = res.fields["family_name"]
    assert name.value == truth["family_name"] and name.source == "ocr"  # the page read is kept ...
    assert not any(i.code == "extraction_error" for i in name.issues)
    policy = catalogue.get("gewerbeanmeldung").policy
    decision = route(Classification(document_type="gewerbeanmeldung", confidence=1.0), res, policy)
    assert "family_name" in decision.fields_to_review  # ... unconfirmed: a clerk looks
    # the other fields are read as without the failure
    assert res.fields["given_names"].value == truth["given_names"]
    assert res.fields["birth_date"].value == truth["birth_date"]
    # visible in the log, without applicant data
    logged = [r.getMessage() for r in caplog.records if "second read" in r.getMessage()]
    assert len(logged) == 1 and "timeout" in logged[0] and "gewerbeanmeldung" in logged[0]
    assert not any(v in caplog.text for v in (truth["family_name"], truth["given_names"], truth["birth_place"]))


def test_a_timed_out_second_read_changes_no_other_field_against_an_empty_one(unsure_scan):
    """A timeout reads nothing: every other field is what an engine that read nothing gives;
    the field whose second read timed out is marked down, whatever its page read said."""
    content, imgs, _ = unsure_scan
    catalogue = load_catalogue()
    empty = CatalogueExtractor(catalogue, today=date(2026, 11, 27), crop_ocr=EmptyCrops())
    hanging = CatalogueExtractor(catalogue, today=date(2026, 11, 27), crop_ocr=HangingCrops(0.01))
    a = empty.extract("gewerbeanmeldung", content, lambda p: imgs.get(p))
    b = hanging.extract("gewerbeanmeldung", content, lambda p: imgs.get(p))
    assert {n: (f.value, f.confidence) for n, f in a.fields.items() if n != "family_name"} == \
        {n: (f.value, f.confidence) for n, f in b.fields.items() if n != "family_name"}
    assert b.fields["family_name"].value == a.fields["family_name"].value
    assert b.fields["family_name"].confidence <= 0.1 < a.fields["family_name"].confidence


def test_a_fairly_sure_value_whose_second_read_timed_out_does_not_pass_unchecked(unsure_scan):
    """Page read at 0.93: high enough that, unconfirmed, it would pass the routing threshold;
    its second read timing out leaves nothing to vouch for it."""
    content, imgs, truth = unsure_scan
    name = truth["family_name"]
    sure = with_unsure_word(content, name, 0.93)
    catalogue = load_catalogue()
    hanging = HangingCrops(0.01)
    res = CatalogueExtractor(catalogue, today=date(2026, 11, 27), crop_ocr=hanging).extract(
        "gewerbeanmeldung", sure, lambda p: imgs.get(p))
    policy = catalogue.get("gewerbeanmeldung").policy
    decision = route(Classification(document_type="gewerbeanmeldung", confidence=1.0), res, policy)
    assert hanging.calls == 1  # the page read was unsure enough to ask for a second read
    assert "family_name" in decision.fields_to_review
    assert res.fields["family_name"].value == name
