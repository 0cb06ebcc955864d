"""The naive approach a user would write: keywords + regular expressions.

Baseline (2) of the benchmark: plain OCR text in, a document type from
keywords and field values from "label, then a value pattern" regexes out. It
has no confidence, so everything it finds would go straight through; its
results are shaped like the pipeline's contract JSON so the same metrics apply.
"""

from __future__ import annotations

import re
from typing import Any

# first match wins: specific forms before the generic invoice words
KEYWORDS: list[tuple[str, list[str]]] = [
    ("gewerbeanmeldung", ["gewerbe-anmeldung", "gewerbeanmeldung", "gewa 1", "§ 14 gewo"]),
    ("wohngeld_mietzuschuss", ["wohngeld", "mietzuschuss"]),
    ("meldebehoerde_anmeldung", ["meldebehörde", "anmeldung bei der"]),
    ("kindergeld_kg1", ["kindergeld", "familienkasse", "kg 1"]),
    ("invoice", ["rechnungsnummer", "rechnung nr", "rechnung", "invoice"]),
]

DATE = r"(\d{1,2})\s?\.\s?(\d{1,2})\s?\.\s?(\d{4})"
VALUE_PATTERNS = {
    "date": DATE,
    "iban": r"([A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){3,7}(?:\s?[A-Z0-9]{1,3})?)",
    "email": r"([\w.+-]+@[\w-]+\.[\w.-]+)",
    "phone": r"(\+?[\d][\d ()/-]{5,}\d)",
    "money": r"(-?\d{1,3}(?:\.\d{3})*,\d{2})",
    "tax_id": r"(\d{2}\s?\d{3}\s?\d{3}\s?\d{3})",
    "int": r"(\d+)",
    "text": r"([^\n]+)",
}

# field -> (label regex, value kind); label regexes are case-insensitive
RULES: dict[str, list[tuple[str, str, str]]] = {
    "gewerbeanmeldung": [
        ("registered_name", r"Name mit Rechtsform", "text"),
        ("family_name", r"\bName\b", "text"),
        ("given_names", r"Vorname", "text"),
        ("birth_date", r"Geburtsdatum", "date"),
        ("birth_place", r"Geburtsort", "text"),
        ("phone", r"Telefon", "phone"),
        ("email", r"E-Mail", "email"),
        ("activity", r"Angemeldete T[äa]tigkeit", "text"),
        ("activity_start", r"Beginn der T[äa]tigkeit", "date"),
        ("employees_full_time", r"Vollzeit", "int"),
        ("employees_part_time", r"Teilzeit", "int"),
        ("signature_date", r"Datum", "date"),
    ],
    "wohngeld_mietzuschuss": [
        ("family_name", r"Familienname", "text"),
        ("given_names", r"Vorname", "text"),
        ("birth_date", r"Geburtsdatum", "date"),
        ("phone", r"Telefon", "phone"),
        ("email", r"E-Mail", "email"),
        ("bank_name", r"Kreditinstitut", "text"),
        ("account_number", r"IBAN", "iban"),
        ("rent_total", r"Miete", "money"),
        ("move_in_date", r"Einzug", "date"),
    ],
    "meldebehoerde_anmeldung": [
        ("move_in_date", r"Tag des Einzugs", "date"),
        ("move_out_date", r"Tag des Auszugs", "date"),
        ("family_name", r"Familienname", "text"),
        ("given_names", r"Vorname", "text"),
        ("birth_name", r"Geburtsname", "text"),
        ("birth_date", r"Tag der Geburt|Geburtsdatum", "date"),
        ("birth_place", r"Ort.{0,10}Geburt|Geburtsort", "text"),
        ("nationality", r"Staatsangeh[öo]rigkeit", "text"),
    ],
    "kindergeld_kg1": [
        ("tax_id", r"Identifikationsnummer", "tax_id"),
        ("family_name", r"\bName\b", "text"),
        ("given_names", r"Vorname", "text"),
        ("birth_name", r"Geburtsname", "text"),
        ("birth_date", r"Geburtsdatum", "date"),
        ("birth_place", r"Geburtsort", "text"),
        ("nationality", r"Staatsangeh[öo]rigkeit", "text"),
        ("iban", r"IBAN", "iban"),
        ("bic", r"BIC", "text"),
        ("bank_name", r"\bBank\b", "text"),
        ("account_holder", r"Kontoinhaber", "text"),
    ],
    "invoice": [
        ("invoice_number", r"Rechnungs?-?\s?(?:nummer|nr\.?)", "text"),
        ("invoice_date", r"Rechnungsdatum|Datum", "date"),
        ("total_amount", r"Gesamtbetrag|Rechnungsbetrag|Zahlbetrag|Summe", "money"),
        ("iban", r"IBAN", "iban"),
    ],
}


def classify(text: str) -> str:
    low = text.casefold()
    for doc_type, words in KEYWORDS:
        if any(w in low for w in words):
            return doc_type
    return "unknown"


def _normalise(kind: str, m: re.Match[str]) -> Any:
    if kind == "date":
        d, mo, y = (int(g) for g in m.groups()[:3])
        return f"{y:04d}-{mo:02d}-{d:02d}" if 1 <= mo <= 12 and 1 <= d <= 31 else None
    v = m.group(1).strip()
    if kind == "money":
        return f"{float(v.replace('.', '').replace(',', '.')):.2f}"
    if kind in ("iban",):
        return v.replace(" ", "").upper()
    if kind == "tax_id":
        return v.replace(" ", "")
    if kind == "int":
        return int(v)
    if kind == "text":
        return v.strip(" :.\t") or None
    return v


def extract(doc_type: str, text: str) -> dict[str, Any]:
    """``field -> value`` for the fields whose label and value pattern match."""
    out: dict[str, Any] = {}
    for name, label, kind in RULES.get(doc_type, []):
        lm = re.search(label, text, re.IGNORECASE)
        if not lm:
            continue
        window = text[lm.end():lm.end() + 160]
        if kind == "text":
            # rest of the label's line, else the next non-empty line
            lines = [ln for ln in window.split("\n")]
            cand = lines[0].strip(" :.\t") or next((ln.strip() for ln in lines[1:] if ln.strip()), "")
            window = cand
        vm = re.search(VALUE_PATTERNS[kind], window)
        if vm:
            try:
                value = _normalise(kind, vm)
            except ValueError:
                value = None
            if value is not None:
                out[name] = value
    return out


def naive_result(file: str, text: str) -> dict[str, Any]:
    """A contract-shaped result: everything found goes straight through."""
    doc_type = classify(text)
    fields = extract(doc_type, text)
    return {
        "file": file,
        "status": "completed",
        "document_type": doc_type,
        "document_type_confidence": None,
        "fields": {k: {"value": v, "raw": str(v), "confidence": 1.0, "needs_review": False}
                   for k, v in fields.items()},
    }
