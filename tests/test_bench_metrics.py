"""Benchmark metrics on tiny hand-made cases whose answers are worked out by hand."""

from __future__ import annotations

import pytest

from bench import metrics as m

ITEMS = [
    {"file": "a.pdf", "doc_type": "kindergeld_kg1", "category": "scan",
     "truth": {"family_name": "Müller", "birth_date": "1986-02-14", "birth_name": None,
               "children": [{"given_names": "Anna", "birth_date": "2015-01-02"}]}},
    {"file": "b.pdf", "doc_type": "gewerbeanmeldung", "category": "digital",
     "truth": {"employees_full_time": 3, "email": "a@b.de"}},
    {"file": "c.pdf", "doc_type": "unknown", "category": "letter", "truth": {}},
    {"file": "d.pdf", "doc_type": "invoice", "category": "invoice", "truth": {"total_amount": "642.50"}},
]


def _f(value, conf, review):
    return {"value": value, "raw": str(value), "confidence": conf, "page": 1, "bbox": None, "needs_review": review}


RESULTS = {
    "a.pdf": {"status": "completed", "document_type": "kindergeld_kg1", "fields": {
        "family_name": _f(" müller ", 0.95, False),
        "birth_date": _f("1986-02-14", 0.9, False),
        # extra predicted keys of a record are ignored; order of records matters
        "children": _f([{"given_names": "Anna", "birth_date": "2015-01-02", "family_name": "X"}], 0.6, True),
    }, "timings_ms": {"ocr": 3000, "total": 3500}},
    "b.pdf": {"status": "needs_review", "document_type": "gewerbeanmeldung", "fields": {
        "employees_full_time": _f("3", 0.85, False),
        "email": _f("a@c.de", 0.4, True),
    }, "timings_ms": {"ocr": 1000, "total": 1500}},
    "c.pdf": {"status": "needs_review", "document_type": "unknown", "fields": {}},
    # d.pdf: no result at all (must count as wrong, not vanish)
}


@pytest.fixture(scope="module")
def obs():
    return m.field_observations(ITEMS, RESULTS)


def test_normalise_and_compare():
    assert m.values_equal("642.50", 642.5)
    assert m.values_equal("642.5", "642.50")
    assert m.values_equal(3, "3")
    assert not m.values_equal("01234567890", 1234567890)  # leading zero of a tax id matters
    assert m.values_equal(" Hauptstr. 5 , 12345  Berlin", "hauptstr. 5, 12345 Berlin")
    assert not m.values_equal("Hauptstr. 5, 12345 Berlin", "Hauptstr. 6, 12345 Berlin")
    assert m.values_equal(True, True) and not m.values_equal(True, False)
    assert m.values_equal(["a", "b"], ["A", "b"])
    assert not m.values_equal(["a", "b"], ["b", "a"])  # lists compare elementwise, in order
    assert not m.values_equal(["a"], ["a", "b"])
    assert not m.has_truth("  ") and not m.has_truth(None) and m.has_truth(0)


def test_field_accuracy(obs):
    assert len(obs) == 6  # birth_name=None is not scored; d.pdf's total counts (missing)
    fa = m.field_accuracy(obs)
    assert fa["accuracy"] == pytest.approx(4 / 6)
    assert fa["per_field"]["gewerbeanmeldung.email"]["accuracy"] == 0.0
    assert fa["per_field"]["kindergeld_kg1.children"]["accuracy"] == 1.0
    assert fa["per_field"]["invoice.total_amount"] == {"accuracy": 0.0, "correct": 0, "n": 1}


def test_review_metrics(obs):
    r = m.review_metrics(obs)
    # accepted: a.family_name, a.birth_date, b.employees_full_time (not flagged, case not rejected)
    assert r["auto_accepted_n"] == 3
    assert r["auto_accepted_share"] == pytest.approx(0.5)
    assert r["auto_accepted_accuracy"] == 1.0
    assert r["straight_through_fields_n"] == 3 and r["straight_through_field_accuracy"] == 1.0


def test_doc_type_and_confusion():
    dt = m.doc_type_accuracy(ITEMS, RESULTS)
    assert dt["accuracy"] == pytest.approx(3 / 4)
    assert dt["per_type"]["invoice"]["accuracy"] == 0.0
    cm = m.confusion_matrix(ITEMS, RESULTS)
    labels, cols = cm["labels"], cm["predicted_labels"]
    assert labels == ["gewerbeanmeldung", "invoice", "kindergeld_kg1", "unknown"]
    assert cols == labels + ["missing"]  # truth rows only; extra predicted columns after them
    assert cm["matrix"][labels.index("invoice")][cols.index("missing")] == 1
    assert cm["matrix"][labels.index("kindergeld_kg1")][cols.index("kindergeld_kg1")] == 1
    assert sum(map(sum, cm["matrix"])) == 4
    # a blank page may be rejected instead of "unknown"
    blank = [{"file": "e.pdf", "doc_type": "unknown", "also_ok": ["rejected"], "truth": {}}]
    assert m.doc_type_accuracy(blank, {"e.pdf": {"status": "rejected", "document_type": None}})["accuracy"] == 1.0


def test_straight_through(obs):
    st = m.straight_through(ITEMS, RESULTS, obs)
    assert st["rate"] == pytest.approx(0.25)
    assert st["correct_rate"] == pytest.approx(0.25)
    assert st["statuses"] == {"completed": 1, "missing": 1, "needs_review": 2}
    assert st["per_type"]["gewerbeanmeldung"]["rate"] == 0.0


