"""Label-relative extraction on hand-made word lists (no OCR, no data)."""

from __future__ import annotations

from datetime import date

import pytest

from extractors import CatalogueExtractor
from forms import FormDefinition, load_catalogue
from forms.catalogue import Catalogue
from formwerk.models import DocumentContent, PageContent, Word

H = 30  # word height, pixels at 300 dpi


def words_of(*items: tuple[str, float, float], conf: float = 0.96) -> list[Word]:
    """(text, x, y) → words laid out left to right, 18 px per character."""
    out = []
    for text, x, y in items:
        for part in text.split():
            w = 18 * len(part)
            out.append(Word(text=part, bbox=[x, y, x + w, y + H], confidence=conf))
            x += w + 14
    return out


def content_of(words: list[Word]) -> DocumentContent:
    return DocumentContent(pages=[PageContent(page=1, width=2480, height=3508, words=words)])


def mini_form(**extra) -> FormDefinition:
    return FormDefinition.model_validate({
        "id": "mini", "title": "Mini-Antrag", "fields": [
            {"name": "family_name", "type": "text", "required": True, "label": ["3 Name"], "position": "right",
             "stop_labels": ["4 Vorname(n)"]},
            {"name": "given_names", "type": "text", "label": ["4 Vorname(n)"], "position": "right"},
            {"name": "birth_date", "type": "date", "label": ["Geburtsdatum"], "position": "below",
             "validators": ["birth_date"]},
            {"name": "iban", "type": "iban", "label": ["IBAN"], "position": "below"},
            {"name": "email", "type": "email", "label": ["Telefon/E-Mail"], "position": "below"},
            {"name": "phone", "type": "phone", "label": ["Telefon/E-Mail"], "position": "below"},
            {"name": "rent", "type": "money", "label": ["monatliche Miete"], "position": "right", "ignore": ["€"]},
        ], **extra})


def extract(words, form=None, today=date(2026, 11, 27)):
    form = form or mini_form()
    return CatalogueExtractor(Catalogue({form.id: form}), today=today).extract(form.id, content_of(words), lambda n: None)


def test_right_and_below_values_stop_at_the_next_label():
    res = extract(words_of(
        ("3 Name", 100, 100), ("Müller", 300, 102), ("4 Vorname(n)", 900, 100), ("Jürgen Peter", 1200, 102),
        ("Geburtsdatum", 100, 300), ("14.02.1986", 110, 345),
        ("IBAN", 100, 500), ("DE89 3704 0044 0532 0130 00", 110, 545),
    ))
    f = res.fields
    assert f["family_name"].value == "Müller"  # not "Müller 4 Vorname(n) ..."
    assert f["given_names"].value == "Jürgen Peter"
    assert f["birth_date"].value == "1986-02-14" and f["birth_date"].raw == "14.02.1986"
    assert f["iban"].value == "DE89370400440532013000"
    assert f["family_name"].source == "ocr" and f["family_name"].page == 1
    x0, y0, x1, y1 = f["family_name"].bbox
    assert 300 <= x0 < x1 <= 900 and y0 >= 100


def test_every_field_is_returned_missing_ones_with_zero_confidence():
    res = extract(words_of(("3 Name", 100, 100), ("Müller", 300, 102)))
    assert set(res.fields) == {f.name for f in mini_form().fields}
    assert res.fields["iban"].value is None and res.fields["iban"].confidence == 0
    assert res.document_type == "mini" and res.extractor_version


def test_labels_survive_ocr_errors():
    res = extract(words_of(("3 Name", 100, 100), ("Müller", 300, 102), ("4 Vomame(n)", 900, 100),
                           ("Jürgen", 1200, 102), ("Geburtsdaturn", 100, 300), ("14.02.1986", 110, 345)))
    assert res.fields["family_name"].value == "Müller"  # stopped by the misread label
    assert res.fields["given_names"].value == "Jürgen"
    assert res.fields["birth_date"].value == "1986-02-14"
    # label match quality enters the confidence
    clean = extract(words_of(("Geburtsdatum", 100, 300), ("14.02.1986", 110, 345))).fields["birth_date"]
    assert res.fields["birth_date"].confidence < clean.confidence


def test_shared_box_phone_and_email_are_picked_by_type():
    res = extract(words_of(("Telefon/E-Mail", 100, 700), ("0385 1234567", 110, 745),
                           ("max.muster@web.de", 110, 790)))
    assert res.fields["phone"].value == "0385 1234567"
    assert res.fields["email"].value == "max.muster@web.de"


def test_failed_validator_lowers_confidence_and_explains_in_german():
    good = extract(words_of(("IBAN", 100, 500), ("DE89 3704 0044 0532 0130 00", 110, 545))).fields["iban"]
    bad = extract(words_of(("IBAN", 100, 500), ("DE89 3704 0044 0532 0130 01", 110, 545))).fields["iban"]
    assert bad.value == "DE89370400440532013001"
    assert [i.code for i in bad.issues] == ["iban_checksum"] and "IBAN" in bad.issues[0].message
    assert bad.confidence < 0.5 < good.confidence
    future = extract(words_of(("Geburtsdatum", 100, 300), ("14.02.2030", 110, 345))).fields["birth_date"]
    assert future.issues[0].code == "birth_date_future" and future.confidence < 0.5


