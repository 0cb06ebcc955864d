"""GewA 1 — Gewerbe-Anmeldung (§ 14 GewO), the project's own rendering.

Field numbers follow FORMS.md (GewAnzV Anlage 1); label texts are the
official ones as printed on the real form (``gewa1.pdf``), alternatives are
label wordings of other editions. Truth keys are the FORMS.md field names.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ..fake_data import ACTIVITIES, FakeGermany, de_date
from ._items import Cell, Check, FormSpec, Heading, Note

DOC_TYPE = "gewerbeanmeldung"

SEX = [("male", "männlich"), ("female", "weiblich")]
NATIONALITY = [("german", "deutsch"), ("other", "andere:")]
YES_NO = [(True, "ja"), (False, "nein")]
BUSINESS_KIND = [("industry", "Industrie"), ("craft", "Handwerk"), ("trade", "Handel"),
                 ("other", "Sonstiges")]
ESTABLISHMENT = [
    ("main_branch", "eine Hauptniederlassung"),
    ("branch", "eine Zweigniederlassung"),
    ("dependent_branch", "eine unselbstständige Zweigstelle"),
    ("vending", "ein Automatenaufstellungsgewerbe"),
    ("itinerant", "ein Reisegewerbe"),
]
REASON = [
    ("new_business", "Neuerrichtung/Neugründung"),
    ("relocation", "Wiedereröffnung nach Verlegung aus einem anderen Meldebezirk"),
    ("change_legal_form", "Wechsel der Rechtsform"),
    ("partner_entry", "Gesellschaftereintritt"),
    ("takeover", "Übernahme (Erbfolge/Kauf/Pacht)"),
    ("conversion", "Gründung nach Umwandlungsgesetz"),
]
LEGAL_FORMS = ["GmbH", "UG (haftungsbeschränkt)", "e.K.", "GbR", "OHG", "KG", "GmbH & Co. KG"]
COURTS = ["Köln", "Düsseldorf", "Schwerin", "Münster", "Aachen", "Bonn", "Duisburg"]


def spec() -> FormSpec:
    """The GewA 1 layout (page 1 front side)."""
    return FormSpec(
        title="Gewerbe-Anmeldung",
        code="GewA 1",
        subtitle="nach § 14 GewO oder § 55c GewO",
        items=[
            [Cell("1", ("Im Handels-, Genossenschafts- oder Vereinsregister eingetragener Name "
                        "mit Rechtsform (ggf. bei GbR: Angabe der weiteren Gesellschafter)",
                        "Im Handels-, Genossenschafts-, Vereins- oder Partnerschaftsregister "
                        "eingetragener Name mit Rechtsform"), "registered_name")],
            [Cell("2", ("Ort und Nummer des Registereintrags", "Ort und Nr. des Registereintrages"),
                  "register_entry")],
            Heading("Angaben zur Person"),
            [Cell("3", "Name", "family_name", 1.0), Cell("4", "Vorname(n)", "given_names", 1.0),
             Check("4a", "Geschlecht", "sex", SEX, 0.6)],
            [Cell("5", "Geburtsname (nur bei Abweichung vom Namen)", "birth_name", 1.3),
             Cell("6", "Geburtsdatum", "birth_date", 0.7)],
            [Cell("7", ("Geburtsort und –land", "Geburtsort und -land"), "birth_place", 1.0),
             Check("8", "Staatsangehörigkeit(en)", "nationality", NATIONALITY, 1.0,
                   other_key="nationality_other")],
            [Cell("9", "Anschrift der Wohnung (Straße, Haus-Nr., PLZ, Ort)", "home_address")],
            [Cell("", "Telefon-Nr.", "phone"), Cell("", "Telefax-Nr.", None),
             Cell("", "E-Mail/Web (freiwillig)", "email")],
            Heading("Angaben zum Betrieb"),
            [Cell("10", "Zahl der geschäftsführenden Gesellschafter (nur bei "
                  "Personengesellschaften) / der gesetzlichen Vertreter", None)],
            [Cell("11", "Vertretungsberechtigte Person/Betriebsleiter (Name, Vornamen)", None)],
            [Cell("12", "Betriebsstätte (Straße, Haus-Nr., PLZ, Ort)", "business_address")],
            [Cell("", "Telefon-Nr.", "business_phone"), Cell("", "Telefax-Nr.", None),
             Cell("", "E-Mail/Web (freiwillig)", "business_email")],
            [Cell("13", "Hauptniederlassung - falls Betriebsstätte lediglich Zweigstelle ist "
                  "(Straße, Haus-Nr., PLZ, Ort)", None)],
            [Cell("14", "Frühere Betriebsstätte (Straße, Haus-Nr., PLZ, Ort)", None)],
            [Cell("15", ("Angemeldete Tätigkeit – ggf. ein Beiblatt verwenden",
                         "Angemeldete Tätigkeit (genau angeben)"), "activity", lines=2)],
            [Cell("16", "Datum des Beginns der angemeldeten Tätigkeit", "activity_start", 0.8),
             Cell("17", "Zahl der bei Geschäftsaufnahme tätigen Personen (ohne Inhaber): Vollzeit",
                  "employees_full_time", 1.5),
             Cell("", "Teilzeit", "employees_part_time", 0.5)],
            [Check("18", "Wird die Tätigkeit (vorerst) im Nebenerwerb betrieben?", "sideline",
                   YES_NO, 1.0),
             Check("19", ("Art des angemeldeten Betriebes", "Betriebsart"), "business_kind",
                   BUSINESS_KIND, 1.2)],
            [Check("20", "Die Anmeldung wird erstattet für", "establishment_kind", ESTABLISHMENT)],
            [Check("21–25", "Grund", "reason", REASON)],
            [Cell("26", "Name des früheren Gewerbetreibenden oder früherer Firmenname",
                  "previous_owner")],
            [Check("27", "Liegt eine Erlaubnis vor?", "permit", YES_NO, 0.6),
             Cell("", "Wenn ja, Ausstellungsdatum und erteilende Behörde", None, 1.4)],
            [Check("28", "Liegt eine Handwerkskarte vor? (Nur für Handwerksbetriebe)", "craft_card",
                   YES_NO, 0.6),
             Cell("", "Wenn ja, Ausstellungsdatum und Name der Handwerkskammer", None, 1.4)],
            [Check("29", "Liegt eine Aufenthaltsgenehmigung vor?", "residence_permit", YES_NO, 0.6),
             Cell("", "Wenn ja, Ausstellungsdatum und erteilende Behörde", None, 1.4)],
            Note("Diese Anzeige berechtigt nicht zum Beginn des Gewerbebetriebes, wenn noch eine "
                 "Erlaubnis oder eine Eintragung in die Handwerksrolle notwendig ist. "
                 "Zuwiderhandlungen können mit Geldbuße oder Geldstrafe oder Freiheitsstrafe "
                 "geahndet werden."),
            [Cell("30", "Datum", "signature_date", 0.6),
             Cell("31", "Unterschrift", "signature", 1.4)],
        ],
    )


def make(fake: FakeGermany) -> tuple[dict[str, Any], dict[str, Any]]:
    """(truth in FORMS.md names, printed values by layout key)."""
    rng = fake.rng
    p = fake.person(18, 75)
    company = rng.random() < 0.35
    legal = rng.choice(LEGAL_FORMS)
    registered_name = (f"{p.family_name} {rng.choice(['Elektro', 'Bau', 'Handel', 'Service', 'Design', 'Consulting'])} {legal}"
                       if company else None)
    register_entry = None
    if company and legal != "GbR":
        register_entry = f"Amtsgericht {rng.choice(COURTS)} HR{'B' if 'G' in legal[:2] or 'UG' in legal else 'A'} {rng.randint(1000, 99999)}"
    if rng.random() < 0.5:
        business_address = p.address
        biz_phone = p.phone
    else:
        s, n, plz, city = fake.address()
        business_address = f"{s} {n}, {plz} {city}"
        biz_phone = fake.phone()
    start = fake.today + timedelta(days=rng.randint(-60, 45))
    sig = min(fake.today, start) - timedelta(days=rng.randint(0, 20))
    german = p.nationality == "deutsch"
    birth_place = p.birth_place if (p.birth_country == "Deutschland" and rng.random() < 0.5) \
        else f"{p.birth_place}, {p.birth_country}"
    truth: dict[str, Any] = {
        "registered_name": registered_name,
        "register_entry": register_entry,
        "family_name": p.family_name,
        "given_names": p.given_names,
        "sex": p.sex,
        "birth_name": p.birth_name or None,
        "birth_date": p.birth_date,
        "birth_place": birth_place,
        "nationality": "german" if german else "other",
        "home_address": p.address,
        "phone": p.phone,
        "email": p.email if rng.random() < 0.8 else None,
        "business_address": business_address,
        "activity": rng.choice(ACTIVITIES),
        "activity_start": start.isoformat(),
        "employees_full_time": rng.choice([0, 0, 0, 1, 2, 3, 5, 12]),
        "employees_part_time": rng.choice([0, 0, 1, 2, 4]),
        "sideline": rng.random() < 0.3,
        "business_kind": rng.choice(["industry", "craft", "trade", "trade", "other", "other"]),
        "establishment_kind": rng.choice(["main_branch"] * 6 + [o for o, _ in ESTABLISHMENT[1:]]),
        "reason": rng.choice(["new_business"] * 5 + [o for o, _ in REASON[1:]]),
        "signature_date": sig.isoformat(),
    }
    values = {k: v for k, v in truth.items() if v is not None}
    for k in ("birth_date", "activity_start", "signature_date"):
        values[k] = de_date(truth[k])
    values["employees_full_time"] = str(truth["employees_full_time"])
    values["employees_part_time"] = str(truth["employees_part_time"])
    values["nationality_other"] = "" if german else p.nationality
    values["business_phone"] = biz_phone if rng.random() < 0.5 else ""
    values["authority"] = rng.choice(["Stadt Köln", "Landeshauptstadt Schwerin", "Stadt Münster",
                                      "Stadt Aachen", "Stadt Bonn", "Landeshauptstadt Düsseldorf"])
    values["previous_owner"] = fake.faker.name() if truth["reason"] == "takeover" else ""
    values["permit"] = False if rng.random() < 0.7 else None
    values["signature"] = p.family_name if rng.random() < 0.5 else ""
    return truth, values
