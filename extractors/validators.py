"""Named field validators and check-digit algorithms (pure functions).

A validator takes the *normalised* value and a reference date and returns
``None`` when the value passes, or a :class:`ValidationIssue` with a machine
code and a German message a clerk understands. Form definitions name
validators in their ``validators:`` list; every value type also has an
implicit format validator (see :data:`TYPE_VALIDATORS`).

Check digits: IBAN by ISO 13616 MOD 97-10; Steuer-ID by ISO 7064 MOD 11,10
plus the digit-repetition rule of the Bundeszentralamt für Steuern.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from typing import Any, Callable

from formwerk.models import ValidationIssue

Validator = Callable[[Any, date], "ValidationIssue | None"]


# --------------------------------------------------------------------------
# check-digit algorithms
# --------------------------------------------------------------------------


def iban_is_valid(iban: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters → 10..35, mod 97 == 1."""
    s = re.sub(r"\s", "", iban or "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", s):
        return False
    if s.startswith("DE") and len(s) != 22:
        return False
    numeric = "".join(str(int(c, 36)) for c in s[4:] + s[:4])
    return int(numeric) % 97 == 1


def steuer_id_check_digit(first10: str) -> int:
    """ISO 7064 MOD 11,10 check digit over the first ten digits."""
    product = 10
    for ch in first10:
        total = (int(ch) + product) % 10
        if total == 0:
            total = 10
        product = (total * 2) % 11
    check = 11 - product
    return 0 if check == 10 else check


def tax_id_is_valid(tax_id: str) -> bool:
    """Steuerliche Identifikationsnummer: 11 digits, first not 0, repetition rule, check digit.

    Repetition rule: in the first ten digits exactly one digit occurs twice or
    three times (never three times in a row), all others at most once.
    """
    s = tax_id or ""
    if not re.fullmatch(r"\d{11}", s) or s[0] == "0":
        return False
    counts = Counter(s[:10])
    multi = [d for d, n in counts.items() if n > 1]
    if len(multi) != 1 or counts[multi[0]] > 3:
        return False
    if counts[multi[0]] == 3 and multi[0] * 3 in s[:10]:
        return False
    return steuer_id_check_digit(s[:10]) == int(s[10])


# --------------------------------------------------------------------------
# validators
# --------------------------------------------------------------------------


def _issue(code: str, message: str) -> ValidationIssue:
    return ValidationIssue(code=code, message=message)


def _as_date(v: Any) -> date | None:
    try:
        return date.fromisoformat(str(v))
    except (TypeError, ValueError):
        return None


def _years_between(a: date, b: date) -> float:
    return (b - a).days / 365.25


def v_birth_date(v: Any, today: date) -> ValidationIssue | None:
    d = _as_date(v)
    if d is None:
        return None
    if d >= today:
        return _issue("birth_date_future", "Das Geburtsdatum liegt nicht in der Vergangenheit.")
    if _years_between(d, today) > 110:
        return _issue("birth_date_implausible", "Das Geburtsdatum liegt mehr als 110 Jahre zurück.")
    return None


def v_activity_start(v: Any, today: date) -> ValidationIssue | None:
    """Start (or end) of a business: not decades away from today."""
    d = _as_date(v)
    if d is None:
        return None
    if _years_between(d, today) > 10:
        return _issue("date_too_old", "Das Datum liegt mehr als zehn Jahre zurück.")
    if _years_between(today, d) > 2:
        return _issue("date_too_far_ahead", "Das Datum liegt mehr als zwei Jahre in der Zukunft.")
    return None


def v_move_date(v: Any, today: date) -> ValidationIssue | None:
    d = _as_date(v)
    if d is None:
        return None
    if abs(_years_between(d, today)) > 5:
        return _issue("move_date_implausible", "Das Umzugsdatum liegt mehr als fünf Jahre vom heutigen Tag entfernt.")
    return None


def v_not_future(v: Any, today: date) -> ValidationIssue | None:
    d = _as_date(v)
    if d is None:
        return None
    if (d - today).days > 31:
        return _issue("date_in_future", "Das Datum liegt in der Zukunft.")
    if _years_between(d, today) > 30:
        return _issue("date_too_old", "Das Datum liegt mehr als 30 Jahre zurück.")
    return None


def v_iban(v: Any, today: date) -> ValidationIssue | None:
    if v and not iban_is_valid(str(v)):
        return _issue("iban_checksum", "Die IBAN ist ungültig (Prüfziffer stimmt nicht).")
    return None


def v_tax_id(v: Any, today: date) -> ValidationIssue | None:
    if v and not tax_id_is_valid(str(v)):
        return _issue("tax_id_checksum", "Die Steuer-Identifikationsnummer ist ungültig (Prüfziffer oder Ziffernfolge).")
    return None


