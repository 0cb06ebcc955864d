"""Filled AcroForms are read from their fields (no OCR): every value right."""

from __future__ import annotations

from datetime import date

import pytest

from extractors import CatalogueExtractor
from forms import load_catalogue
from formwerk.models import AcroFormValue, DocumentContent

KG = "topmostSubform[0].Seite1[0]."
ROW = "topmostSubform[0].Page2[0].Punkt-5[0].Tabelle1-Kinder[0].Zeile{n}[0].Zelle{c}[0]"


@pytest.fixture(scope="module")
def extractor():
    return CatalogueExtractor(load_catalogue(), today=date(2026, 11, 27))


def acro(text: dict[str, str], boxes: dict[str, str], off: list[str] = ()) -> DocumentContent:
    vals = [AcroFormValue(name=k, value=v, page=1, bbox=[10, 10, 100, 30]) for k, v in text.items()]
    vals += [AcroFormValue(name=k, value=v, kind="checkbox") for k, v in boxes.items()]
    vals += [AcroFormValue(name=k, value="/Off", kind="checkbox") for k in off]
    return DocumentContent(acroform=vals)


GEWA1_TEXT = {
    "Name mit Rechtsform": "Müller Möbelbau GmbH", "Ort und Nummer des Registereintrags": "Amtsgericht Schwerin HRB 12345",
    "Name": "Müller", "Vorname(n)": "Jürgen Peter", "Geburtsname": "", "Geburtsdatum": "14.02.1986",
    "Geburtsort und -land": "Rostock, Deutschland", "Anschrift": "Hauptstraße 12a, 19053 Schwerin",
    "Telefon": "0385 1234567", "E-Mail": "juergen.mueller@web.de", "Anschrift Betriebsstätte": "Werkstraße 3, 19061 Schwerin",
    "Angemeldete Tätigkeit": "Herstellung von Möbeln", "Beginn der Tätigkeit": "01.09.2026",
    "Personenzahl Vollzeit": "3", "Personenzahl - Teilzeit": "0", "heutiges Datum": "20.08.2026",
}
GEWA1_TRUTH = {
    "registered_name": "Müller Möbelbau GmbH", "register_entry": "Amtsgericht Schwerin HRB 12345",
    "family_name": "Müller", "given_names": "Jürgen Peter", "sex": "female", "birth_name": None,
    "birth_date": "1986-02-14", "birth_place": "Rostock, Deutschland", "nationality": "other",
    "home_address": "Hauptstraße 12a, 19053 Schwerin", "phone": "0385 1234567", "email": "juergen.mueller@web.de",
    "business_address": "Werkstraße 3, 19061 Schwerin", "activity": "Herstellung von Möbeln",
    "activity_start": "2026-09-01", "employees_full_time": 3, "employees_part_time": 0, "sideline": True,
    "business_kind": "trade", "establishment_kind": "itinerant", "reason": "takeover",
    "signature_date": "2026-08-20",
}


@pytest.mark.parametrize("on", ["/Ja", "Ja"])
def test_gewa1_acroform_all_fields_right(extractor, on):
    boxes = {"weiblich": on, "andere": on, "ja - Nebenerwerb": on, "ja - Handel": on,
             "ja - Reisegewerbe": on, "ja - Erbfolge, Kauf, Pacht": on}
    off = ["männlich", "deutsch", "nein - Nebenerwerb", "ja - Industrie", "ja - Neugründung"]
    res = extractor.extract("gewerbeanmeldung", acro(GEWA1_TEXT, boxes, off), lambda n: None)
    got = {k: f.value for k, f in res.fields.items()}
    assert got == GEWA1_TRUTH
    for name, f in res.fields.items():
        if f.value is not None:
            assert f.source == "acroform" and f.confidence >= 0.95 and not f.issues, name
    assert res.fields["family_name"].page == 1 and res.fields["family_name"].bbox == [10, 10, 100, 30]
    assert res.fields["birth_name"].confidence == 0


def test_kg1_acroform_composes_tax_id_and_reads_the_children_table(extractor):
    text = {
        KG + "Punkt-1[0].Steuer-ID[0].Steuer-ID-1[0]": "86", KG + "Punkt-1[0].Steuer-ID[0].Steuer-ID-2[0]": "095",
        KG + "Punkt-1[0].Steuer-ID[0].Steuer-ID-3[0]": "742", KG + "Punkt-1[0].Steuer-ID[0].Steuer-ID-4[0]": "719",
        KG + "Punkt-1[0].Pkt-1-Zeile-1[0].Name-Antragsteller[0]": "Özdemir",
        KG + "Punkt-1[0].Pkt-1-Zeile-2[0].Vorname-Antragsteller[0]": "Ayşe",
        KG + "Punkt-3[0].IBAN[0]": "DE89370400440532013000", KG + "Punkt-3[0].BIC[0]": "COBADEFFXXX",
        KG + "Punkt-3[0].Name-Kontoinhaber[0]": "Özdemir, Ayşe",
        ROW.format(n=1, c=1): "Mia", ROW.format(n=1, c=2): "03.03.2015",
        ROW.format(n=2, c=1): "Emil Schneider", ROW.format(n=2, c=2): "17.10.2018",
    }
    res = extractor.extract("kindergeld_kg1", acro(text, {}), lambda n: None)
    f = res.fields
    assert f["tax_id"].value == "86095742719" and not f["tax_id"].issues
    assert f["iban"].value == "DE89370400440532013000" and f["bic"].value == "COBADEFFXXX"
    kids = f["children"].value
    assert [{k: c[k] for k in ("given_names", "family_name", "birth_date")} for c in kids] == [
        {"given_names": "Mia", "family_name": "Özdemir", "birth_date": "2015-03-03"},
        {"given_names": "Emil", "family_name": "Schneider", "birth_date": "2018-10-17"},
    ]


