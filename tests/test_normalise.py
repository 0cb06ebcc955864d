"""Normalisation of raw text to FORMS.md value types."""

from __future__ import annotations

import pytest

from extractors.normalise import (
    find_date_text,
    normalise,
    normalise_address,
    normalise_date,
    normalise_iban,
    normalise_money,
    normalise_phone,
)


@pytest.mark.parametrize("raw,iso", [
    ("14.02.1986", "1986-02-14"),
    ("14.2.1986", "1986-02-14"),
    ("14. 02. 1986", "1986-02-14"),
    ("14,02.1986", "1986-02-14"),  # OCR comma
    ("l4.O2.1986", "1986-02-14"),  # OCR letter/digit confusion
    ("14. Februar 1986", "1986-02-14"),
    ("3. März 2021", "2021-03-03"),
    ("1. Dez. 2025", "2025-12-01"),
    ("1986-02-14", "1986-02-14"),
    ("14021986", "1986-02-14"),  # comb field without separators
    ("1 4 02 1 986", "1986-02-14"),  # OCR splits comb digits
    ("31.02.2020", None),  # no such day
    ("Datum", None),
    ("", None),
])
def test_dates(raw, iso):
    assert normalise_date(raw) == iso


def test_find_date_text_strips_noise():
    assert find_date_text("Tag Monat Jahr 01.04.2021") == "01.04.2021"


@pytest.mark.parametrize("raw,value", [
    ("642,50", "642.50"),
    ("642,50 €", "642.50"),
    ("1.642,50 €", "1642.50"),
    ("EUR 1.642,5", "1642.50"),
    ("750", "750.00"),
    ("750,-", "750.00"),
    ("642.50", "642.50"),
    ("1.642", "1642.00"),
    ("kein Betrag", None),
])
def test_money(raw, value):
    assert normalise_money(raw) == value


@pytest.mark.parametrize("raw,value", [
    ("Hauptstraße 12a, 19053 Schwerin", "Hauptstraße 12a, 19053 Schwerin"),
    ("Hauptstraße 12a 19053 Schwerin", "Hauptstraße 12a, 19053 Schwerin"),
    ("Hauptstraße 12a. 19053 Schwerin", "Hauptstraße 12a, 19053 Schwerin"),  # OCR dot for comma
    ("50667 Köln, Domstraße 14", "Domstraße 14, 50667 Köln"),  # PLZ first (Wohngeld form)
    ("Am Markt 3 , 19O53 Schwerin", "Am Markt 3, 19053 Schwerin"),
    ("Hauptstr. 5, 10115 Berlin", "Hauptstr. 5, 10115 Berlin"),
    ("19053 Schwerin", None),  # no street
    ("Hauptstraße 12", None),  # no PLZ
])
def test_addresses(raw, value):
    assert normalise_address(raw) == value