def v_bic(v: Any, today: date) -> ValidationIssue | None:
    if v and not re.fullmatch(r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?", str(v)):
        return _issue("bic_format", "Die BIC hat nicht das Format von 8 oder 11 Zeichen.")
    return None


def v_postal_code(v: Any, today: date) -> ValidationIssue | None:
    if v and not re.fullmatch(r"\d{5}", str(v)) or str(v or "").startswith("00"):
        return _issue("postal_code_format", "Die Postleitzahl muss aus fünf Ziffern bestehen.")
    return None


def v_address(v: Any, today: date) -> ValidationIssue | None:
    m = re.search(r", (\d{5}) \S", str(v or ""))
    # the street part needs a number and a name: "27, 28421 Jena" lost "Beierplatz"
    street = str(v)[: m.start()] if m else ""
    if v and (not m or m[1].startswith("00") or not re.search(r"\d", street)
              or not re.search(r"[A-Za-zÄÖÜäöüß]{2}", street)):
        return _issue("address_incomplete", "Die Anschrift ist unvollständig (Straße, Hausnummer, PLZ und Ort).")
    return None


def v_email(v: Any, today: date) -> ValidationIssue | None:
    if v and not re.fullmatch(r"[\w.+\-]+@[\w\-]+(\.[\w\-]+)*\.[A-Za-z]{2,}", str(v)):
        return _issue("email_format", "Die E-Mail-Adresse ist nicht gültig.")
    return None


def v_phone(v: Any, today: date) -> ValidationIssue | None:
    digits = re.sub(r"\D", "", str(v or ""))
    if v and not 6 <= len(digits) <= 16:
        return _issue("phone_format", "Die Telefonnummer hat eine unplausible Länge.")
    return None


def v_employee_count(v: Any, today: date) -> ValidationIssue | None:
    if isinstance(v, int) and not 0 <= v <= 5000:
        return _issue("employee_count_implausible", "Die Zahl der Beschäftigten ist unplausibel.")
    return None


def v_rent_range(v: Any, today: date) -> ValidationIssue | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    if not 50 <= x <= 5000:
        return _issue("rent_implausible", "Die monatliche Miete liegt außerhalb von 50 bis 5.000 Euro.")
    return None


def v_account_number(v: Any, today: date) -> ValidationIssue | None:
    s = re.sub(r"\s", "", str(v or "")).upper()
    if not s:
        return None
    if s[:2].isalpha():
        return v_iban(s, today)
    if not re.fullmatch(r"\d{3,10}", s):
        return _issue("account_number_format", "Die Kontonummer ist weder eine IBAN noch eine Kontonummer.")
    return None


#: characters of German ID card / passport serial numbers (no vowels, no B D Q S)
ID_SERIAL_CHARS = set("CFGHJKLMNPRTVWXYZ0123456789")


def v_id_document_number(v: Any, today: date) -> ValidationIssue | None:
    s = re.sub(r"\s", "", str(v or "")).upper()
    if v and (not re.fullmatch(r"[A-Z0-9]{6,10}", s) or not set(s) <= ID_SERIAL_CHARS):
        return _issue("id_document_format", "Die Seriennummer des Dokuments hat kein gültiges Format.")
    return None


def v_invoice_number(v: Any, today: date) -> ValidationIssue | None:
    if v and not re.search(r"\d", str(v)):
        return _issue("invoice_number_format", "Die Rechnungsnummer enthält keine Ziffer.")
    return None


VALIDATORS: dict[str, Validator] = {
    "birth_date": v_birth_date,
    "activity_start": v_activity_start,
    "move_date": v_move_date,
    "not_future": v_not_future,
    "iban": v_iban,
    "tax_id": v_tax_id,
    "bic": v_bic,
    "postal_code": v_postal_code,
    "address": v_address,
    "email": v_email,
    "phone": v_phone,
    "employee_count": v_employee_count,
    "rent_range": v_rent_range,
    "account_number": v_account_number,
    "id_document_number": v_id_document_number,
    "invoice_number": v_invoice_number,
}

#: validators every field of a type gets without naming them
TYPE_VALIDATORS: dict[str, list[str]] = {
    "iban": ["iban"],
    "tax_id": ["tax_id"],
    "postal_code": ["postal_code"],
    "address": ["address"],
    "email": ["email"],
    "phone": ["phone"],
    "bic": ["bic"],
}

#: German message when the raw text cannot be read as the field's type
FORMAT_MESSAGES: dict[str, str] = {
    "date": "Das Datum ist nicht lesbar (erwartet z. B. 14.02.1986).",
    "int": "Die Angabe ist keine ganze Zahl.",
    "money": "Der Betrag ist nicht lesbar (erwartet z. B. 642,50).",
    "address": "Die Anschrift ist nicht lesbar (erwartet: Straße Nr, PLZ Ort).",
    "postal_code": "Die Postleitzahl ist nicht lesbar.",
    "iban": "Die IBAN ist nicht lesbar.",
    "tax_id": "Die Steuer-Identifikationsnummer ist nicht lesbar (11 Ziffern).",
    "bic": "Die BIC ist nicht lesbar.",
    "email": "Die E-Mail-Adresse ist nicht lesbar.",
    "phone": "Die Telefonnummer ist nicht lesbar.",
    "bool": "Ja/Nein ist nicht eindeutig angekreuzt.",
    "choice": "Keine eindeutige Auswahl angekreuzt.",
}


def validators_for(type_: str, names: list[str]) -> list[str]:
    """Implicit type validators followed by the named ones, without duplicates."""
    out: list[str] = []
    for n in [*TYPE_VALIDATORS.get(type_, []), *names]:
        if n not in out:
            out.append(n)
    return out


def run_validators(type_: str, names: list[str], value: Any, today: date | None = None) -> list[ValidationIssue]:
    """Run the validators for a normalised value; unknown names raise ``KeyError``."""
    today = today or date.today()
    issues = []
    for n in validators_for(type_, names):
        issue = VALIDATORS[n](value, today)
        if issue is not None:
            issues.append(issue)
    return issues


#: validators whose pass is strong evidence the value was read right
CHECKSUM_VALIDATORS = {"iban", "tax_id"}
