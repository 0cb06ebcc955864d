"""Anmeldung bei der Meldebehörde (residence registration), own rendering.

Labels are those of the real form (``anmeldung_meldebehoerde.pdf``): new and
previous flat side by side, the address split into "Postleitzahl, Gemeinde"
and "Straße, Hausnummer, Zusätze", person data as labelled rows, documents as
a table with "Seriennummer".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ..fake_data import FakeGermany, de_date
from ._items import Cell, Check, FormSpec, Heading, Note, Table

DOC_TYPE = "meldebehoerde_anmeldung"

KIND = [("sole", "alleinige Wohnung"), ("main", "Hauptwohnung"), ("secondary", "Nebenwohnung")]
SEX = [("male", "männlich"), ("female", "weiblich")]
NO_YES = [(False, "Nein"), (True, "Ja")]
# characters used in German ID card serial numbers (no vowels, no B D Q S)
_SERIAL_CHARS = "0123456789CFGHJKLMNPRTVWXYZ"


def spec() -> FormSpec:
    return FormSpec(
        title="Anmeldung",
        code="",
        subtitle="bei der Meldebehörde",
        authority_label="Tagesstempel / Amtl. Vermerke",
        instruction="",
        items=[
            Heading("Neue Wohnung", right="Bisherige Wohnung"),
            [Cell("", "Gemeindekennzahl", None), Cell("", "Gemeindekennzahl", None)],
            [Check("", "Die neue Wohnung ist", "new_kind", KIND),
             Check("", "Die (letzte) bisherige Wohnung (im Inland) war", "old_kind", KIND)],
            [Cell("", "Tag des Einzugs", "move_in_date", 0.35),
             Cell("", "Postleitzahl, Gemeinde, Ortsteil", "new_city", 0.65),
             Cell("", "Tag des Auszugs", "move_out_date", 0.35),
             Cell("", "Postleitzahl, Gemeinde/Kreis/Land", "old_city", 0.65)],
            [Cell("", "Straße, Hausnummer, Zusätze", "new_street"),
             Cell("", "Straße, Hausnummer, Zusätze", "old_street")],
            [Check("", "Wird die bisherige Wohnung beibehalten?", "keep_old", NO_YES)],
            Heading("Person 1"),
            [Cell("1", "Familienname, ggf. Doktorgrad", "family_name", 1.0),
             Cell("", "Passname", None, 0.6)],
            [Cell("", "Vornamen (Rufnamen unterstreichen)", "given_names", 1.0),
             Cell("", "Geburtsname", "birth_name", 0.6)],
            [Check("", "Geschlecht", "sex", SEX, 0.6),
             Cell("", "Tag, Ort, Land der Geburt", "birth", 1.4)],
            [Cell("", "Religionsgesellschaft", "religion", 0.6),
             Cell("", "Staatsangehörigkeiten", "nationality", 1.0),
             Cell("", "Ordens- Künstlername", None, 0.6)],
            Heading("Person 2"),
            [Cell("2", "Familienname, ggf. Doktorgrad", None, 1.0),
             Cell("", "Familienmitglied ist:", None, 0.6)],
            [Cell("", "Vornamen (Rufnamen unterstreichen)", None, 1.0),
             Cell("", "Geburtsname", None, 0.6)],
            [Cell("", "Familienstand (1oder 1 und 2)", "marital", 0.6),
             Cell("", "Angaben zur Eheschließung / Lebenspartnerschaft (Datum, Ort, Land AZ)",
                  None, 1.4)],
            Note("Dokumente: Dokumentenarten: PA = Personalausweise, RP = Reisepässe, "
                 "KP = Kinderreisepass"),
            Table("", "Name, Vorname:", "documents",
                  [("Art", "kind", 0.4), ("Ausstellungsbehörde", "authority", 1.4),
                   ("Seriennummer", "serial", 1.0), ("Datum", "issued", 0.7),
                   ("gültig bis", "valid", 0.7)], rows=2),
            [Cell("", "Datum, Unterschrift eines/einer der Meldepflichtigen oder einer Person "
                  "mit Betreuungsvollmacht", "signature")],
        ],
    )


def make(fake: FakeGermany) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = fake.rng
    p = fake.person(18, 85)
    s, n, plz, city = fake.address()
    move_in = fake.today - timedelta(days=rng.randint(1, 40))
    move_out = move_in - timedelta(days=rng.randint(0, 5))
    serial = "".join(rng.choice(_SERIAL_CHARS) for _ in range(9))
    issued = fake.today - timedelta(days=rng.randint(100, 3000))
    valid = issued.replace(year=issued.year + 10)
    birth_place = f"{p.birth_place}, {p.birth_country}"
    truth: dict[str, Any] = {
        "move_in_date": move_in.isoformat(),
        "new_address": f"{s} {n}, {plz} {city}",
        "move_out_date": move_out.isoformat(),
        "previous_address": p.address,
        "family_name": p.family_name,
        "given_names": p.given_names,
        "birth_name": p.birth_name or None,
        "birth_date": p.birth_date,
        "birth_place": birth_place,
        "nationality": p.nationality,
        "id_document_number": serial,
    }
    values: dict[str, Any] = {
        "new_kind": "sole",
        "old_kind": "sole",
        "move_in_date": de_date(truth["move_in_date"]),
        "new_city": f"{plz} {city}",
        "new_street": f"{s} {n}",
        "move_out_date": de_date(truth["move_out_date"]),
        "old_city": p.city_line,
        "old_street": p.street_line,
        "keep_old": False,
        "family_name": p.family_name,
        "given_names": p.given_names,
        "birth_name": p.birth_name,
        "sex": p.sex,
        "birth": f"{de_date(p.birth_date)}, {birth_place}",
        "religion": rng.choice(["rk", "ev", "", "", "ohne"]),
        "nationality": p.nationality,
        "marital": rng.choice(["ledig", "verheiratet", "geschieden", "verwitwet"]),
        "documents": [{
            "kind": "PA" if rng.random() < 0.8 else "RP",
            "authority": f"Stadt {p.city}",
            "serial": serial,
            "issued": de_date(issued.isoformat()),
            "valid": de_date(valid.isoformat()),
        }],
        "authority": "",
        "signature": f"{de_date(fake.today.isoformat())}",
    }
    return truth, values