def test_kg1_bad_tax_id_is_flagged(extractor):
    text = {KG + f"Punkt-1[0].Steuer-ID[0].Steuer-ID-{i}[0]": v for i, v in enumerate(["86", "095", "742", "718"], 1)}
    f = extractor.extract("kindergeld_kg1", acro(text, {}), lambda n: None).fields["tax_id"]
    assert f.value == "86095742718" and f.issues[0].code == "tax_id_checksum" and f.confidence < 0.5


def test_melde_acroform_splits_birth_and_composes_addresses(extractor):
    text = {
        "Neue Wohnung Tag des Einzugs": "15.08.2026",
        "Neue Wohnung des Einzugs Postleitzahl Gemeinde Ortsteil": "19053 Schwerin",
        "Neue Wohnung Straße Hausnummer Zusätze": "Schlossstraße 7",
        "Person 1 Tag Ort Land der Geburt": "21.11.1990, Leipzig",
        "Person 1 Familienname ggf Doktorgrad Passname": "Krüger",
        "Dokument 1 Seriennummer": "L01X00T47",
    }
    f = extractor.extract("meldebehoerde_anmeldung", acro(text, {}), lambda n: None).fields
    assert f["new_address"].value == "Schlossstraße 7, 19053 Schwerin"
    assert f["birth_date"].value == "1990-11-21" and f["birth_place"].value == "Leipzig"
    assert f["move_in_date"].value == "2026-08-15" and f["family_name"].value == "Krüger"
    assert f["id_document_number"].value == "L01X00T47"
    assert f["previous_address"].value is None


def test_wohngeld_acroform(extractor):
    text = {"antragsteller_familienname": "Schäfer", "wohnungsadresse": "50667 Köln, Domstraße 14",
            "warmmiete": "642,50", "antragsteller_kontonummer": "DE89 3704 0044 0532 0130 00"}
    f = extractor.extract("wohngeld_mietzuschuss", acro(text, {}), lambda n: None).fields
    assert f["home_address"].value == "Domstraße 14, 50667 Köln"
    assert f["rent_total"].value == "642.50"
    assert f["account_number"].value == "DE89 3704 0044 0532 0130 00"  # as printed (FORMS.md)
    assert not f["account_number"].issues


def test_radio_group_one_entry_per_widget(extractor):
    """The page reader gives one entry per widget: the ticked kid must win."""
    from forms import FormDefinition
    from forms.catalogue import Catalogue

    form = FormDefinition.model_validate({"id": "r", "title": "R", "fields": [
        {"name": "sex", "type": "choice", "options": [
            {"id": "male", "acroform": ["geschlecht=1"]}, {"id": "female", "acroform": ["geschlecht=2"]}]}]})
    vals = [AcroFormValue(name="geschlecht", value="Off", kind="checkbox"),
            AcroFormValue(name="geschlecht", value="2", kind="checkbox")]
    ext = CatalogueExtractor(Catalogue({"r": form}))
    assert ext.extract("r", DocumentContent(acroform=vals), lambda n: None).fields["sex"].value == "female"
    vals.reverse()
    assert ext.extract("r", DocumentContent(acroform=vals), lambda n: None).fields["sex"].value == "female"


def test_unfilled_acroform_falls_back_to_words(extractor):
    from formwerk.models import PageContent, Word

    words = [Word(text="Angaben", bbox=[100, 300, 250, 330]), Word(text="zur", bbox=[260, 300, 320, 330]),
             Word(text="Person", bbox=[330, 300, 450, 330]),
             Word(text="3", bbox=[100, 400, 115, 430]), Word(text="Name", bbox=[130, 400, 220, 430]),
             Word(text="Schäfer", bbox=[110, 450, 260, 480])]
    content = DocumentContent(pages=[PageContent(page=1, width=2480, height=3508, words=words)],
                              acroform=[AcroFormValue(name="Name", value=""),
                                        AcroFormValue(name="männlich", value="Off", kind="checkbox")])
    f = extractor.extract("gewerbeanmeldung", content, lambda n: None).fields["family_name"]
    assert f.value == "Schäfer" and f.source == "ocr"


@pytest.mark.parametrize("doc_type", ["gewerbeanmeldung", "wohngeld_mietzuschuss", "meldebehoerde_anmeldung",
                                      "kindergeld_kg1"])
def test_real_filled_acroforms_all_right(extractor, doc_type):
    """The real PDFs filled with fake data (../shared/data; skipped without): 100 %, all confident."""
    synth = pytest.importorskip("bench.synth")
    from bench.metrics import has_truth, values_equal
    from formwerk.documents.pdf import read_acroform

    for seed in range(2):
        doc = synth.fill_real_form(doc_type, seed)
        if doc is None:
            pytest.skip("../shared/data not available")
        content = DocumentContent(acroform=read_acroform(doc.pdf_bytes, 300 / 72))
        res = extractor.extract(doc_type, content, lambda n: None)
        for name, truth in doc.truth.items():
            if has_truth(truth):
                f = res.fields[name]
                assert values_equal(truth, f.value), (seed, name, truth, f.value)
                assert f.confidence >= 0.95 and f.source == "acroform", (name, f)