def test_unreadable_value_is_kept_as_text_with_format_issue():
    f = extract(words_of(("Geburtsdatum", 100, 300), ("vierzehnter", 110, 345))).fields["birth_date"]
    assert f.value == "vierzehnter" and f.issues[0].code == "format_date" and f.confidence < 0.3


def test_confidence_follows_ocr_word_confidence():
    sure = extract(words_of(("3 Name", 100, 100), ("Müller", 300, 102))).fields["family_name"]
    unsure_words = words_of(("3 Name", 100, 100)) + words_of(("Müller", 300, 102), conf=0.55)
    unsure = extract(unsure_words).fields["family_name"]
    assert 0 <= unsure.confidence < sure.confidence <= 1
    assert sure.confidence >= 0.9


def test_money_with_euro_sign():
    f = extract(words_of(("monatliche Miete", 100, 900), ("642,50 €", 600, 902))).fields["rent"]
    assert f.value == "642.50" and f.raw.startswith("642,50")


def test_cross_field_rule_flags_both_fields():
    form = FormDefinition.model_validate({
        "id": "r", "title": "R", "fields": [
            {"name": "birth_date", "type": "date", "label": ["Geburtsdatum"]},
            {"name": "start", "type": "date", "label": ["Beginn"]}],
        "rules": [{"code": "start_before_birth", "check": "date_after", "fields": ["start", "birth_date"],
                   "message": "Der Beginn liegt vor dem Geburtsdatum."}]})
    res = extract(words_of(("Geburtsdatum", 100, 300), ("14.02.1986", 110, 345),
                           ("Beginn", 1200, 300), ("01.01.1980", 1210, 345)), form)
    assert [i.code for i in res.issues] == ["start_before_birth"]
    assert res.issues[0].fields == ["start", "birth_date"]
    assert all(res.fields[n].issues for n in ("start", "birth_date"))


@pytest.mark.parametrize("position", ["right", "below"])
def test_declared_position_falls_back_to_the_other_layout(position):
    form = mini_form()
    form.field("birth_date").position = position
    layout = [("Geburtsdatum", 100, 300), ("14.02.1986", 110, 345)] if position == "right" else \
        [("Geburtsdatum", 100, 300), ("14.02.1986", 450, 300)]
    f = extract(words_of(*layout), form).fields["birth_date"]
    assert f.value == "1986-02-14"


def test_catalogue_form_on_words_gewerbeanmeldung_subset():
    """The real catalogue definition reads a GewA 1-like layout (labels above values)."""
    words = words_of(
        ("Angaben zur Person", 100, 300),
        ("3 Name", 100, 400), ("4 Vorname(n)", 1000, 400), ("4a Geschlecht", 1900, 400),
        ("Schäfer", 110, 450), ("Anna", 1010, 450),
        ("5 Geburtsname (nur bei Abweichung vom Namen)", 100, 550), ("6 Geburtsdatum", 1500, 550),
        ("03.07.1979", 1510, 600),
        ("9 Anschrift der Wohnung (Straße, Haus-Nr., PLZ, Ort)", 100, 700),
        ("Domstraße 14, 50667 Köln", 110, 750),
    )
    res = CatalogueExtractor(load_catalogue(), today=date(2026, 11, 27)).extract(
        "gewerbeanmeldung", content_of(words), lambda n: None)
    f = res.fields
    assert f["family_name"].value == "Schäfer"
    assert f["given_names"].value == "Anna"
    assert f["birth_name"].value is None
    assert f["birth_date"].value == "1979-07-03"
    assert f["home_address"].value == "Domstraße 14, 50667 Köln"
    assert f["activity"].value is None and f["activity"].confidence == 0


def test_a_value_below_its_label_ends_at_the_next_row_of_labels_in_any_column():
    # measured on a digital Meldeschein: the birth-place line runs on under
    # "Geburtsname", and "Deutschland" was read as part of the birth name
    form = FormDefinition.model_validate({"id": "mini", "title": "Mini-Antrag", "fields": [
        {"name": "birth_name", "type": "text", "label": ["Geburtsname"], "position": "below",
         "stop_labels": ["Tag, Ort, Land der Geburt"]},
    ]})
    words = words_of(("Vornamen", 100, 100), ("Geburtsname", 1200, 100),
                     ("Angela", 110, 145), ("Mende", 1210, 145),
                     ("Tag, Ort, Land der Geburt", 600, 240),
                     ("30.12.1943, Neu-Ulm, Deutschland", 700, 285))
    assert extract(words, form).fields["birth_name"].value == "Mende"
    # without the stop label the region runs on: the rule is what stops it
    form.fields[0].stop_labels = []
    assert extract(words, form).fields["birth_name"].value != "Mende"


def test_a_value_by_a_later_copy_of_its_label_is_never_accepted_unseen():
    # the applicant's own "Vorname" row went unread; the account holder's
    # "Familienname, Vorname" further down is a copy of the label, not the field
    form = FormDefinition.model_validate({"id": "mini", "title": "Mini-Antrag", "fields": [
        {"name": "given_names", "type": "text", "label": ["Vorname"], "position": "below"},
    ]})
    only_later = words_of(("Vorname", 100, 100), ("Vorname", 100, 900), ("Jäger, Margita", 110, 945))
    later = extract(only_later, form).fields["given_names"]
    own = extract(words_of(("Vorname", 100, 100), ("Margita", 110, 145)), form).fields["given_names"]
    assert later.value == "Jäger, Margita" and later.confidence < 0.94
    assert own.value == "Margita" and own.confidence >= 0.94
