"""Every synthetic type renders, carries its labels and values, and is deterministic."""

from __future__ import annotations

import io
import re

import pdfplumber
import pytest

from bench.synth import available_types, render_document
from bench.synth.fake_data import de_date

FORM_LABELS = {
    "gewerbeanmeldung": ["Gewerbe-Anmeldung", "GewA 1", "Geburtsdatum", "Betriebsstätte"],
    "gewerbeabmeldung": ["Gewerbe-Abmeldung", "GewA 3", "Abgemeldete Tätigkeit",
                         "Datum der Betriebsaufgabe"],
    "wohngeld_mietzuschuss": ["Antrag auf Wohngeld", "Familienname, ggf. Geburtsname",
                              "Name des Kreditinstituts", "Kontonummer", "Tag Monat Jahr"],
    "meldebehoerde_anmeldung": ["Anmeldung", "Tag des Einzugs", "Tag des Auszugs",
                                "Straße, Hausnummer, Zusätze", "Seriennummer"],
    "kindergeld_kg1": ["Antrag auf Kindergeld", "KG 1", "Steuerliche Identifikationsnummer",
                       "IBAN", "BIC", "Vorname des Kindes"],
}
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _text(pdf: bytes) -> str:
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return " ".join((p.extract_text() or "").replace("\n", " ") for p in doc.pages)


@pytest.mark.parametrize("doc_type", sorted(FORM_LABELS))
@pytest.mark.parametrize("seed", [0, 7])
def test_form_has_labels_and_truth_values(doc_type, seed):
    doc = render_document(doc_type, seed)
    assert doc.doc_type == doc_type
    text = _text(doc.pdf_bytes)
    for label in FORM_LABELS[doc_type]:
        assert label in text, label
    for key, value in doc.truth.items():
        if value is None or isinstance(value, (bool, int, list)):
            continue
        if key.endswith("date") or key in ("activity_start",):
            assert de_date(value) in text, key
            assert ISO.match(value), key
        elif key in ("sex", "nationality", "business_kind", "establishment_kind", "reason",
                     "extent") and doc_type.startswith("gewerbe"):
            continue  # choices are ticks, not text
        elif key in ("rent_total", "tax_id", "iban") or key.endswith("address"):
            continue  # printed in a different form (checked below)
        else:
            assert value in text, (key, value)


def test_kg1_children_and_numbers():
    doc = render_document("kindergeld_kg1", 3)
    t, text = doc.truth, _text(doc.pdf_bytes)
    assert t["children"] and all(set(c) == {"given_names", "family_name", "birth_date"}
                                 for c in t["children"])
    for c in t["children"]:
        assert c["given_names"] in text and de_date(c["birth_date"]) in text
    assert len(t["tax_id"]) == 11 and t["tax_id"] in text.replace(" ", "")
    assert t["iban"] in text.replace(" ", "")


def test_wohngeld_money_is_normalised():
    for seed in range(5):
        t = render_document("wohngeld_mietzuschuss", seed).truth
        assert re.match(r"^\d+\.\d{2}$", t["rent_total"])
        assert re.match(r"^.+ \S+, \d{5} .+$", t["home_address"])


@pytest.mark.parametrize("variant", ["classic", "modern", "einvoice"])
def test_invoice_truth(variant):
    doc = render_document("invoice", 2, variant)
    assert doc.doc_type == "invoice"
    assert set(doc.truth) == {"seller_name", "invoice_number", "invoice_date", "total_amount", "iban"}
    text = _text(doc.pdf_bytes)
    assert doc.truth["seller_name"] in text and doc.truth["invoice_number"] in text
    euros, cents = doc.truth["total_amount"].split(".")
    assert f"{int(euros):,}".replace(",", ".") + "," + cents in text


@pytest.mark.parametrize("variant,has_text", [("letter", True), ("blank", False),
                                              ("noise", False), ("unknown_form", True)])
def test_negatives_are_unknown(variant, has_text):
    doc = render_document("unknown", 5, variant)
    assert doc.doc_type == "unknown" and doc.truth == {}
    assert bool(_text(doc.pdf_bytes).strip()) == has_text


@pytest.mark.parametrize("doc_type", available_types())
def test_every_type_is_deterministic(doc_type):
    a, b = render_document(doc_type, 21), render_document(doc_type, 21)
    assert a.pdf_bytes == b.pdf_bytes and a.truth == b.truth and a.variant == b.variant


def test_variants_change_the_geometry():
    boxes = {}
    for v in ("boxed", "lined", "twocol"):
        with pdfplumber.open(io.BytesIO(render_document("gewerbeanmeldung", 1, v).pdf_bytes)) as d:
            words = d.pages[0].extract_words()
        boxes[v] = next((w["x0"], w["top"]) for w in words if w["text"] == "Geburtsdatum")
    assert len(set(boxes.values())) == 3
