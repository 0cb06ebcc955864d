"""Splitting a mixed scan batch into documents from page-level predictions.

Pure logic on per-page probabilities (no model code), so it is testable with
hand-made numbers. Rules, in order:

1. a blank page belongs to the document before it (the empty back of a sheet);
2. a page starts a new document when its most likely type differs from the
   current document's type — unless it is a weak disagreement (the current
   type still has ≥ ``KEEP_PROB`` on that page and the page does not look like
   a first page), which keeps e.g. a form's generic "Hinweise" page in its form,
   or the page says it continues a document ("Seite 3 von 3": an invoice's
   payment-terms page reads like nothing in particular);
3. a page of the same type starts a new document when it looks like a first
   page: its embedding is closer to the type's first-page centroid than to its
   later-page centroid, or it says "Seite 1 von N";
4. a short ``unknown`` run between two runs of the same type, whose second run
   does not begin with a first page, is absorbed (one page the model could not
   place inside a form).
"""

from __future__ import annotations

import re

import numpy as np
from pydantic import BaseModel, Field

from classifiers.classes import UNKNOWN

KEEP_PROB = 0.15
_PAGE_ONE = re.compile(r"seite\s*:?\s*1\s*(von|/)\s*\d", re.IGNORECASE)
_PAGE_N = re.compile(r"seite\s*:?\s*([2-9]|\d\d)\s*(von|/)\s*\d", re.IGNORECASE)


class PageRange(BaseModel):
    """One document inside a batch: pages ``start``..``end`` (1-based, inclusive)."""

    start: int
    end: int
    document_type: str
    confidence: float  # calibrated probability of document_type for these pages
    reasons: list[str] = Field(default_factory=list)


def batch_documents(ranges: list[PageRange], min_confidence: float, **rule: bool) -> list[PageRange]:
    """The documents of a mixed scan, or ``[]`` when it should stay one document.

    An ``unknown`` range below ``min_confidence`` is a page the model could not
    place (a form's odd page, an invoice's terms page), not a document: it
    joins the document before it (the first one's pages join the next), like a
    blank page does. The rest is :func:`is_batch`.
    """
    docs: list[PageRange] = []
    for r in ranges:
        unsure = r.document_type == UNKNOWN and r.confidence < min_confidence
        if unsure and docs and docs[-1].document_type != UNKNOWN:
            docs[-1] = docs[-1].model_copy(update={"end": r.end})
        else:
            docs.append(r)
    if (len(docs) >= 2 and docs[0].document_type == UNKNOWN and docs[0].confidence < min_confidence
            and docs[1].document_type != UNKNOWN):
        docs = [docs[1].model_copy(update={"start": docs[0].start}), *docs[2:]]
    return docs if is_batch(docs, min_confidence, **rule) else []


def is_batch(ranges: list[PageRange], min_confidence: float, *, allow_unknown: bool = True,
             allow_same_type: bool = False) -> bool:
    """Whether page-level classification found several documents worth splitting.

    A false split of one multi-page form costs more than a missed split (the
    clerk can still reclassify), so every range must be recognised with at
    least ``min_confidence`` and at least one must be a known type. With
    ``allow_unknown`` a confidently unknown document (a cover letter next to
    an application) becomes a case of its own, so the application can still go
    straight through; a form's back page that merely looks unknown does not
    reach the confidence. Several documents of one type (two invoices) are
    split only with ``allow_same_type``: that rests on first-page detection alone.
    (The defaults were chosen on held-out batches: ``python -m classifiers.evaluate``.)
    """
    if len(ranges) < 2 or all(r.document_type == UNKNOWN for r in ranges):
        return False
    if not allow_same_type and len({r.document_type for r in ranges}) < 2:
        return False
    if not allow_unknown and any(r.document_type == UNKNOWN for r in ranges):
        return False
    return all(r.confidence >= min_confidence for r in ranges)


def _looks_first(text: str, first_score: float | None) -> bool | None:
    """True/False when there is evidence, None when there is none."""
    if _PAGE_ONE.search(text):
        return True
    if _PAGE_N.search(text):
        return False
    if first_score is None:
        return None
    return first_score > 0.0


def segment_pages(texts: list[str], probs: np.ndarray, labels: list[str], blank,
                  first_scores: list[float | None]) -> list[tuple[int, int]]:
    """Page ranges ``(start, end)``, 1-based inclusive, covering all pages in order."""
    n = len(texts)
    if n == 0:
        return []
    segs: list[list] = []  # [start_idx, end_idx, label]
    for i in range(n):
        lab = labels[int(probs[i].argmax())]
        if blank[i] and segs:
            segs[-1][1] = i
            continue
        if not segs:
            segs.append([i, i, None if blank[i] else lab])
            continue
        cur = segs[-1][2]
        if cur is None:  # the batch started with blank pages: adopt this label
            segs[-1][1], segs[-1][2] = i, lab
            continue
        first = _looks_first(texts[i], first_scores[i])
        if lab != cur:
            weak = cur != UNKNOWN and probs[i][labels.index(cur)] >= KEEP_PROB and first is not True
            keep = weak or bool(_PAGE_N.search(texts[i]) and not _PAGE_ONE.search(texts[i]))
            if keep:
                segs[-1][1] = i
            else:
                segs.append([i, i, lab])
        elif lab != UNKNOWN and first is True:
            segs.append([i, i, lab])
        else:
            segs[-1][1] = i
    # rule 4: absorb a single unknown page between two runs of one type
    merged: list[list] = []
    i = 0
    while i < len(segs):
        s = segs[i]
        if (merged and s[2] == UNKNOWN and s[1] - s[0] == 0 and i + 1 < len(segs)
                and segs[i + 1][2] == merged[-1][2] != UNKNOWN
                and _looks_first(texts[segs[i + 1][0]], first_scores[segs[i + 1][0]]) is not True):
            merged[-1][1] = segs[i + 1][1]
            i += 2
            continue
        merged.append(s)
        i += 1
    return [(s[0] + 1, s[1] + 1) for s in merged]