@pytest.mark.parametrize("raw,value", [
    ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
    ("de89370400440532013000", "DE89370400440532013000"),
    ("DE89 37O4 0044 O532 0130 00", "DE89370400440532013000"),  # O for 0
    ("IBAN: DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
    ("2289370400440532013000", "DE89370400440532013000"),  # "DE" misread in a comb field
    ("DE89", None),
])
def test_iban(raw, value):
    assert normalise_iban(raw) == value


def test_phone_keeps_what_was_written():
    assert normalise_phone("0385 1234567") == "0385 1234567"
    assert normalise_phone("Tel.: +49 (385) 123-45/67") == "+49 (385) 123-45/67"
    assert normalise_phone("ab") is None


def test_other_types():
    assert normalise("postal_code", "19O53") == "19053"
    assert normalise("tax_id", "86 095 742 719") == "86095742719"
    assert normalise("tax_id", "8609574271") is None
    assert normalise("int", "3") == 3 and normalise("int", "keine") == 0 and normalise("int", "drei") is None
    assert normalise("bool", "ja") is True and normalise("bool", "Nein") is False and normalise("bool", "?") is None
    assert normalise("email", "max.mustermann @web.de") == "max.mustermann@web.de"
    assert normalise("bic", "colsde33xxx") == "COLSDE33XXX"
    assert normalise("text", "  Müller ,  ") == "Müller"


@pytest.mark.parametrize("type_,raw,value", [
    ("text", "Vermittlung von Versicherungen nach 8 34d GewO", "Vermittlung von Versicherungen nach § 34d GewO"),
    ("text", "Bewachungsgewerbe nach S 34a GewO", "Bewachungsgewerbe nach § 34a GewO"),
    ("text", "Handel mit 8 Fahrrädern", "Handel mit 8 Fahrrädern"),  # a number, no statute: kept
    ("text", "Nr. 8 2024 GewO", "Nr. 8 2024 GewO"),  # no section number has four digits
    ("text", "Teil II", "Teil II"),
    ("address", "Segebahnplatz 170, 87010 Pfaffenhofen an der IIm", "Segebahnplatz 170, 87010 Pfaffenhofen an der Ilm"),
    ("address", "Eduard-Jäkel-Wegq 16, 90040 Döbeln", "Eduard-Jäkel-Weg 16, 90040 Döbeln"),
    ("address", "Quellenweg 3, 90040 Döbeln", "Quellenweg 3, 90040 Döbeln"),
    ("email", "lena.preiss@qmx.de", "lena.preiss@gmx.de"),
    ("email", "lena.preiss@qmail.com", "lena.preiss@gmail.com"),
    ("email", "juergen.bruegqgemann@posteo.de", "juergen.brueggemann@posteo.de"),
    ("email", "klemens.reising@qgmx.de", "klemens.reising@gmx.de"),  # the "@"'s tail read as a "q"
    ("email", "lena@qq.com", "lena@qq.com"),  # not one swap from a known provider: as read
    ("email", "lena@qgmy.de", "lena@qgmy.de"),  # no known provider without the "q": as read
    ("text", "Amtsgericht:Münster HRB 81920", "Amtsgericht Münster HRB 81920"),
    ("text", "Amtsgericht: Münster", "Amtsgericht: Münster"),  # written so: kept
    ("text", "Uhrzeit 10:30", "Uhrzeit 10:30"),
])
def test_ocr_repairs_of_readings_german_text_never_has(type_, raw, value):
    from extractors.normalise import normalise

    assert normalise(type_, raw) == value


@pytest.mark.parametrize("raw", ["Iqbal", "Tariq", "O'Brien", "DeLuca", "Ødegaard", "Çelik", "Müller-Lüdenscheidt",
                                 "Nguyen", "Ilse", "Ilm", "Haq", "af Klint"])
def test_repairs_leave_real_names_of_other_countries_alone(raw):
    from extractors.normalise import normalise

    assert normalise("text", raw) == raw


def test_repairs_are_a_named_list_that_runs_in_order():
    from extractors.ocr_repairs import REPAIRS, repair_text

    assert [r.name for r in REPAIRS] == ["capital_i_pair", "section_sign", "g_echo", "glued_colon", "mail_provider"]
    assert all(r.repairs and r.types for r in REPAIRS)
    assert repair_text("IIse nach 8 34c GewO, Amtsgericht:Münster, Wegq") == \
        "Ilse nach § 34c GewO, Amtsgericht Münster, Weg"


@pytest.mark.parametrize("first,second,restored", [
    ("flieqner", "fliegner", True),
    ("Jurgen", "Jürgen", True),
    ("Quast", "Guast", False),  # "qu" is German: not a misread
    ("Jürgen", "Jurgen", False),
    ("Meyer", "Mever", False),
])
def test_glyphs_restored(first, second, restored):
    from extractors.fieldtext import glyphs_restored

    assert glyphs_restored(first, second) is restored
