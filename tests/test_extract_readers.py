"""The reader chain: chosen by the catalogue, asked in order, one field lost per failure."""

from __future__ import annotations

from datetime import date

import pytest

from extractors import CatalogueExtractor
from extractors.acro_fields import AcroFormReader
from extractors.catalogue_extractor import CHAINS
from extractors.reader import DocumentReader
from extractors.readers import Finisher
from forms import FormDefinition, load_catalogue
from forms.catalogue import Catalogue
from formwerk.models import AcroFormValue, DocumentContent, PageContent
from tests.test_extract_words import content_of, mini_form, words_of


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def test_the_catalogue_chooses_the_chain(catalogue):
    ext = CatalogueExtractor(catalogue)
    chain = lambda form_id: [r.name for r in ext.chain(catalogue.get(form_id))]  # noqa: E731
    # a free-layout form: its fields' finders first, labels for a field without one
    assert chain("invoice")[0] == "invoice" and chain("invoice")[-1] == "labels"
    # a form with AcroForm fields and known editions: the full chain of its reader
    assert chain("gewerbeanmeldung") == list(CHAINS["labels"]) == ["acroform", "edition", "labels"]
    # neither AcroForm names nor editions: only the label reader is asked
    assert not catalogue.get("gewerbeabmeldung").acroform_names and not catalogue.get("gewerbeabmeldung").editions
    assert chain("gewerbeabmeldung") == ["labels"]


def test_the_acroform_reader_passes_a_document_without_form_values_on(catalogue):
    form = catalogue.get("gewerbeanmeldung")
    f = form.field("family_name")
    read = lambda content: AcroFormReader(Finisher()).read(  # noqa: E731
        f, DocumentReader(form, content, lambda n: None, date(2026, 11, 27)), {})
    assert read(DocumentContent(pages=[PageContent(page=1, width=2480, height=3508)])) is None
    # an unfilled form (every box Off, every text empty): its values are in the words
    unfilled = [AcroFormValue(name="Name", value=""), AcroFormValue(name="männlich", value="/Off", kind="checkbox")]
    assert read(DocumentContent(acroform=unfilled)) is None
    filled = read(DocumentContent(acroform=[AcroFormValue(name="Name", value="Müller", page=1, bbox=[1, 2, 3, 4])]))
    assert filled.value == "Müller" and filled.source == "acroform"


def test_an_invoice_field_is_read_by_its_finder_before_its_label(catalogue, monkeypatch):
    ext = CatalogueExtractor(catalogue, today=date(2026, 11, 27))
    asked: list[tuple[str, str]] = []
    for name in ("invoice", "labels"):
        r = ext.readers[name]
        monkeypatch.setattr(r, "read", lambda f, doc, done, r=r, read=r.read: asked.append((r.name, f.name)) or read(f, doc, done))
    words = words_of(("Rechnungsnummer: RE-2026-0042", 200, 300), ("Gesamtbetrag 119,00", 200, 400))
    res = ext.extract("invoice", content_of(words), lambda n: None)
    assert res.fields["invoice_number"].value == "RE-2026-0042"
    assert ("invoice", "invoice_number") in asked and ("labels", "invoice_number") not in asked


def test_every_invoice_field_names_a_known_finder(catalogue):
    assert all(f.finder for f in catalogue.get("invoice").fields)
    bad = catalogue.get("invoice").model_copy(deep=True)
    bad.fields[0].finder = "sellr"
    with pytest.raises(ValueError, match="unknown finder"):
        CatalogueExtractor(Catalogue({bad.id: bad}))


def test_a_failing_reader_loses_only_its_field(monkeypatch):
    form = mini_form()
    ext = CatalogueExtractor(Catalogue({form.id: form}), today=date(2026, 11, 27))
    labels = ext.readers["labels"]
    real = labels.read

    def broken(f, doc, done):
        if f.name == "given_names":
            raise ZeroDivisionError("a bug in one reader")
        return real(f, doc, done)

    monkeypatch.setattr(labels, "read", broken)
    words = words_of(("3 Name", 100, 100), ("Müller", 300, 102), ("4 Vorname(n)", 900, 100), ("Jürgen", 1200, 102))
    res = ext.extract(form.id, content_of(words), lambda n: None)
    lost = res.fields["given_names"]
    assert lost.value is None and lost.confidence == 0 and [i.code for i in lost.issues] == ["extraction_error"]
    assert "ZeroDivisionError" in lost.extractor
    assert res.fields["family_name"].value == "Müller"
    assert set(res.fields) == set(form.field_names)


def test_a_split_name_goes_to_the_column_the_catalogue_names():
    with pytest.raises(ValueError, match="name_split"):
        FormDefinition.model_validate({"id": "t", "title": "T", "fields": [
            {"name": "kids", "type": "table", "name_split": "given", "columns": [{"name": "given"}]}]})


class _FakeCrops:
    """A second-read engine that reads every crop as one word (no Tesseract)."""

    def __init__(self):
        self.calls: list[int] = []

    def read_words(self, image, lang, psm, whitelist=None):
        self.calls.append(psm)
        return [{"text": "Jürgen", "conf": 95.0, "left": 20, "top": 20, "width": 100, "height": 30}]


def test_second_reads_go_through_the_injected_engine(catalogue):
    from PIL import Image, ImageDraw

    img = Image.new("L", (600, 120), 255)
    ImageDraw.Draw(img).rectangle([50, 40, 80, 70], fill=0)  # ink that is no ruling line
    fake = _FakeCrops()
    form = catalogue.get("gewerbeanmeldung")
    ext = CatalogueExtractor(catalogue, crop_ocr=fake)
    doc = DocumentReader(form, DocumentContent(pages=[PageContent(page=1, width=600, height=120)]),
                         lambda n: img, date(2026, 11, 27), ext.crop_ocr)
    words = doc.reread(1, [10, 10, 590, 110])
    assert [w.text for w in words] == ["Jürgen"] and fake.calls
    # words come back in page pixels: the 20 px pad off, the 2x enlargement undone
    assert words[0].bbox[0] == pytest.approx(10) and doc.reocr_left == 23
