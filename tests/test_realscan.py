"""Scoring of the real-form scan harness (``bench.realscan``), on hand-made results (no OCR)."""

from __future__ import annotations

import pytest

from bench.realscan import parse_seeds, result_of, score
from formwerk.models import (
    CaseStatus,
    ExtractedField,
    Extraction,
    RoutingDecision,
)


def _res(status: str, fields: dict) -> dict:
    return {"status": status, "fields": {n: {"value": v, "confidence": c, "needs_review": r, "raw": str(v),
                                             "issues": []} for n, (v, c, r) in fields.items()}}


def test_score_counts_accuracy_acceptance_and_straight_through():
    items = [
        {"file": "a", "doc_type": "gewerbeanmeldung", "truth": {"family_name": "Müller", "birth_date": "1986-02-14",
                                                               "birth_name": None}},
        {"file": "b", "doc_type": "gewerbeanmeldung", "truth": {"family_name": "Jürgen", "birth_date": "1990-01-01",
                                                               "birth_name": None}},
    ]
    results = {
        # all right, nothing flagged: straight through
        "a": _res("completed", {"family_name": ("müller", 0.99, False), "birth_date": ("1986-02-14", 0.99, False),
                                "birth_name": (None, 0.0, False)}),
        # one wrong value accepted, one right value flagged, a blank field read as a value
        "b": _res("needs_review", {"family_name": ("Jurgen", 0.97, False), "birth_date": ("1990-01-01", 0.5, True),
                                   "birth_name": ("zZ", 0.0, True)}),
    }
    s = score(items, results)
    # scored: 4 truth fields + the blank birth_name of b that got a value
    assert s["fields_n"] == 5
    assert s["field_accuracy"] == pytest.approx(3 / 5)
    assert s["auto_accepted_n"] == 3
    assert s["auto_accepted_accuracy"] == pytest.approx(2 / 3)
    assert s["straight_through_rate"] == pytest.approx(0.5)
    kinds = {(p["file"], p["field"]): p["kind"] for p in s["problems"]}
    assert kinds == {("b", "family_name"): "ACCEPTED_WRONG", ("b", "birth_date"): "flagged",
                     ("b", "birth_name"): "wrong"}
    assert s["per_field"]["family_name"] == {"accuracy": 0.5, "correct": 1, "n": 2}


def test_score_keeps_only_the_form_fields():
    items = [{"file": "a", "doc_type": "gewerbeanmeldung", "truth": {"family_name": "A", "extra": "x"}}]
    s = score(items, {"a": _res("completed", {"family_name": ("A", 1.0, False)})}, fields=["family_name"])
    assert s["fields_n"] == 1 and s["field_accuracy"] == 1.0


def test_result_of_carries_the_routing_flags():
    ex = Extraction(document_type="gewerbeanmeldung", fields={
        "family_name": ExtractedField(name="family_name", value="Müller", raw="Müller", confidence=0.5,
                                      source="ocr", needs_review=True)})
    dec = RoutingDecision(status=CaseStatus.NEEDS_REVIEW, reasons=["low_confidence:family_name"],
                          fields_to_review=["family_name"])
    r = result_of(ex, dec)
    assert r["status"] == "needs_review"
    assert r["fields"]["family_name"]["needs_review"] is True
    assert r["fields"]["family_name"]["value"] == "Müller"


def test_parse_seeds():
    assert parse_seeds("1000-1002,5000") == [1000, 1001, 1002, 5000]
