"""Documents whose printed identifiers alone settle the type: no encoder pass.

The encoder costs about a third of a scanned page's recognition time
(0.3 s per 512-token page on one thread), and on a printed form it only
confirms what the form's own title and code already say. It is skipped
when all of this holds, so a doubtful document always gets the model:

* every page that is not blank carries an exact strong identifier (title,
  form code, a distinctive term) of one and the same catalogue form and no
  strong identifier of any other class, not even a fuzzy one (an attached
  letter, invoice or second form has none, or another class's);
* the document carries at least two different exact strong identifiers of
  that form and three identifiers of it in all, counting only identifiers
  that are not part of another one found (a letter that names the form
  once, "meine Anmeldung bei der Meldebehörde", holds the title and the
  terms "Meldebehörde" and "Anmeldung" inside it: one identifier, not three);
* no two pages show the same set of identifiers (a later page that reads
  like an earlier one may be a second copy of the form in the same scan;
  then the encoder's first-page test decides the split);
* the form is not an invoice (invoices have no fixed wording).

The probability is then :data:`IDENTIFIER_CONFIDENCE`: on the benchmark's
scans every document that passed these tests was of that form, and the
fused model gave them 0.99–0.998.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from classifiers.classes import INVOICE
from classifiers.identifiers import IdentifierMatcher
from classifiers.text import is_blank

IDENTIFIER_CONFIDENCE = 0.99
EXACT = 99.5  # IdentifierHit.score of an exact match
MIN_STRONG = 2
MIN_HITS = 3


def enabled() -> bool:
    """``FORMWERK_CLASSIFY_BY_IDENTIFIERS=0`` runs the encoder on every document (comparisons)."""
    return os.environ.get("FORMWERK_CLASSIFY_BY_IDENTIFIERS", "1").strip().lower() not in ("0", "false", "no", "off")


@dataclass(frozen=True)
class Settled:
    class_id: str
    reasons: list[str]  # German, for the clerk


def settled_type(matcher: IdentifierMatcher, pages: list[str]) -> Settled | None:
    """The form the identifiers prove for ``pages`` (page texts in order), or None."""
    if not pages or is_blank(pages[0]):
        return None
    found: str | None = None
    signatures: list[frozenset[str]] = []
    for text in pages:
        if is_blank(text):
            continue
        strong = [h for h in matcher.hits([text]) if not h.weak]
        classes = {h.class_id for h in strong}
        if len(classes) != 1 or not any(h.score >= EXACT for h in strong):
            return None
        (cid,) = classes
        if found not in (None, cid):
            return None
        found = cid
        signatures.append(frozenset(h.identifier for h in strong))
    if found is None or found == INVOICE or len(set(signatures)) != len(signatures):
        return None
    hits = _distinct([h for h in matcher.hits(pages) if h.class_id == found])
    exact = {h.identifier for h in hits if not h.weak and h.score >= EXACT}
    if len(exact) < MIN_STRONG or len({h.identifier for h in hits}) < MIN_HITS:
        return None
    ordered = sorted(hits, key=lambda h: (h.weak, h.page, -h.score))
    return Settled(found, [h.reason() for h in ordered])


def _distinct(hits: list) -> list:
    """Hits whose matched text is not inside a longer hit's text on the same page.

    A title contains the form's terms ("Anmeldung bei der Meldebehörde"
    holds "Meldebehörde" and "Anmeldung"): found in one phrase, they are one
    piece of evidence, however many identifiers they match.
    """
    return [h for h in hits
            if not any(o is not h and o.page == h.page and len(o.found) > len(h.found) and h.found in o.found
                       for o in hits)]
