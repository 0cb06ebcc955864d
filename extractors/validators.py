"""Named field validators (pure functions).

A validator takes the *normalised* value and a reference date and returns
``None`` when the value passes, or a :class:`ValidationIssue` with a machine
code and a German message a clerk understands. Form definitions name
validators in their ``validators:`` list; every value type also has an
implicit format validator (see :data:`TYPE_VALIDATORS`).

Numbers with published rules are checked by libraries that maintain them,
not by code of our own: IBAN and BIC by ``schwifty`` (ISO 13616 check digits,
each country's BBAN structure, the German account check-digit methods of the
Bundesbank's bank-code register, and that register for BICs), the
Steuer-ID, Steuernummer and USt-IdNr by ``python-stdnum``, phone numbers by
``phonenumbers`` (Google's numbering plans, per area code).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Callable

import phonenumbers
from schwifty import BIC, IBAN
from schwifty.exceptions import InvalidBBANChecksum, InvalidChecksumDigits, SchwiftyException
from stdnum.de import idnr, stnr, vat
from stdnum.exceptions import InvalidChecksum, ValidationError

from formwerk.models import ValidationIssue

Validator = Callable[[Any, date], "ValidationIssue | None"]


# --------------------------------------------------------------------------
# library checks
# --------------------------------------------------------------------------


def iban_problem(iban: str) -> str | None:
    """``None`` for a valid IBAN, else which part fails: ``"checksum"`` (ISO
    13616 check digits), ``"account"`` (the German bank's own account check
    digit, for banks in the register) or ``"format"`` (country, length, BBAN
    structure)."""
    s = re.sub(r"\s", "", iban or "").upper()
    if not s:
        return "format"
    try:
        IBAN(s, validate_bban=True)
    except InvalidChecksumDigits:
        return "checksum"
    except InvalidBBANChecksum:
        return "account"
    except (SchwiftyException, ValueError):
        return "format"
    return None


def iban_is_valid(iban: str) -> bool:
    """Whether ``iban`` passes every check of :func:`iban_problem`."""
    return iban_problem(iban) is None


def tax_id_is_valid(tax_id: str) -> bool:
    """Steuerliche Identifikationsnummer: stdnum's length, leading digit,
    digit-repetition rule and ISO 7064 MOD 11,10 check digit; plus the
    Bundeszentralamt's rule stdnum lacks, that a digit occurring three times
    is never three in a row."""
    s = tax_id or ""
    if not re.fullmatch(r"\d{11}", s) or not idnr.is_valid(s):
        return False
    return not re.search(r"(\d)\1\1", s[:10])


def bic_registered(bic: str) -> bool:
    """Whether the Bundesbank register (shipped with schwifty) knows the bank of a BIC."""
    try:
        return bool(BIC(bic).bank_names or BIC(bic[:8]).bank_names)
    except (SchwiftyException, ValueError):
        return False


def iban_bank_bics(iban: str) -> set[str] | None:
    """The 8-character BICs the register lists for the bank code of a German
    IBAN; ``None`` when the IBAN is invalid or its bank code is not registered."""
    try:
        i = IBAN(re.sub(r"\s", "", iban or "").upper())
    except (SchwiftyException, ValueError):
        return None
    if i.country_code != "DE":
        return None
    try:
        bics = {str(b)[:8] for b in BIC.candidates_from_bank_code("DE", i.bank_code)}
    except (SchwiftyException, ValueError):  # bank code not in the register
        return None
    if i.bic is not None:
        bics.add(str(i.bic)[:8])
    return bics or None


def bic_bank_names(bic: str) -> list[str]:
    """The register's names of the bank a BIC belongs to (empty when unknown)."""
    try:
        return list(BIC(bic).bank_names or BIC(bic[:8]).bank_names)
    except (SchwiftyException, ValueError):
        return []


def phone_problem(phone: str) -> str | None:
    """``None`` for a number valid in the numbering plan (German when it has no
    country code), else ``"unreadable"`` or ``"invalid"`` (wrong length for
    its area code or mobile range, unknown area code)."""
    try:
        n = phonenumbers.parse(str(phone), "DE")
    except phonenumbers.NumberParseException:
        return "unreadable"
    return None if phonenumbers.is_valid_number(n) else "invalid"


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


_IBAN_ISSUES = {
    "checksum": ("iban_checksum", "Die IBAN ist ungültig (Prüfziffer stimmt nicht)."),
    "account": ("iban_account_checksum",
                "Die IBAN ist ungültig: die Kontonummer passt nicht zur Prüfziffer-Regel ihrer Bank."),
    "format": ("iban_format", "Die IBAN hat nicht die Länge oder den Aufbau ihres Landes."),
}


def v_iban(v: Any, today: date) -> ValidationIssue | None:
    problem = iban_problem(str(v)) if v else None
    return _issue(*_IBAN_ISSUES[problem]) if problem else None


def v_tax_id(v: Any, today: date) -> ValidationIssue | None:
    if v and not tax_id_is_valid(str(v)):
        return _issue("tax_id_checksum", "Die Steuer-Identifikationsnummer ist ungültig (Prüfziffer oder Ziffernfolge).")
    return None


def v_bic(v: Any, today: date) -> ValidationIssue | None:
    """Format and country by schwifty; a German BIC must name a bank of the
    Bundesbank register (a misread character gives a BIC no bank has)."""
    if not v:
        return None
    s = str(v)
    try:
        bic = BIC(s)
    except (SchwiftyException, ValueError):
        return _issue("bic_format", "Die BIC hat nicht das Format von 8 oder 11 Zeichen.")
    if bic.country_code == "DE" and not bic_registered(s):
        return _issue("bic_unknown", "Zu dieser BIC ist keine deutsche Bank verzeichnet.")
    return None


def v_steuernummer(v: Any, today: date) -> ValidationIssue | None:
    """Steuernummer of a German tax office: one of the Länder's formats
    (stdnum ``de.stnr``, "21/815/08150" or the 13-digit federal form)."""
    if v and not stnr.is_valid(str(v)):
        return _issue("steuernummer_format", "Die Steuernummer hat keines der Formate der Finanzämter.")
    return None


def v_vat_id(v: Any, today: date) -> ValidationIssue | None:
    """German USt-IdNr (``DE`` + 9 digits, ISO 7064 MOD 11,10 by stdnum ``de.vat``)."""
    if not v:
        return None
    try:
        vat.validate(str(v))
    except InvalidChecksum:
        return _issue("vat_id_checksum", "Die USt-IdNr. ist ungültig (Prüfziffer stimmt nicht).")
    except ValidationError:
        return _issue("vat_id_format", "Die USt-IdNr. muss aus DE und neun Ziffern bestehen.")
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
    """A number of the numbering plan (phonenumbers): catches numbers cut or
    lengthened by a misread (length per area code and mobile range)."""
    if v and phone_problem(str(v)):
        return _issue("phone_format", "Die Telefonnummer passt nicht zum Rufnummernplan (Vorwahl oder Länge).")
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
    "steuernummer": v_steuernummer,
    "vat_id": v_vat_id,
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
CHECKSUM_VALIDATORS = {"iban", "tax_id", "vat_id"}
