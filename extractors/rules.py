"""Cross-field rules named by form definitions (``rules:`` in the YAML).

Each check takes the normalised values of the rule's fields (in the rule's
order) and its params and returns True when the rule holds. A rule whose
fields are missing holds (missing fields are a routing matter, not a
contradiction).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Callable

from formwerk.models import ExtractedField, ValidationIssue


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


CHECKS: dict[str, Callable[..., bool]] = {
    "date_after": date_after,
    "date_not_after": date_not_after,
    "min_age": min_age,
    "present": present,
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
