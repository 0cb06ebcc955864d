"""Invoice reading (extractors.invoice_fields) on generated and hand-made text lines.

Generated invoices come from ``bench.synth`` (text layer, no OCR); the real
ZUGFeRD samples of ``../shared/data`` are used only when present.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bench import synth
from bench.metrics import values_equal
from extractors import CatalogueExtractor
from extractors.invoice_fields import find_iban, find_invoice_date, find_invoice_number, find_total, full_lines
from extractors.regions import PageWords
from forms import load_catalogue
from formwerk.documents.pdf import read_pdf
from formwerk.models import DocumentContent, PageContent, Word

H = 30


def page_of(*rows: str, conf: float = 0.97) -> dict[int, PageWords]:
    """One page; each row a line of words 18 px per character, rows 60 px apart."""
    words = []
    for i, row in enumerate(rows):
        x, y = 200.0, 300.0 + 60 * i
        for part in row.split():
            w = 18 * len(part)
            words.append(Word(text=part, bbox=[x, y, x + w, y + H], confidence=conf))
            x += w + 14
    return {1: PageWords(1, words, 300, 2480, 3508)}


def text_layer(pdf: bytes) -> DocumentContent:
    info = read_pdf(pdf, 300, 20)
    return DocumentContent(pages=[PageContent(page=p.index + 1, width=p.width_px, height=p.height_px, dpi=300,
                                              source="text_layer", words=p.words) for p in info.pages])


@pytest.fixture(scope="module")
def extractor():
    return CatalogueExtractor(load_catalogue(), today=date(2026, 11, 27))


def test_label_words_are_not_values():
    """The regressions of issue 4: "ohne USt." as number, 0,00 of a surcharge line as total."""
    lines = full_lines(page_of(
        "Handelsrechnung (380) Nr. 471102 vom 05.03.2018",
        "Rechnungssumme ohne USt. 473,00",
        "Gesamtbetrag der Zuschläge 0,00",
        "Steuerbetrag 56,87",
        "Bruttosumme 529,87",
        "Zahlbetrag 529,87",
    ))
    assert find_invoice_number(lines).raw == "471102"
    assert find_invoice_date(lines).raw == "05.03.2018"
    total = find_total(lines)
    assert total.raw == "529.87"
    assert total.evidence == 1.0  # 473,00 + 56,87 = 529,87: the arithmetic confirms it


def test_total_that_does_not_add_up_is_less_sure():
    lines = full_lines(page_of("Nettobetrag 100,00", "zzgl. 19 % USt. 19,00", "Gesamtbetrag 129,00"))
    assert find_total(lines).raw == "129.00"
    assert find_total(lines).evidence < 1.0


def test_first_number_wins_over_later_references():
    lines = full_lines(page_of("Rechnungs-Nr.: RE2026-00123", "Bitte Belegnummer 999888 angeben"))
    assert find_invoice_number(lines).raw == "RE2026-00123"
    lines = full_lines(page_of("Datum: 01.02.2026", "Lieferdatum: 03.01.2026"))
    assert find_invoice_date(lines).raw == "01.02.2026"


def test_iban_repaired_and_buyer_account_ignored():
    lines = full_lines(page_of("Käufer-IBAN DE21 8600 0000 0086 0010 55",
                               "IBAN: DEO5 1097 8346 8806 6731 01 Bank: Sparkasse"))
    found = find_iban(lines)
    assert found.raw == "DE05109783468806673101"


@pytest.mark.parametrize("seed", range(6))
def test_generated_invoices_text_layer(extractor, seed):
    doc = synth.render_document("invoice", 500 + seed)
    res = extractor.extract("invoice", text_layer(doc.pdf_bytes), lambda p: None)
    wrong = [(k, v, res.fields[k].value) for k, v in doc.truth.items() if not values_equal(v, res.fields[k].value)]
    assert not wrong
    # the arithmetic-checked total and the mod-97 IBAN are confident
    assert res.fields["total_amount"].confidence >= 0.9
    assert res.fields["iban"].confidence >= 0.95


REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "invoices" / "XML-Rechnung"


@pytest.mark.skipif(not (REAL / "FX").is_dir(), reason="shared invoice data not present")
def test_real_zugferd_text_layer(extractor):
    from bench.cii import invoice_truth

    ok = n = 0
    for name in ["EN16931_Einfach", "EN16931_Elektron", "EN16931_Gutschrift", "EN16931_OEPNV"]:
        truth = invoice_truth(REAL / "CII" / f"{name}.cii.xml")
        res = extractor.extract("invoice", text_layer((REAL / "FX" / f"{name}.pdf").read_bytes()), lambda p: None)
        for k, v in truth.items():
            if v is not None:
                n += 1
                ok += values_equal(v, res.fields[k].value)
    assert ok / n >= 0.9
