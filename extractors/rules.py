"""Cross-field rules named by form definitions (``rules:`` in the YAML).

Each check is a named function of :data:`CHECKS`; a form's rule gives it a
code, the fields it applies to (its arguments, in order), params and the
German message a clerk sees when it fails. A check takes the normalised
values and params and returns True when the rule holds. A rule whose fields
are missing holds (missing fields are a routing matter, not a contradiction).
``bank_consistent`` reads the Bundesbank bank-code register that ships with
``schwifty``.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any, Callable

from formwerk.models import ExtractedField, ValidationIssue

from extractors.validators import bic_bank_names, iban_bank_bics


def _d(v: Any) -> date | None:
    try:
        return date.fromisoformat(str(v))
    except (TypeError, ValueError):
        return None


def date_after(a: Any, b: Any, **_: Any) -> bool:
    """``a`` is on or after ``b``."""
    da, db = _d(a), _d(b)
    return da is None or db is None or da >= db


def date_not_after(a: Any, b: Any, days: int = 0, **_: Any) -> bool:
    """``a`` is at most ``days`` days after ``b``."""
    da, db = _d(a), _d(b)
    return da is None or db is None or (da - db).days <= days


def min_age(birth: Any, at: Any, years: int = 14, **_: Any) -> bool:
    """The person born on ``birth`` is at least ``years`` old on ``at``."""
    db, da = _d(birth), _d(at)
    if db is None or da is None:
        return True
    age = da.year - db.year - ((da.month, da.day) < (db.month, db.day))
    return age >= years


def present(a: Any, b: Any, **_: Any) -> bool:
    """When ``b`` is given, ``a`` must be given too."""
    return b in (None, "", []) or a not in (None, "", [])


def _name_words(name: str) -> set[str]:
    """Distinctive words (4+ letters) of a bank name, accents folded ("Köln" → "koln")."""
    s = unicodedata.normalize("NFKD", name.casefold().replace("ß", "ss"))
    s = "".join(c for c in s if not unicodedata.combining(c))
    return {w for w in re.findall(r"[a-z0-9]+", s) if len(w) >= 4} - _GENERIC_BANK_WORDS


# words many banks' names share: agreement on one of them says nothing
_GENERIC_BANK_WORDS = {"bank", "sparkasse", "stadtsparkasse", "kreissparkasse", "volksbank", "raiffeisenbank",
                       "deutsche", "landesbank", "kreditbank", "filiale", "zweigstelle", "niederlassung"}


def _names_agree(written: str, registered: list[str]) -> bool:
    """A written bank name agrees with the register when one of its words is,
    or contains, a word of a registered name ("Spk KölnBonn" ~ "Sparkasse
    KölnBonn", "Postbank" ~ "Postbank Ndl der Deutsche Bank"): forms carry
    short and branch names, so only names sharing nothing contradict."""
    mine = _name_words(written)
    if not mine:  # only abbreviations or generic words ("DKB", "Sparkasse"): nothing to compare
        return True
    theirs = {w for n in registered for w in _name_words(n)}
    return any(a in b or b in a for a in mine for b in theirs)


def bank_consistent(iban: Any, bic: Any, bank_name: Any = None, **_: Any) -> bool:
    """IBAN, BIC and bank name name one bank (the Bundesbank register shipped
    with schwifty): the BIC is one the register lists for the IBAN's bank
    code, and the written bank name shares a word with the BIC's bank. What
    the register does not know (foreign banks, a bank code it lacks) holds."""
    if iban and bic:
        bics = iban_bank_bics(str(iban))
        if bics is not None and str(bic)[:8].upper() not in bics:
            return False
    if bank_name and (bic or iban):
        if bic:
            names = bic_bank_names(str(bic).upper())
        else:  # no BIC written: the bank of the IBAN's bank code
            names = [n for b in sorted(iban_bank_bics(str(iban)) or ()) for n in bic_bank_names(b)]
        if names and not _names_agree(str(bank_name), names):
            return False
    return True


CHECKS: dict[str, Callable[..., bool]] = {
    "date_after": date_after,
    "date_not_after": date_not_after,
    "min_age": min_age,
    "present": present,
    "bank_consistent": bank_consistent,
}

#: confidence factor applied to every field named by a violated rule
RULE_FAILURE_FACTOR = 0.5


def apply_rules(rules: list, fields: dict[str, ExtractedField]) -> list[ValidationIssue]:
    """Evaluate ``rules`` (``forms.catalogue.CrossFieldRule``); lower confidence of involved fields."""
    issues = []
    for rule in rules:
        fn = CHECKS[rule.check]
        values = [fields[n].value if n in fields else None for n in rule.fields]
        if fn(*values, **rule.params):
            continue
        issue = ValidationIssue(code=rule.code, message=rule.message, fields=list(rule.fields))
        issues.append(issue)
        for n in rule.fields:
            f = fields.get(n)
            if f is not None and f.value is not None:
                f.confidence *= RULE_FAILURE_FACTOR
                f.issues.append(issue)
    return issues
