"""Antrag auf Wohngeld – Mietzuschuss (NRW edition), own rendering.

Labels are those of the real form (``wohngeldantrag.pdf``): the applicant row
has bracketed column labels, phone and e-mail share one cell, the move-in date
is written under "Tag Monat Jahr".
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ..fake_data import FakeGermany, de_date, de_money, group4
from ._items import Cell, Check, FormSpec, Heading, Note

DOC_TYPE = "wohngeld_mietzuschuss"

APPLICATION = [("first", "Erstantrag"), ("renewal", "Weiterleistungsantrag"),
               ("increase", "Erhöhungsantrag")]
STATUS = [("worker", "Arbeiter(in)"), ("pensioner", "Rentner(in)"),
          ("employee", "Angestellte(r)"), ("unemployed", "Arbeitslose(r)"),
          ("student", "Student(in)"), ("self", "Selbständige(r)")]
HOLDER = [("applicant", "Antragstellende Person"),
          ("member", "Ehepartner(in) oder ein anderes Haushaltsmitglied"),
          ("landlord", "Vermieter(in)")]
TENANCY = [("main", "Hauptmieter(in)"), ("sub", "Untermieter(in)"),
           ("owner", "Bewohner(in) einer Wohnung im eigenen Mehrfamilienhaus")]
NO_YES = [(False, "nein"), (True, "ja")]


def spec() -> FormSpec:
    return FormSpec(
        title="Antrag auf Wohngeld - Mietzuschuss",
        code="",
        subtitle="Zutreffendes bitte ankreuzen bzw. ausfüllen",
        authority_label="Eingangsstempel der Wohngeldstelle",
        authority_key="authority",
        instruction="Falls bekannt, tragen Sie bitte hier Ihre Wohngeldnummer ein:",
        items=[
            [Check("", "Art des Antrags", "application", APPLICATION)],
            Heading("1 Antragstellende Person"),
            [Cell("", ("(Familienname, ggf. Geburtsname)", "Familienname, ggf. Geburtsname"),
                  "family_name", 1.2),
             Cell("", ("(Vorname)", "Vorname"), "given_names", 1.0),
             Cell("", ("(Geburtsdatum)", "Geburtsdatum"), "birth_date", 0.7)],
            [Cell("", ("(Telefonnummer/E-Mail-Adresse)", "Telefonnummer/E-Mail-Adresse"),
                  "contact", 1.0, lines=2)],
            [Check("", "Persönliche Verhältnisse:", "status", STATUS)],
            Heading("2 Anschrift der Wohnung, für die Wohngeld beantragt wird"),
            [Cell("", "(Postleitzahl, Ort, Straße, Hausnummer, Etage, ggf. Wohnungsnummer)",
                  "home_address")],
            Heading("3 Geben Sie bitte die Bankverbindung an, auf welche das Wohngeld "
                    "überwiesen werden soll:"),
            [Cell("", "Name des Kreditinstituts", "bank_name")],
            [Cell("", "Bankleitzahl", "blz", 0.5),
             Cell("", ("Kontonummer", "Kontonummer / IBAN"), "account_number", 1.5)],
            [Check("", "Kontoinhaber(in):", "holder", HOLDER)],
            [Check("4", "Bildet der Wohnraum, für den Wohngeld beantragt wird, für alle Personen, "
                   "die den Wohnraum bewohnen den Mittelpunkt der Lebensbeziehungen?",
                   "centre", NO_YES)],
            [Check("5", "Ich bin", "tenancy", TENANCY)],
            [Cell("6", "Wer hat Ihnen die Wohnung vermietet oder untervermietet? "
                  "Name, Vorname, Anschrift, ggf. Telefonnummer", "landlord", lines=2)],
            [Cell("", ("Wie hoch ist die monatliche Miete/das Nutzungsentgelt für Ihren "
                       "Wohnraum einschließlich Betriebskosten",
                       "monatliche Miete einschließlich Betriebskosten"), "rent_total")],
            [Cell("7", "Seit wann bewohnen Sie bzw. die zu Ihrem Haushalt rechnenden Personen "
                  "die Wohnung, für die Sie Wohngeld beantragen? Tag Monat Jahr",
                  "move_in_date")],
            [Check("", "Haben Sie einen Teil Ihrer Wohnung einer anderen Person untervermietet?",
                   "sublet", NO_YES)],
            Note("Wenn ja, bitte fügen Sie die Anlage „Untervermietung“ bei. Lesen Sie bitte im "
                 "Merkblatt die Erläuterungen zur Antragberechtigung!"),
            [Check("8", "Erhalten Sie oder eine zum Haushalt rechnende Person Wohngeld oder "
                   "andere Zuschüsse zur Bezahlung der Miete?", "subsidy", NO_YES)],
            [Cell("", "Ort, Datum", "place_date", 1.0), Cell("", "Unterschrift", "signature", 1.0)],
        ],
    )


def make(fake: FakeGermany) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = fake.rng
    p = fake.person(18, 85)
    bank, _bic = fake.bank()
    iban = fake.iban(bank)
    # "as printed": paper forms carry the IBAN in groups of four more often than not
    account = group4(iban) if rng.random() < 0.7 else iban
    move_in = fake.date_between(date(2005, 1, 1), fake.today - timedelta(days=10))
    rent = fake.money(280, 1400)
    truth: dict[str, Any] = {
        "family_name": p.family_name,
        "given_names": p.given_names,
        "birth_date": p.birth_date,
        "phone": p.phone,
        "email": p.email if rng.random() < 0.7 else None,
        "home_address": p.address,
        "bank_name": bank,
        "account_number": account,
        "rent_total": rent,
        "move_in_date": move_in,
    }
    # the form asks "PLZ, Ort, Straße ..." -- some applicants follow that order
    printed_address = p.address if rng.random() < 0.75 else f"{p.city_line}, {p.street_line}"
    contact = [p.phone] + ([p.email] if truth["email"] else [])
    values: dict[str, Any] = {
        "family_name": p.family_name,
        "given_names": p.given_names,
        "birth_date": de_date(p.birth_date),
        "contact": contact,
        "home_address": printed_address,
        "bank_name": bank,
        "blz": iban[4:12] if rng.random() < 0.3 else "",
        "account_number": account,
        "rent_total": de_money(rent, euro=rng.random() < 0.6),
        "move_in_date": de_date(move_in),
        "application": "first",
        "status": rng.choice([o for o, _ in STATUS]),
        "holder": "applicant",
        "centre": True,
        "tenancy": "main",
        "landlord": fake.faker.name() + ", " + fake.faker.street_name() + " " + fake.house_no(),
        "sublet": False,
        "subsidy": False,
        "authority": "",
        "place_date": f"{p.city}, {de_date(fake.today.isoformat())}",
        "signature": p.family_name if rng.random() < 0.5 else "",
    }
    return truth, values
