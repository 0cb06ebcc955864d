"""Documents that are not one of the application forms.

* ``invoice``  a German invoice (truth: seller_name, invoice_number,
  invoice_date, total_amount, iban — FORMS.md ``invoice``)
* ``letter``   an Anschreiben to the town hall that *mentions* a form (hard negative)
* ``blank``    an empty page (what a duplex scanner feeds in)
* ``noise``    a photo-like image page without any text layer
* ``unknown_form`` a municipal form with the same person labels but another
  purpose (Hundesteuer, Bewohnerparkausweis)
* ``unknown``  one of the last four, chosen by the seed or ``variant``

Everything except ``invoice`` has doc_type ``"unknown"`` and empty truth.
"""

from __future__ import annotations

import io
import random
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

import numpy as np
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas as rl_canvas

from ..fake_data import FakeGermany, de_date, de_money, group4
from ._items import Cell, Check, FormSpec, Heading
from ._layout import STYLES, render_form

W, H = A4
Result = tuple[str, dict[str, Any], bytes, str]


def _canvas() -> tuple[io.BytesIO, rl_canvas.Canvas]:
    buf = io.BytesIO()
    return buf, rl_canvas.Canvas(buf, pagesize=A4, invariant=1)


def _q(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# -- invoice -------------------------------------------------------------------

_ITEMS = [("Beratungsleistung", "Std.", 60, 140), ("Montagearbeiten", "Std.", 45, 85),
          ("Büromaterial", "Stk.", 2, 30), ("Wartung Heizungsanlage", "pausch.", 90, 250),
          ("Reinigung Treppenhaus", "pausch.", 40, 160), ("Druckerpatronen", "Stk.", 15, 60),
          ("Softwarelizenz (12 Monate)", "Stk.", 50, 400), ("Anfahrt", "pausch.", 20, 60)]
_NO_LABELS = ["Rechnungsnummer", "Rechnungs-Nr.", "Rechnung Nr.", "Belegnummer"]
_DATE_LABELS = ["Rechnungsdatum", "Datum", "Belegdatum"]
_TOTAL_LABELS = ["Gesamtbetrag", "Rechnungsbetrag", "Zahlbetrag", "Summe brutto"]


def invoice(fake: FakeGermany, variant: str | None) -> Result:
    rng = fake.rng
    variant = variant or rng.choice(["classic", "modern", "einvoice"])
    seller = f"{fake.faker.last_name()} {rng.choice(['Elektrotechnik', 'Bürobedarf', 'Haustechnik', 'IT-Service', 'Gebäudeservice'])} {rng.choice(['GmbH', 'e.K.', 'GmbH & Co. KG', 'OHG'])}"
    s_street, s_no, s_plz, s_city = fake.address()
    buyer = fake.person()
    number = f"{rng.choice(['RE', 'R', 'INV-', ''])}{fake.today.year}-{rng.randint(100, 99999):05d}"
    inv_date = fake.today - timedelta(days=rng.randint(0, 30))
    bank = fake.bank()[0]
    iban = fake.iban(bank)
    lines = []
    for name, unit, lo, hi in rng.sample(_ITEMS, rng.randint(1, 4)):
        qty = Decimal(rng.randint(1, 12))
        price = _q(Decimal(rng.randint(lo * 100, hi * 100)) / 100)
        lines.append((name, unit, qty, price, _q(qty * price)))
    net = sum((ln[4] for ln in lines), Decimal("0"))
    vat = _q(net * Decimal("0.19"))
    total = net + vat
    truth = {"seller_name": seller, "invoice_number": number,
             "invoice_date": inv_date.isoformat(), "total_amount": f"{total:.2f}", "iban": iban}

    if variant == "einvoice":
        pdf = _einvoice_view(fake, seller, (s_street, s_no, s_plz, s_city), buyer, number, inv_date, lines,
                             net, vat, total, iban)
        return "invoice", truth, pdf, variant

    buf, c = _canvas()
    dx = rng.uniform(-10, 10)
    left = 56 + dx
    if variant == "modern":
        c.setFont("Helvetica-Bold", 18)
        c.drawString(left, H - 70, seller)
        c.setFont("Helvetica", 8)
        c.drawString(left, H - 84, f"{s_street} {s_no} · {s_plz} {s_city} · USt-IdNr. DE{rng.randint(100000000, 999999999)}")
    else:
        c.setFont("Helvetica-Bold", 12)
        c.drawRightString(W - 56 + dx, H - 60, seller)
        c.setFont("Helvetica", 9)
        c.drawRightString(W - 56 + dx, H - 73, f"{s_street} {s_no}")
        c.drawRightString(W - 56 + dx, H - 85, f"{s_plz} {s_city}")
    c.setFont("Helvetica", 7)
    c.drawString(left, H - 140, f"{seller} · {s_street} {s_no} · {s_plz} {s_city}")
    c.setFont("Helvetica", 10)
    for i, ln in enumerate([f"{buyer.given_names} {buyer.family_name}", buyer.street_line,
                            buyer.city_line]):
        c.drawString(left, H - 158 - i * 13, ln)
    c.setFont("Helvetica-Bold", 16)
    c.drawString(left, H - 240, "Rechnung")
    c.setFont("Helvetica", 10)
    meta = [(rng.choice(_NO_LABELS) + ":", number),
            (rng.choice(_DATE_LABELS) + ":", de_date(inv_date.isoformat())),
            ("Kundennummer:", str(rng.randint(10000, 99999)))]
    for i, (k, v) in enumerate(meta):
        c.drawString(W - 250 + dx, H - 170 - i * 14, k)
        c.drawString(W - 150 + dx, H - 170 - i * 14, v)
    y = H - 280
    c.setFont("Helvetica-Bold", 9)
    cols = [left, left + 30, left + 250, left + 300, left + 380]
    for x, head in zip(cols, ["Pos.", "Bezeichnung", "Menge", "Einzelpreis", "Gesamt"]):
        c.drawString(x, y, head)
    c.line(left, y - 4, W - 56 + dx, y - 4)
    c.setFont("Helvetica", 9)
    for i, (name, unit, qty, price, amount) in enumerate(lines, 1):
        y -= 16
        c.drawString(cols[0], y, str(i))
        c.drawString(cols[1], y, name)
        c.drawString(cols[2], y, f"{qty} {unit}")
        c.drawString(cols[3], y, de_money(f"{price:.2f}"))
        c.drawString(cols[4], y, de_money(f"{amount:.2f}"))
    y -= 10
    c.line(left, y, W - 56 + dx, y)
    total_label = rng.choice(_TOTAL_LABELS)
    for k, v, bold in [("Nettobetrag", net, False), ("zzgl. 19 % USt.", vat, False),
                       (total_label, total, True)]:
        y -= 16
        c.setFont("Helvetica-Bold" if bold else "Helvetica", 10)
        c.drawString(cols[2], y, k)
        c.drawString(cols[4], y, de_money(f"{v:.2f}"))
    y -= 40
    c.setFont("Helvetica", 9)
    c.drawString(left, y, "Bitte überweisen Sie den Betrag innerhalb von 14 Tagen auf unser Konto:")
    c.drawString(left, y - 13, f"IBAN: {group4(iban)}   Bank: {bank}")
    c.showPage()
    c.save()
    return "invoice", truth, buf.getvalue(), variant


def _einvoice_view(fake: FakeGermany, seller: str, seller_addr: tuple[str, str, str, str], buyer, number: str,
                   inv_date, lines, net: Decimal, vat: Decimal, total: Decimal, iban: str) -> bytes:
    """An e-invoice (XRechnung / ZUGFeRD) as its viewers print it.

    Structured by the EN 16931 business groups rather than laid out: the first
    page holds only header data (seller, buyer, remarks), positions and
    totals follow on page 2 — so page 1 alone has no amounts at all, which is
    what a batch split sees.
    """
    rng = fake.rng
    s_street, s_no, s_plz, s_city = seller_addr
    buf, c = _canvas()
    left, y = 56.0, H - 60

    def line(text: str, size: float = 9, bold: bool = False, indent: float = 0) -> None:
        nonlocal y
        c.setFont("Helvetica-Bold" if bold else "Helvetica", size)
        c.drawString(left + indent, y, text)
        y -= size + 5

    kind = rng.choice(["Handelsrechnung (380)", "Rechnung (380)", "Teilrechnung (326)"])
    line(rng.choice(["Beispiel-Rechnung", "Visualisierung der elektronischen Rechnung", "E-Rechnung"]), 8)
    line(f"{kind} Nr. {number} vom {de_date(inv_date.isoformat())}", 13, True)
    line("Währung: EUR")
    line(f"Liefer- und Leistungsdatum: {de_date((inv_date - timedelta(days=rng.randint(0, 5))).isoformat())}")
    line(f"Bestellung: {fake.today.year}-{rng.randint(100000, 999999)}")
    y -= 8
    line("Verkäufer", 10, True)
    for k, v in [("Nummer", str(rng.randint(100000, 999999))), ("Name", seller),
                 ("Anschrift", f"{s_street} {s_no}"), ("", f"DE {s_plz} {s_city}"),
                 ("Steuernummer", f"{rng.randint(100, 999)}/{rng.randint(100, 999)}/{rng.randint(10000, 99999)}"),
                 ("USt.-Id.-Nr.", f"DE{rng.randint(100000000, 999999999)}")]:
        line(f"{k}: {v}" if k else v, indent=10)
    y -= 8
    line(rng.choice(["Käufer/Leistungsempfänger", "Käufer"]), 10, True)
    for k, v in [("Nummer", f"K{rng.randint(10000, 99999)}"), ("Name", f"{buyer.given_names} {buyer.family_name}"),
                 ("Anschrift", buyer.street_line), ("", f"DE {buyer.city_line}")]:
        line(f"{k}: {v}" if k else v, indent=10)
    y -= 8
    line("Bemerkungen", 10, True)
    line(f"Rechnung gemäß Bestellung vom {de_date((inv_date - timedelta(days=rng.randint(10, 90))).isoformat())}.",
         indent=10)
    c.setFont("Helvetica", 8)
    c.drawString(left, 40, f"{seller} · Geschäftsführung: {fake.faker.name()} · Seite 1 von 2")
    c.showPage()

    y = H - 60
    line("Rechnungspositionen", 10, True)
    for i, (name, unit, qty, price, amount) in enumerate(lines, 1):
        line(f"Position {i}: {name}", bold=True)
        line(f"Menge: {qty} {unit}   Preis pro Einheit (netto): {de_money(f'{price:.2f}')}   "
             f"Umsatzsteuer: 19 %   Gesamtpreis (netto): {de_money(f'{amount:.2f}')}", indent=10)
    y -= 8
    line("Gesamtbeträge", 10, True)
    for k, v in [("Summe aller Positionen", net), ("Gesamtbetrag ohne USt.", net),
                 ("Summe USt.", vat), ("Gesamtbetrag mit USt.", total), ("Zahlbetrag", total)]:
        line(f"{k}: {de_money(f'{v:.2f}')}", indent=10)
    y -= 8
    line("Zahlungsinformationen", 10, True)
    line(f"Zahlungsart: SEPA-Überweisung   IBAN: {group4(iban)}   Kontoinhaber: {seller}", indent=10)
    line(f"Fälligkeitsdatum: {de_date((inv_date + timedelta(days=14)).isoformat())}", indent=10)
    c.setFont("Helvetica", 8)
    c.drawString(left, 40, f"{seller} · Seite 2 von 2")
    c.showPage()
    c.save()
    return buf.getvalue()


# -- letter -----------------------------------------------------------------------

_SUBJECTS = [
    ("Nachreichung von Unterlagen zu meiner Gewerbe-Anmeldung",
     "anbei sende ich Ihnen die noch fehlende Kopie meines Personalausweises zu meiner "
     "Gewerbe-Anmeldung vom {date}. Bitte entschuldigen Sie die Verzögerung."),
    ("Rückfrage zu meinem Antrag auf Wohngeld",
     "mein Antrag auf Wohngeld - Mietzuschuss ist seit mehreren Wochen in Bearbeitung. "
     "Können Sie mir mitteilen, ob noch Unterlagen fehlen?"),
    ("Widerspruch gegen den Bescheid vom {date}",
     "hiermit lege ich fristgerecht Widerspruch gegen den oben genannten Bescheid ein. "
     "Eine Begründung reiche ich gesondert nach."),
    ("Adressänderung",
     "bitte beachten Sie, dass ich umgezogen bin. Meine Anmeldung bei der Meldebehörde "
     "habe ich bereits erledigt. Bitte senden Sie künftige Post an die neue Anschrift."),
]


def letter(fake: FakeGermany, variant: str | None) -> Result:
    rng = fake.rng
    p = fake.person()
    subject, body = rng.choice(_SUBJECTS)
    when = de_date((fake.today - timedelta(days=rng.randint(5, 60))).isoformat())
    buf, c = _canvas()
    left = 70 + rng.uniform(-10, 10)
    c.setFont("Helvetica", 10)
    for i, ln in enumerate([f"{p.given_names} {p.family_name}", p.street_line, p.city_line]):
        c.drawString(left, H - 70 - i * 13, ln)
    for i, ln in enumerate([f"Stadt {fake.faker.city()}", "Bürgerbüro", fake.faker.street_address(),
                            f"{fake.postal_code()} {fake.faker.city()}"]):
        c.drawString(left, H - 160 - i * 13, ln)
    c.drawRightString(W - 70, H - 240, f"{p.city}, {de_date(fake.today.isoformat())}")
    c.setFont("Helvetica-Bold", 11)
    c.drawString(left, H - 280, subject.format(date=when))
    c.setFont("Helvetica", 10)
    text = c.beginText(left, H - 320)
    text.textLine("Sehr geehrte Damen und Herren,")
    text.textLine("")
    words, line = body.format(date=when).split(), ""
    for w in words:
        if len(line) + len(w) > 85:
            text.textLine(line)
            line = w
        else:
            line = (line + " " + w).strip()
    text.textLine(line)
    for ln in ["", "Mit freundlichen Grüßen", "", f"{p.given_names} {p.family_name}"]:
        text.textLine(ln)
    c.drawText(text)
    c.showPage()
    c.save()
    return "unknown", {}, buf.getvalue(), "letter"


# -- blank and noise ----------------------------------------------------------------


def blank(fake: FakeGermany, variant: str | None) -> Result:
    buf, c = _canvas()
    c.showPage()
    c.save()
    return "unknown", {}, buf.getvalue(), "blank"


def noise(fake: FakeGermany, variant: str | None) -> Result:
    """A photo-like page: smooth random blobs and a gradient, no text at all."""
    rng = np.random.default_rng(fake.rng.randrange(2**32))
    small = rng.random((12, 9, 3)) * 255
    img = Image.fromarray(small.astype(np.uint8)).resize((900, 1200), Image.BICUBIC)
    arr = np.asarray(img).astype(np.float32)
    arr += rng.normal(0, 12, arr.shape)
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    jpg = io.BytesIO()
    img.save(jpg, format="JPEG", quality=80)
    buf, c = _canvas()
    c.drawImage(ImageReader(io.BytesIO(jpg.getvalue())), 30, 30, W - 60, H - 60)
    c.showPage()
    c.save()
    return "unknown", {}, buf.getvalue(), "noise"


# -- unknown form ------------------------------------------------------------------------


def _other_spec(kind: str) -> FormSpec:
    person = [
        Heading("Angaben zur Person"),
        [Cell("1", "Name", "family_name"), Cell("2", "Vorname(n)", "given_names"),
         Cell("3", "Geburtsdatum", "birth_date", 0.6)],
        [Cell("4", "Anschrift (Straße, Haus-Nr., PLZ, Ort)", "address")],
        [Cell("", "Telefon-Nr.", "phone"), Cell("", "E-Mail", "email")],
    ]
    if kind == "hundesteuer":
        return FormSpec(title="Anmeldung zur Hundesteuer", code="HSt 1",
                        subtitle="nach der Hundesteuersatzung", items=person + [
                            Heading("Angaben zum Hund"),
                            [Cell("5", "Rasse", "breed"), Cell("6", "Farbe", "colour"),
                             Cell("7", "Wurfdatum", "dog_birth", 0.6)],
                            [Cell("8", "Gehalten seit", "since"),
                             Check("9", "Listenhund", "listed", [(False, "nein"), (True, "ja")])],
                            [Cell("10", "Datum", "date"), Cell("11", "Unterschrift", None)]])
    return FormSpec(title="Antrag auf Bewohnerparkausweis", code="BPA",
                    subtitle="gemäß § 45 Abs. 1b StVO", items=person + [
                        Heading("Angaben zum Fahrzeug"),
                        [Cell("5", "Amtliches Kennzeichen", "plate"), Cell("6", "Fahrzeughalter", "holder")],
                        [Check("7", "Parkzone", "zone", [("A", "Zone A"), ("B", "Zone B"), ("C", "Zone C")])],
                        [Cell("8", "Datum", "date"), Cell("9", "Unterschrift", None)]])


def unknown_form(fake: FakeGermany, variant: str | None) -> Result:
    rng = fake.rng
    kind = variant if variant in ("hundesteuer", "parkausweis") else rng.choice(
        ["hundesteuer", "parkausweis"])
    p = fake.person()
    values = {
        "family_name": p.family_name, "given_names": p.given_names,
        "birth_date": de_date(p.birth_date), "address": p.address, "phone": p.phone,
        "email": p.email, "breed": rng.choice(["Mischling", "Labrador", "Dackel", "Schäferhund"]),
        "colour": rng.choice(["braun", "schwarz", "weiß-grau"]),
        "dog_birth": de_date(fake.date_between(fake.today - timedelta(days=4000), fake.today)),
        "since": de_date(fake.today.isoformat()), "listed": False,
        "plate": f"{rng.choice(['K', 'D', 'MS', 'AC', 'BN'])}-{rng.choice('ABCDEFGH')}{rng.choice('KLMNOPR')} {rng.randint(1, 9999)}",
        "holder": f"{p.given_names} {p.family_name}", "zone": rng.choice("ABC"),
        "date": de_date(fake.today.isoformat()), "authority": f"Stadt {p.city}",
    }
    pdf = render_form(_other_spec(kind), values, random.Random(rng.random()), rng.choice(STYLES))
    return "unknown", {}, pdf, kind


_UNKNOWN = {"letter": letter, "blank": blank, "noise": noise, "unknown_form": unknown_form,
            "hundesteuer": unknown_form, "parkausweis": unknown_form}


def unknown(fake: FakeGermany, variant: str | None) -> Result:
    """Any non-form document: ``variant`` names one, else the seed picks."""
    name = variant or fake.rng.choice(["letter", "letter", "blank", "noise", "unknown_form",
                                       "unknown_form"])
    try:
        gen = _UNKNOWN[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r}; choose one of {sorted(_UNKNOWN)}") from None
    return gen(fake, variant if gen is unknown_form else None)


GENERATORS: dict[str, Callable[[FakeGermany, str | None], Result]] = {
    "invoice": invoice, "letter": letter, "blank": blank, "noise": noise,
    "unknown_form": unknown_form, "unknown": unknown,
}
