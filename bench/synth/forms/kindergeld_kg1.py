"""KG 1 — Antrag auf Kindergeld (Familienkasse), own rendering.

Labels are those of the real form (``kg1.pdf``, Stand 09/2025): section 1
applicant, 3 payment details, 5 children already receiving Kindergeld
(a table: "Vorname des Kindes / ggf. abweichender Familienname", Geburtsdatum,
Geschlecht, "Bei welcher Familienkasse").
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ..fake_data import FakeGermany, de_date, group4
from ._items import Cell, Check, FormSpec, Heading, Note, Table

DOC_TYPE = "kindergeld_kg1"

SEX = [("male", "männlich"), ("female", "weiblich")]
MARITAL = [("married", "verheiratet"), ("single", "ledig"), ("divorced", "geschieden"),
           ("widowed", "verwitwet"), ("separated", "dauernd getrennt lebend")]
HOLDER = [("applicant", "antragstellende Person wie unter Nr. 1"),
          ("other", "nicht antragstellende Person, sondern:")]
OFFICES = ["Familienkasse Nordrhein-Westfalen West", "Familienkasse Nord",
           "Familienkasse Bayern Süd", "Familienkasse Sachsen", "Familienkasse Hessen"]


def spec() -> FormSpec:
    return FormSpec(
        title="Antrag auf Kindergeld",
        code="KG 1",
        subtitle="Beachten Sie bitte die anhängenden Hinweise und das Merkblatt Kindergeld.",
        authority_label="Kindergeld-Nr.",
        authority_key="kg_number",
        instruction="Bitte fügen Sie für jedes Kind, für das Kindergeld beantragt wird, eine "
                    "„Anlage Kind“ bei.",
        footer="KG 1 - ",
        items=[
            Heading("1 Angaben zur antragstellenden Person"),
            [Cell("", "Steuerliche Identifikationsnummer der antragstellenden Person "
                  "(soweit vergeben, zwingend auszufüllen)", "tax_id")],
            [Cell("", "Familienname", "family_name", 1.4), Cell("", "Titel", None, 0.6)],
            [Cell("", "Vorname", "given_names", 1.0),
             Cell("", "ggf. Geburtsname und Familienname aus früherer Ehe", "birth_name", 1.0)],
            [Cell("", "Geburtsdatum", "birth_date", 0.6), Cell("", "Geburtsort", "birth_place", 0.9),
             Check("", "Geschlecht", "sex", SEX, 0.7),
             Cell("", "Staatsangehörigkeit * (siehe Hinweise)", "nationality", 0.8)],
            [Cell("", "Anschrift (Straße/Platz, Hausnummer, Postleitzahl, Wohnort, Staat)",
                  "home_address")],
            [Check("", "Familienstand", "marital", MARITAL)],
            Heading("2 Angaben zum/zur Ehepartner(in) bzw. eingetragenen Lebenspartner(in)"),
            [Cell("", "Steuerliche Identifikationsnummer (soweit vergeben, bitte ausfüllen)",
                  None)],
            [Cell("", "Familienname", "partner_family", 1.0), Cell("", "Vorname", "partner_given", 1.0),
             Cell("", "Titel", None, 0.4)],
            Heading("3 Angaben zum Zahlungsweg"),
            [Cell("", "IBAN", "iban")],
            [Cell("", "BIC", "bic", 0.6),
             Cell("", "Bank, Finanzinstitut (ggf. auch Zweigstelle)", "bank_name", 1.4)],
            [Check("", "Kontoinhaber(in) ist", "holder", HOLDER, 1.2),
             Cell("", "Familienname, Vorname", "account_holder", 1.0)],
            Heading("5 Angaben zu Kindern"),
            Note("Für jedes Kind, für das Kindergeld beantragt wird, ist eine gesonderte „Anlage "
                 "Kind“ ausgefüllt einzureichen. Für folgende Kinder beziehe ich bereits "
                 "Kindergeld (auch in Fällen der abweichenden Kontoverbindung, Abzweigung und "
                 "Erstattung):"),
            Table("", "", "children",
                  [("Vorname des Kindes\nggf. abweichender Familienname", "name", 1.6),
                   ("Geburtsdatum", "birth_date", 0.8), ("Geschlecht", "sex", 0.6),
                   ("Bei welcher Familienkasse\n(Kindergeldnummer)?", "office", 1.6)], rows=5),
            Note("Ich versichere, dass alle Angaben (auch in den Anlagen) vollständig sind und der "
                 "Wahrheit entsprechen."),
            [Cell("", "Datum", "signature_date", 0.6),
             Cell("", "Unterschrift der antragstellenden Person bzw. der gesetzlichen Vertretung",
                  "signature", 1.4)],
        ],
    )


def make(fake: FakeGermany) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = fake.rng
    p = fake.person(20, 55)
    bank, bic = fake.bank()
    iban = fake.iban(bank)
    tax_id = fake.tax_id()
    partner = fake.person(20, 55)
    married = rng.random() < 0.6
    # the children are born after the parent turned 18
    earliest = date(max(int(p.birth_date[:4]) + 18, fake.today.year - 24), 1, 1)
    children = []
    for _ in range(rng.choice([1, 1, 2, 2, 3, 4])):
        sex = rng.choice(["male", "female"])
        other_name = rng.random() < 0.15
        children.append({
            "given_names": fake.given_names(sex),
            "family_name": fake.family_name() if other_name else p.family_name,
            "birth_date": fake.date_between(earliest, fake.today),
            "_sex": sex,
            "_other_name": other_name,
        })
    children.sort(key=lambda c: c["birth_date"])
    holder = f"{p.family_name}, {p.given_names}"
    truth: dict[str, Any] = {
        "tax_id": tax_id,
        "family_name": p.family_name,
        "given_names": p.given_names,
        "birth_name": p.birth_name or None,
        "birth_date": p.birth_date,
        "birth_place": p.birth_place,
        "nationality": p.nationality,
        "home_address": p.address,
        "iban": iban,
        "bic": bic,
        "bank_name": bank,
        "account_holder": holder,
        "children": [{k: v for k, v in c.items() if not k.startswith("_")} for c in children],
    }
    office = rng.choice(OFFICES)
    values: dict[str, Any] = {
        "tax_id": tax_id if rng.random() < 0.5 else
        f"{tax_id[:2]} {tax_id[2:5]} {tax_id[5:8]} {tax_id[8:]}",
        "family_name": p.family_name,
        "given_names": p.given_names,
        "birth_name": p.birth_name,
        "birth_date": de_date(p.birth_date),
        "birth_place": p.birth_place,
        "sex": p.sex,
        "nationality": p.nationality,
        "home_address": p.address,
        "marital": "married" if married else rng.choice([o for o, _ in MARITAL[1:]]),
        "partner_family": (p.family_name if rng.random() < 0.7 else partner.family_name)
        if married else "",
        "partner_given": partner.given_names if married else "",
        "iban": group4(iban) if rng.random() < 0.7 else iban,
        "bic": bic,
        "bank_name": bank,
        "holder": "applicant",
        "account_holder": holder,
        "children": [{
            "name": f"{c['given_names']} {c['family_name']}" if c["_other_name"] else c["given_names"],
            "birth_date": de_date(c["birth_date"]),
            "sex": "m" if c["_sex"] == "male" else "w",
            "office": office,
        } for c in children],
        "kg_number": "",
        "signature_date": de_date(fake.today.isoformat()),
        "signature": "",
    }
    return truth, values
