"""bench.feedback: the replay of clerks' decisions on benchmark results."""

from __future__ import annotations

import json

from bench import feedback
from formwerk import fieldcal
from formwerk.models import RoutingPolicy

POLICIES = {"invoice": RoutingPolicy(min_field_confidence=0.96, required_fields=["invoice_number"])}


def _res(file, status, number, conf, reasons=()):
    return {"file": file, "status": status, "document_type": "invoice", "document_type_confidence": 0.99,
            "review_reasons": list(reasons),
            "fields": {"invoice_number": {"value": number, "confidence": conf, "needs_review": conf < 0.96},
                       "iban": {"value": "DE02", "confidence": 0.99, "needs_review": False}}}


def test_reroute_reproduces_and_changes_decisions():
    sure = _res("a.pdf", "completed", "R-1", 0.99)
    unsure = _res("b.pdf", "needs_review", "R-2", 0.9, ["low_confidence:invoice_number"])
    assert feedback.reroute(sure, POLICIES)["status"] == "completed"
    again = feedback.reroute(unsure, POLICIES)
    assert (again["status"], again["review_reasons"]) == ("needs_review", ["low_confidence:invoice_number"])
    lower = {"invoice": POLICIES["invoice"].model_copy(update={"field_thresholds": {"invoice_number": 0.85}})}
    assert feedback.reroute(unsure, lower)["status"] == "completed"
    assert feedback.reroute(unsure, lower)["fields"]["invoice_number"]["needs_review"] is False
    # a reason the workflow adds stays
    linked = _res("c.pdf", "needs_review", "R-3", 0.99, ["linked_to_case"])
    assert feedback.reroute(linked, POLICIES)["review_reasons"] == ["linked_to_case"]
    assert feedback.reroute({**sure, "status": "rejected"}, lower)["status"] == "rejected"


def test_the_simulated_clerk_corrects_to_the_truth_on_reviewed_cases_only():
    item = {"file": "b.pdf", "doc_type": "invoice", "truth": {"invoice_number": "R-20", "iban": "DE02"}}
    unsure = _res("b.pdf", "needs_review", "R-2", 0.9, ["low_confidence:invoice_number"])
    found = {e.field: (e.right, e.flagged) for e in feedback.clerk_evidence(item, unsure)}
    assert found == {"invoice_number": (False, True), "iban": (True, False)}
    assert feedback.clerk_evidence(item, _res("b.pdf", "completed", "R-2", 0.99)) == []
    # a field the corpus has no truth for gives no evidence
    partial = {**item, "truth": {"invoice_number": "R-2"}}
    assert [e.field for e in feedback.clerk_evidence(partial, unsure)] == ["invoice_number"]


def test_replay_learns_only_from_what_clerks_saw(tmp_path):
    run = tmp_path / "run"
    (run / "corpus").mkdir(parents=True)
    items, results = [], []
    for i in range(40):
        # every invoice number at 0.99 goes through and is wrong; nobody ever sees it
        items.append({"file": f"{i}.pdf", "doc_type": "invoice", "truth": {"invoice_number": f"R-{i}"}})
        results.append(_res(f"{i}.pdf", "completed", f"X-{i}", 0.99))
    (run / "corpus" / "manifest.jsonl").write_text("\n".join(json.dumps(x) for x in items))
    (run / "pipeline.jsonl").write_text("\n".join(json.dumps(x) for x in results))
    pairs = feedback.load_runs([run])
    out = feedback.replay(pairs, POLICIES, steps=4, seed=1)
    assert all(r["evidence"] == 0 and not r["changed"] for r in out["steps"])
    assert out["steps"][-1]["forms"]["accepted_wrong"] == 10


def test_replay_raises_a_threshold_clerks_keep_correcting(tmp_path):
    run = tmp_path / "run"
    (run / "corpus").mkdir(parents=True)
    items, results = [], []
    for i in range(40):
        # the cases go to review for another reason; there the clerk sees the number wrong
        items.append({"file": f"{i}.pdf", "doc_type": "invoice",
                      "truth": {"invoice_number": f"R-{i}", "iban": "DE02"}})
        res = _res(f"{i}.pdf", "needs_review", f"X-{i}", 0.99)
        res["fields"]["iban"]["confidence"] = 0.5
        res["fields"]["iban"]["needs_review"] = True
        results.append(res)
    (run / "corpus" / "manifest.jsonl").write_text("\n".join(json.dumps(x) for x in items))
    (run / "pipeline.jsonl").write_text("\n".join(json.dumps(x) for x in results))
    out = feedback.replay(feedback.load_runs([run]), POLICIES, steps=4, seed=1)
    first, second = out["steps"][0], out["steps"][1]
    assert first["forms"]["accepted_wrong"] == first["calibrated"]["accepted_wrong"] == 10
    [changed] = [f for f in second["changed"] if f["field"] == "invoice_number"]
    assert changed["threshold"] == fieldcal.ALWAYS_REVIEW and changed["decision"] == "raised"
    assert second["calibrated"]["accepted_wrong"] == 0 < second["forms"]["accepted_wrong"]