def test_threshold_curve(obs):
    c = m.threshold_curve(obs, target=0.995)
    by_t = {p["threshold"]: p for p in c["points"]}
    assert by_t[0.0]["accepted_accuracy"] == pytest.approx(0.8)  # 4 of 5 present are right
    assert by_t[0.5]["accepted_share"] == pytest.approx(4 / 6)
    assert by_t[0.5]["accepted_accuracy"] == 1.0
    assert by_t[0.5]["straight_through_rate"] == pytest.approx(1 / 3)  # a yes; b (0.4), d (missing) no
    assert by_t[1.0]["accepted_accuracy"] is None  # nothing accepted: no accuracy, not 0 or 1
    assert c["threshold_for_target"] == 0.41  # first grid step above the wrong 0.4 value
    assert c["at_target"]["accepted_n"] == 4


def test_calibration(obs):
    cal = m.calibration(obs, n_bins=10)
    assert cal["n"] == 5
    # bins: {.95,.9}→acc 1, mean .925; .85→1; .6→1; .4→0
    assert cal["ece"] == pytest.approx(0.4 * 0.075 + 0.2 * 0.15 + 0.2 * 0.4 + 0.2 * 0.4)
    assert cal["bins"][9]["n"] == 2 and cal["bins"][4]["accuracy"] == 0.0
    perfect = [m.FieldObservation("x", "t", "", "f", 1, 1, True, 1.0, False, True, True, True)]
    assert m.calibration(perfect)["ece"] == 0.0


def test_speed_and_categories(obs):
    st = m.stage_timings(RESULTS.values())
    assert st["ocr"]["n"] == 2 and st["ocr"]["sum_ms"] == 4000 and st["ocr"]["mean_ms"] == 2000
    assert st["ocr"]["p95_ms"] == 3000
    assert m.pages_per_minute(10, 30.0) == 20.0 and m.pages_per_minute(0, 5) is None
    cats = m.by_category(ITEMS, RESULTS, obs)
    assert cats["scan"]["field_accuracy"] == 1.0 and cats["digital"]["field_accuracy"] == 0.5
    assert cats["invoice"]["doc_type_accuracy"] == 0.0
    prof = m.by_category(ITEMS, RESULTS, obs, key="profile")  # no profiles given: one group "-"
    assert list(prof) == ["-"] and prof["-"]["n"] == 4 and prof["-"]["field_accuracy"] == pytest.approx(4 / 6)


def test_value_for_a_blank_field_is_a_scored_error():
    items = [{"file": "x", "doc_type": "t", "truth": {"phone": None, "email": None, "name": "A"}}]
    res = {"x": {"status": "completed", "document_type": "t", "fields": {
        "phone": _f("0251 123", 0.9, False), "email": _f(None, 0.0, False), "name": _f("A", 0.9, False)}}}
    obs = m.field_observations(items, res)
    assert sorted(o.field for o in obs) == ["name", "phone"]  # email: blank and read as blank
    r = m.review_metrics(obs)
    assert r["auto_accepted_accuracy"] == 0.5
    assert m.straight_through(items, res, obs)["correct_rate"] == 0.0


def test_type_calibration_over_classified_documents():
    items = [{"file": f, "doc_type": t} for f, t in [("a", "invoice"), ("b", "invoice"), ("c", "unknown"), ("d", "unknown")]]
    results = {"a": {"document_type": "invoice", "document_type_confidence": 0.95},
               "b": {"document_type": "unknown", "document_type_confidence": 0.95},  # wrong
               "c": {"document_type": "unknown", "document_type_confidence": 0.55},
               "d": {"status": "rejected", "document_type": None}}  # no probability: not counted
    cal = m.type_calibration(items, results)
    assert cal["n"] == 3
    # bin 0.9: conf 0.95, accuracy 0.5 (2 docs); bin 0.5: conf 0.55, accuracy 1 (1 doc)
    assert cal["ece"] == pytest.approx(2 / 3 * 0.45 + 1 / 3 * 0.45)


def test_batch_split_scores_pages_cuts_and_documents():
    seg = lambda s, e, t: {"start": s, "end": e, "document_type": t}  # noqa: E731
    items = [
        {"file": "ok", "pages": 3, "variant": "g+i", "truth": {"segments": [seg(1, 2, "gewerbeanmeldung"), seg(3, 3, "invoice")]}},
        {"file": "unsplit", "pages": 3, "truth": {"segments": [seg(1, 2, "gewerbeanmeldung"), seg(3, 3, "invoice")]}},
        {"file": "late", "pages": 3, "truth": {"segments": [seg(1, 1, "invoice"), seg(2, 3, "kindergeld_kg1")]}},
    ]
    doc = lambda a, b, t: {"pages": [a, b], "document_type": t, "status": "completed"}  # noqa: E731
    results = {
        "ok": {"document_type": "batch", "documents": [doc(3, 3, "invoice"), doc(1, 2, "gewerbeanmeldung")]},
        "unsplit": {"document_type": "gewerbeanmeldung", "status": "completed"},
        "late": {"document_type": "batch", "documents": [doc(1, 2, "invoice"), doc(3, 3, "kindergeld_kg1")]},
    }
    b = m.batch_split(items, results)
    assert b["n"] == 3 and b["exact_rate"] == pytest.approx(1 / 3)
    assert b["documents"]["recall"] == pytest.approx(2 / 6)  # ok: 2; unsplit: 0; late: 0
    assert b["documents"]["precision"] == pytest.approx(2 / 5)
    assert b["boundaries"]["recall"] == pytest.approx(1 / 3) and b["boundaries"]["precision"] == pytest.approx(1 / 2)
    # pages in a document of their true type: ok 3, unsplit 2 (gewa pages), late 2 (page 1 and 3)
    assert b["page_type_accuracy"] == pytest.approx(7 / 9)
    assert [x["exact"] for x in b["batches"]] == [True, False, False]
