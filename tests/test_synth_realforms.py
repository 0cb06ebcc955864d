"""Filling the real AcroForms (skips when ../shared/data is absent)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from pypdf import PdfReader

from bench.synth import fill_real_form, scan_pages
from bench.synth.realforms import REAL_FORM_FILES, real_form_path
from bench.synth.scan import rasterise

TYPES = sorted(REAL_FORM_FILES)


def test_types_without_real_form_give_none():
    assert fill_real_form("invoice", 1) is None


@pytest.mark.parametrize("doc_type", TYPES)
def test_fill_real_form_writes_truth_into_fields(doc_type):
    if real_form_path(doc_type) is None:
        pytest.skip("shared data folder absent")
    doc = fill_real_form(doc_type, 3)
    assert doc is not None and doc.variant == "real" and doc.doc_type == doc_type
    fields = PdfReader(io.BytesIO(doc.pdf_bytes)).get_fields()
    values = {k: str(v.get("/V")) for k, v in fields.items() if v.get("/V") is not None}
    assert values, "no field filled"
    family = doc.truth["family_name"]
    assert any(family in v for v in values.values())
    for name, value in doc.meta["acroform"].items():
        if value:
            assert name in fields
    assert fill_real_form(doc_type, 3).truth == doc.truth


def test_filled_values_are_drawn_when_rasterised():
    path = real_form_path("gewerbeanmeldung")
    if path is None:
        pytest.skip("shared data folder absent")
    doc = fill_real_form("gewerbeanmeldung", 1)
    blank = np.asarray(rasterise(path.read_bytes(), 50)[0].convert("L"), dtype=np.int16)
    filled = np.asarray(rasterise(doc.pdf_bytes, 50)[0].convert("L"), dtype=np.int16)
    # the applicant's values add ink: rendering without form support would not
    assert (np.abs(blank - filled) > 60).sum() > 500


def test_real_form_scan_profile():
    if real_form_path("meldebehoerde_anmeldung") is None:
        pytest.skip("shared data folder absent")
    doc = fill_real_form("meldebehoerde_anmeldung", 2)
    pages = scan_pages(doc.pdf_bytes, "upside_down", seed=2, dpi=100)
    assert len(pages) == 1 and pages[0].height > pages[0].width


def test_a_circled_label_is_the_words_on_the_box_line_only():
    # the GewA 1's "Gesellschaftereintritt" box reaches into the line above
    # ("Neuerrichtung / Übernahme"): an applicant circles the option's own words
    import pdfplumber

    from bench.synth.ticks import _button_names, label_beside, widget_rects

    path = real_form_path("gewerbeanmeldung")
    if path is None:
        pytest.skip("the real GewA 1 is not there")
    pdf = path.read_bytes()
    boxes = widget_rects(PdfReader(io.BytesIO(pdf)), _button_names(PdfReader(io.BytesIO(pdf))))
    page, box = boxes["ja - Gesellschaftereintritt"]
    label = label_beside(pdf, page, box, [b for p, b in boxes.values() if p == page and b != box])
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        p = doc.pages[page]
        words = [w["text"] for w in p.extract_words()
                 if w["x0"] >= label[0] - 0.5 and w["x1"] <= label[2] + 0.5
                 and float(p.height) - w["bottom"] >= label[1] - 0.5 and float(p.height) - w["top"] <= label[3] + 0.5]
    assert words == ["Gesellschaftereintritt"]
