"""Splitting "Vorname [Familienname]" cells with a German first-name lexicon.

The KG 1 children table has one column "Vorname des Kindes / ggf.
abweichender Familienname": a cell is either the given name(s) or the given
name(s) followed by a different family name. Trailing tokens that are not
known first names are taken as the family name. The lexicon is Faker's
de_DE first-name list (a project dependency), loaded once.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    try:
        from faker.providers.person.de_DE import Provider
    except Exception:  # pragma: no cover - faker missing: no splitting
        return frozenset()
    names = set()
    for attr in ("first_names", "first_names_male", "first_names_female"):
        v = getattr(Provider, attr, ())
        names.update(n.lower() for n in (v.keys() if hasattr(v, "keys") else v))
    return frozenset(names)


def is_first_name(token: str) -> bool:
    parts = token.lower().split("-")
    return all(p in first_names() for p in parts if p)


def split_given_family(cell: str) -> tuple[str, str | None]:
    """``"Anna Maria"`` → (``"Anna Maria"``, None); ``"Anna Müller"`` → (``"Anna"``, ``"Müller"``)."""
    tokens = cell.split()
    if len(tokens) < 2 or not first_names():
        return cell, None
    last = tokens[-1]
    if is_first_name(last):
        return cell, None
    return " ".join(tokens[:-1]), last
