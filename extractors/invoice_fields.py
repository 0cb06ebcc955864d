"""Reading invoices (free layout): German invoice vocabulary over whole text lines.

Invoices have no fixed layout, so the label-relative model of
``extractors.word_fields`` is the wrong tool: "Rechnungssumme ohne USt." is
not an invoice number, "Gesamtbetrag der Zuschläge 0,00" is not the total.
Here each field is found by patterns over full lines (words of one visual
line, left to right; page pixels, top-left origin):

* ``invoice_number`` — a token with a digit after "Rechnungsnummer",
  "Rechnungs-Nr.", "Rechnung Nr.", "Belegnummer", or "… rechnung (380) Nr. X";
* ``invoice_date`` — the date after "Rechnungsdatum"/"Datum"/"Belegdatum"/
  "Nr. X vom <date>";
* ``total_amount`` — the amount on a gross-total line ("Gesamtbetrag",
  "Bruttosumme", "Rechnungsbetrag", "Summe brutto", then "Zahlbetrag"/"zu
  zahlen"); cross-checked against net + VAT when both are printed;
* ``iban`` — an IBAN pattern that passes mod 97, preferring one labelled "IBAN";
* ``seller_name`` — "Verkäufer … Name: X", a "Verkäufer:"/"Lieferant:" line,
  the sender line above the recipient ("Firma · Straße · PLZ Ort") or the
  letterhead; two sources agreeing raise the confidence.

Each finder returns a :class:`Found` (raw, words, evidence, page) where
``evidence`` in [0, 1] is the label/pattern quality that
``extractors.confidence`` turns into the field's label factor. A field names
its finder in the form definition (``finder:``, see :data:`FINDERS`);
:class:`InvoiceReader` is the strategy of ``extractors.readers`` that runs
it. No temporalio imports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from typing import TYPE_CHECKING, Callable

from formwerk.models import ExtractedField, Word

from extractors.layout import Line, group_lines, union
from extractors.normalise import find_date_text, normalise_date, normalise_iban, normalise_money
from extractors.readers import Finisher
from extractors.validators import iban_is_valid
from forms.catalogue import FieldDefinition

if TYPE_CHECKING:
    from extractors.reader import DocumentReader


@dataclass
class Found:
    """A raw value, the words it came from and the evidence score (0..1)."""

    raw: str
    words: list[Word]
    evidence: float
    page: int


def full_lines(pages: dict) -> list[Line]:
    """Whole visual lines of every page (no column split), in reading order."""
    out: list[Line] = []
    for n in sorted(pages):
        out.extend(sorted(group_lines(pages[n].words, split_gaps=False), key=lambda ln: ln.bbox[1]))
    return out


def _after(line: Line, pos: int) -> list[Word]:
    """Words of ``line`` starting at or after char offset ``pos`` of ``line.text``."""
    return [w for w, s in zip(line.words, line.starts) if s >= pos]


# -- invoice number ------------------------------------------------------------

_NO_LABEL = re.compile(
    r"(rechnungs?[\s-]*(?:nummer|nr\.?|no\.?)|rechnung\s*(?:nr|no)\.?|belegnummer|beleg-?nr\.?|invoice\s*(?:no|number)\.?)"
    r"\s*[:#]?\s*")
# "Handelsrechnung (380) Nr. 471102 vom 05.03.2018", "Gutschrift (…) (389) Nr. …"
# (ZUGFeRD visualisation: the document type code in brackets)
_TITLE_NO = re.compile(r"(?:(?:rechnung|gutschrift)\w*\)?\s*|\(\d{3}\)\s*)nr\.?\s*[:#]?\s*")
_DATE_TOKEN = re.compile(r"^\d{1,2}\.\d{1,2}\.\d{2,4}$")
_NUMBER_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-/_.]{2,24}$")


def _number_token(words: list[Word]) -> list[Word]:
    for w in words[:2]:
        t = w.text.strip(":#.,;")
        if _NUMBER_TOKEN.match(t) and re.search(r"\d", t) and not _DATE_TOKEN.match(t):
            return [w]
    return []


def find_invoice_number(lines: list[Line]) -> Found | None:
    """The first labelled number in reading order (later ones are references:
    "Belegnummer … angeben", "Rechnungsnummer der ursprünglichen Rechnung")."""
    for ln in lines:
        for pattern, ev in ((_NO_LABEL, 1.0), (_TITLE_NO, 0.95)):
            m = pattern.search(ln.text)
            if not m:
                continue
            ws = _number_token(_after(ln, m.end()))
            if ws:
                return Found(ws[0].text.strip(":#.,;"), ws, ev, ln.page)
    return None


# -- invoice date --------------------------------------------------------------

# label → evidence; "Datum" alone only as a word of its own (not "Lieferdatum")
_DATE_LABELS = [
    (re.compile(r"(rechnungs-?datum|belegdatum)\s*:?\s*"), 1.0),
    (re.compile(r"(?:rechnung|gutschrift|\(\d{3}\)).*\bnr\.?\s*\S+\s+vom\s*"), 1.0),
    (re.compile(r"(?<![a-zäöüß-])datum\s*:?\s*"), 0.9),
]


def find_invoice_date(lines: list[Line]) -> Found | None:
    """The best-labelled date; among equals the first in reading order."""
    for pattern, ev in _DATE_LABELS:
        for ln in lines:
            for m in pattern.finditer(ln.text):
                ws = _after(ln, m.end())[:3]
                txt = find_date_text(" ".join(w.text for w in ws))
                if txt:
                    used = [w for w in ws if any(ch.isdigit() for ch in w.text)][:3]
                    return Found(txt, used or ws, ev, ln.page)
    return None


# -- total amount --------------------------------------------------------------

# gross totals first (BT-112), then the amount due (may differ after prepayments)
_TOTAL_LABELS = [
    (re.compile(r"(gesamtbetrag|bruttosumme|bruttobetrag|rechnungsbetrag|rechnungsendbetrag|endbetrag|"
                r"gesamtsumme|summe brutto|gesamt brutto|brutto gesamt)(?!\s*der)"), 1.0),
    (re.compile(r"(zahlbetrag|zu zahlen(?:der betrag)?|zahlbarer betrag)"), 0.9),
]
_MONEY_TOKEN = re.compile(r"^-?\d{1,3}(?:\.\d{3})*,\d{2}$|^-?\d+,\d{2}$|^-?\d+\.\d{2}$")
_NET = re.compile(r"(nettobetrag|summe netto|netto|ohne ust|warenwert|positionssumme)")
_VAT = re.compile(r"(ust\b|ust\.|mwst|umsatzsteuer|steuerbetrag)")


def _amounts(words: list[Word]) -> list[Word]:
    return [w for w in words if _MONEY_TOKEN.match(w.text.replace("€", "").strip())]


def _line_amount(ln: Line, pos: int) -> tuple[str, Word] | None:
    ws = _amounts(_after(ln, pos))
    if not ws:
        return None
    w = ws[-1]  # the amount column is the last one on a totals line
    value = normalise_money(w.text.replace("€", ""))
    if value and w.text.strip().startswith("-") and Decimal(value) != 0:
        value = "-" + value  # credit notes, corrections: the sign is part of the amount
    return value, w


def find_total(lines: list[Line]) -> Found | None:
    best: Found | None = None
    for pattern, ev in _TOTAL_LABELS:
        hits = []
        for i, ln in enumerate(lines):
            m = pattern.search(ln.text)
            if m and "%" not in ln.text[m.end():]:
                got = _line_amount(ln, m.end())
                if got and got[0] and Decimal(got[0]) != 0:
                    hits.append((i, got))
        if hits:
            i, (value, w) = hits[-1]  # the last totals line is the final one
            check = _arithmetic(lines, i, Decimal(value))
            # net + VAT = total confirms the amount whatever its label said
            best = Found(value, [w], 1.0 if check == 1.0 else ev * check, lines[i].page)
            break
    return best


def _arithmetic(lines: list[Line], i: int, total: Decimal) -> float:
    """1.0 when a net and a VAT amount above the total add up to it; 0.9 when
    they are printed but do not; 0.95 when there is nothing to check against."""
    nets, vats = [], []
    for ln in lines[max(0, i - 8):i]:
        got = _line_amount(ln, 0)
        if not got or not got[0]:
            continue
        if _NET.search(ln.text):  # first: "Rechnungssumme ohne USt." is a net amount
            nets.append(Decimal(got[0]))
        elif _VAT.search(ln.text):
            vats.append(Decimal(got[0]))
    if not nets or not vats:
        return 0.95
    return 1.0 if any(n + v == total for n in nets for v in vats) else 0.9


# -- IBAN ----------------------------------------------------------------------

# check digits may come as O/I/l from OCR ("DEO5"); normalise_iban repairs them
_IBAN = re.compile(r"\b([A-Z]{2}\s?[0-9OIL]{2}(?:\s?[A-Z0-9]{4}){3,7}(?:\s?[A-Z0-9]{1,3}(?![A-Z0-9]))?)")


# the buyer's account (direct debit) is not where the invoice is paid to
_NOT_PAYEE = re.compile(r"(käufer|kunden|ihr(?:e|em)? konto|lastschrift|abgebucht|eingezogen|gläubiger)")


def find_iban(lines: list[Line]) -> Found | None:
    """A mod-97-valid IBAN, labelled ones first; a labelled invalid one is kept
    (its validator then flags it) because a clerk should see what is printed."""
    found: list[Found] = []
    for ln in lines:
        if _NOT_PAYEE.search(ln.text):
            continue
        raw_text = " ".join(w.text for w in ln.words)
        labelled = "iban" in ln.text
        for m in _IBAN.finditer(raw_text.upper()):
            iban = normalise_iban(m.group(1))
            if not iban:
                continue
            valid = iban_is_valid(iban)
            if not valid and not labelled:
                continue
            parts = set(m.group(1).split())
            ws = [w for w in ln.words if w.text.upper() in parts] or [w for w in ln.words if any(c.isdigit() for c in w.text)]
            ev = (1.0 if labelled else 0.85) if valid else 0.9
            found.append(Found(iban, ws or ln.words, ev, ln.page))
    if not found:
        return None
    found.sort(key=lambda f: -f.evidence)
    return found[0]


# -- seller --------------------------------------------------------------------

_SELLER_LABEL = re.compile(r"^(verkäufer|lieferant|rechnungssteller|absender)\s*:?\s*")
_NAME_LINE = re.compile(r"^name\s*:?\s*")
_SENDER_SEP = re.compile(r"\s[·•|]\s|\s-\s|,\s")
_COMPANY = re.compile(r"\b(gmbh|ag|kg|ohg|e\.\s?k\.|ug|gbr|mbh|e\.\s?v\.|se|a\.\s?g\.)(?!\w)", re.I)


def seller_candidates(lines: list[Line], first_page: int) -> list[Found]:
    """Every seller reading, strongest kind first."""
    out: list[Found] = []
    for i, ln in enumerate(lines):
        m = _SELLER_LABEL.match(ln.text)
        if not m:
            continue
        rest = _after(ln, m.end())
        if rest and not _NAME_LINE.match(" ".join(w.text.lower() for w in rest)):
            out.append(Found(" ".join(w.text for w in rest), rest, 0.9, ln.page))
        # a block: "Verkäufer" then "Nummer: …", "Name: X" within a few lines
        for nxt in lines[i + 1:i + 5]:
            mm = _NAME_LINE.match(nxt.text)
            if mm:
                ws = _after(nxt, mm.end())
                if ws:
                    out.append(Found(" ".join(w.text for w in ws), ws, 0.95, nxt.page))
                break
    page_lines = [ln for ln in lines if ln.page == first_page]
    if page_lines:
        height = max(ln.bbox[3] for ln in page_lines)
        top = [ln for ln in page_lines if ln.bbox[1] < 0.4 * height]
        for ln in top:  # the sender line "Firma · Straße · PLZ Ort" above the recipient
            raw = " ".join(w.text for w in ln.words)
            head = _company_head(raw)
            # OCR reads the "·" separators as "-" or drops them: the company's
            # legal form ends the name, the PLZ shows it is an address line
            if head and re.search(r"\b\d{5}\b", raw[len(head):]):
                out.append(Found(head, ln.words[:len(head.split())], 0.8, ln.page))
                break
        for ln in top[:2]:  # letterhead: the topmost line(s)
            raw = " ".join(w.text for w in ln.words)
            head = _company_head(raw)
            if head and sum(c.isalpha() for c in head) >= 3:
                out.append(Found(head, ln.words[:len(head.split())], 0.6, ln.page))
                break
    return out


_COMPANY_HEAD = re.compile(r"^(.{2,80}?\b(?:gmbh & co\.? kg|gmbh|ag|kg|ohg|e\.\s?k\.|ug|gbr|mbh|e\.\s?v\.|se|a\.\s?g\.|ltd\.?))(?!\w)",
                           re.I)


def _company_head(raw: str) -> str | None:
    """The leading company name up to its legal form ("Müller Haustechnik e.K."), if any."""
    m = _COMPANY_HEAD.match(raw.strip())
    return m.group(1).strip() if m else None


def find_seller(lines: list[Line], first_page: int) -> Found | None:
    """The strongest candidate; confirmed by another, independent one → evidence up."""
    cands = seller_candidates(lines, first_page)
    if not cands:
        return None
    best = max(cands, key=lambda f: f.evidence)
    key = " ".join(best.raw.casefold().split())
    agree = sum(1 for c in cands if c is not best and " ".join(c.raw.casefold().split()) == key)
    ev = best.evidence
    if agree:
        ev = min(1.0, ev + 0.15 * agree + 0.05)
    if not _COMPANY.search(best.raw):
        ev *= 0.85  # a seller without legal form is more often a misread/other line
    return Found(best.raw, best.words, ev, best.page)


#: the finders a field of a free-layout form names (``finder:`` in its YAML),
#: each ``(lines, first page) -> Found | None``
FINDERS: dict[str, Callable[[list[Line], int], Found | None]] = {
    "invoice_number": lambda lines, first_page: find_invoice_number(lines),
    "invoice_date": lambda lines, first_page: find_invoice_date(lines),
    "total_amount": lambda lines, first_page: find_total(lines),
    "iban": lambda lines, first_page: find_iban(lines),
    "seller": find_seller,
}


class InvoiceReader:
    """Free-layout reading (``reader: invoice``): the field's named finder
    over whole lines; its evidence scales the confidence. ``None`` for a
    field without a ``finder`` (then it is read by its label)."""

    name = "invoice"

    def __init__(self, finish: Finisher):
        self._finish = finish

    def read(self, f: FieldDefinition, r: DocumentReader, done: dict) -> ExtractedField | None:
        if not f.finder:
            return None
        if not r.pages:
            return ExtractedField(name=f.name, source="none")
        found = FINDERS[f.finder](r.full_lines, min(r.pages))
        if found is None:
            return ExtractedField(name=f.name, source="none")
        return self._finish(f, found.raw, r.sources[found.page], page=found.page,
                            bbox=union([w.bbox for w in found.words]) if found.words else None,
                            words=found.words, extra=found.evidence)
