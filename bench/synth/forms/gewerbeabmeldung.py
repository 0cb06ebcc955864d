"""GewA 3 — Gewerbe-Abmeldung (§ 14 GewO), own rendering.

Not a FORMS.md type: it is the GewA 1's sibling (same person block and
numbering up to 14), which makes it the hardest negative for the classifier
and, with ``forms/gewerbeabmeldung.yaml``, a form type added as data only.
Truth keys follow that yaml (``end_date``, ``extent``, ``reason`` ...).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ..fake_data import ACTIVITIES, FakeGermany, de_date
from . import gewerbeanmeldung as gewa1
from ._items import Cell, Check, FormSpec, Note

DOC_TYPE = "gewerbeabmeldung"

EXTENT = [("complete", "Vollständige Aufgabe des Betriebes"),
          ("partial", "Aufgabe einer Teiltätigkeit")]
REASON = [("closure", "Betriebsaufgabe"),
          ("relocation", "Verlegung in einen anderen Meldebezirk"),
          ("change_legal_form", "Wechsel der Rechtsform"),
          ("partner_exit", "Gesellschafteraustritt"),
          ("handover", "Erbfolge/Verkauf/Verpachtung")]


def spec() -> FormSpec:
    head = gewa1.spec().items
    # 1..12 as on the GewA 1 (registered name, person, address, business address)
    first = head[: head.index(next(i for i in head if isinstance(i, list)
                                   and getattr(i[0], "num", "") == "13"))]
    return FormSpec(
        title="Gewerbe-Abmeldung",
        code="GewA 3",
        subtitle="nach § 14 GewO oder § 55c GewO",
        items=first + [
            [Cell("13", "Hauptniederlassung - falls Betriebsstätte lediglich Zweigstelle ist "
                  "(Straße, Haus-Nr., PLZ, Ort)", None)],
            [Cell("14", "Künftige Anschrift der Hauptniederlassung (Straße, Haus-Nr., PLZ, Ort)",
                  None)],
            [Cell("15", "Abgemeldete Tätigkeit", "activity", lines=2)],
            [Cell("16", "Datum der Betriebsaufgabe", "end_date", 0.8),
             Cell("", "Zahl der bei Betriebsaufgabe tätigen Personen (ohne Inhaber)",
                  "employees", 1.2)],
            [Check("17", "Die Abmeldung wird erstattet für", "extent", EXTENT)],
            [Check("18", "Grund", "reason", REASON)],
            [Cell("19", "Name des künftigen Gewerbetreibenden oder künftiger Firmenname",
                  "successor")],
            Note("Diese Anzeige dient der Wahrnehmung der Aufgaben nach dem Gewerberecht. "
                 "Unterrichtung nach § 17 Bundesstatistikgesetz siehe Rückseite."),
            [Cell("20", "Datum", "signature_date", 0.6),
             Cell("21", "Unterschrift", "signature", 1.4)],
        ],
    )


def make(fake: FakeGermany) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = fake.rng
    base_truth, values = gewa1.make(fake)
    end = fake.today - timedelta(days=rng.randint(0, 60))
    sig = end + timedelta(days=rng.randint(0, 14))
    truth = {k: base_truth[k] for k in (
        "registered_name", "register_entry", "family_name", "given_names", "sex",
        "birth_date", "home_address", "business_address")}
    truth.update({
        "activity": rng.choice(ACTIVITIES),
        "end_date": end.isoformat(),
        "extent": "complete" if rng.random() < 0.8 else "partial",
        "reason": rng.choice(["closure"] * 4 + [o for o, _ in REASON[1:]]),
        "signature_date": sig.isoformat(),
    })
    values.update({k: v for k, v in truth.items() if isinstance(v, str)})
    for k in ("end_date", "signature_date"):
        values[k] = de_date(truth[k])
    for k in ("birth_date",):
        values[k] = de_date(truth[k])
    values["employees"] = str(rng.choice([0, 0, 1, 2]))
    values["successor"] = fake.faker.company() if truth["reason"] == "handover" else ""
    return truth, values
