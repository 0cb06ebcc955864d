"""Clerks' decisions as evidence, replayed on benchmark runs (not a test).

    .venv/bin/python -m bench.feedback --run bench-out/full [--run DIR ...] [--out bench-out/feedback]
                                       [--seed 0] [--steps 4]

Takes the machine results of one or more ``python -m bench`` runs
(``pipeline.jsonl`` beside ``corpus/manifest.jsonl``) and replays their cases
in a seeded random order, in ``--steps`` equal steps, as an office would see
them over time:

* Each step is routed twice with ``formwerk.routing.route`` on the cases'
  own machine results: with the forms' thresholds (the baseline), and with the
  calibration fitted on the evidence of all earlier steps
  (``formwerk.fieldcal.fit``, the rule and fixed target the product uses;
  nothing here is tuned on these cases).
* A simulated clerk then decides every case of the step that the calibrated
  routing sent to review: it corrects each value to the corpus's truth,
  which is the evidence a clerk's approval gives (``evidence_from_case``).
  Cases that went straight through give no evidence, as in the office.

Printed and written (``feedback.json``): per step, the thresholds changed so
far, and for both routings the straight-through share and the accuracy of the
fields accepted without review, against the truth on every case. The first
step has no evidence yet, so both routings agree there.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.corpus import read_manifest
from bench.metrics import field_observations, values_equal
from formwerk import fieldcal
from formwerk.models import (
    CaseResult,
    CaseStatus,
    Classification,
    Correction,
    ExtractedField,
    Extraction,
    RoutingPolicy,
    ValidationIssue,
)
from formwerk.routing import route

#: statuses the replay routes again; rejected and failed cases keep theirs
ROUTED = ("completed", "needs_review")
#: reasons the routing function does not give (the workflow adds them); kept as recorded
WORKFLOW_REASONS = ("unexpected_type", "linked_to_case", "documents_requested", "awaiting_confirmation")
#: the fits' creation time (the replay has no clock)
_T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def load_runs(dirs: list[Path]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(corpus item, machine result) per file of every run."""
    pairs = []
    for d in dirs:
        items = {it["file"]: it for it in read_manifest(d / "corpus" / "manifest.jsonl")}
        with open(d / "pipeline.jsonl", encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                res = json.loads(line)
                item = items.get(Path(str(res.get("file", ""))).name)
                if item is not None:
                    pairs.append(({**item, "file": f"{d.name}/{item['file']}"}, res))
    return pairs


def _extraction(res: dict[str, Any]) -> Extraction:
    fields = {}
    for name, f in (res.get("fields") or {}).items():
        fields[name] = ExtractedField(
            name=name, value=f.get("value"), raw=str(f.get("raw") or ""), confidence=float(f.get("confidence") or 0.0),
            source=f.get("source") or "none",
            issues=[ValidationIssue.model_validate(i) for i in f.get("issues") or []])
    return Extraction(document_type=res.get("document_type") or "unknown", fields=fields,
                      issues=[ValidationIssue.model_validate(i) for i in res.get("issues") or []])


def reroute(res: dict[str, Any], policies: dict[str, RoutingPolicy]) -> dict[str, Any]:
    """The result as it would have been routed under ``policies`` (status, flags, reasons)."""
    if res.get("status") not in ROUTED or res.get("documents") or res.get("document_type") in (None, "batch"):
        return res
    doc_type = res["document_type"]
    policy = policies.get(doc_type, RoutingPolicy())
    extraction = _extraction(res) if doc_type in policies else None
    decision = route(Classification(document_type=doc_type, confidence=float(res.get("document_type_confidence") or 0.0)),
                     extraction, policy)
    kept = [r for r in res.get("review_reasons") or [] if r.split(":")[0] in WORKFLOW_REASONS]
    out = copy.deepcopy(res)
    out["review_reasons"] = decision.reasons + kept
    out["status"] = (CaseStatus.NEEDS_REVIEW if out["review_reasons"] else CaseStatus.COMPLETED).value
    if extraction is not None:
        for name, f in extraction.fields.items():
            out["fields"][name]["needs_review"] = f.needs_review
    return out


def clerk_evidence(item: dict[str, Any], res: dict[str, Any]) -> list[fieldcal.Evidence]:
    """What a clerk's approval of this reviewed case tells: every value corrected to the truth."""
    if res.get("status") != "needs_review" or res.get("document_type") != item.get("doc_type"):
        return []  # not reviewed, or reclassified (its fields would be read again)
    truth = item.get("truth") or {}
    extraction = _extraction(res)
    fields = {}
    corrections = []
    for name, f in extraction.fields.items():
        if name not in truth:
            continue  # the corpus does not say: no simulated decision
        f.needs_review = bool((res["fields"][name]).get("needs_review"))
        fields[name] = f
        if not values_equal(truth.get(name), f.value):
            corrections.append(Correction(field=name, machine_value=f.value, corrected_value=truth.get(name),
                                          clerk="clerk"))
    case = CaseResult(case_id=item["file"], status=CaseStatus.COMPLETED, document_type=res["document_type"],
                      fields=fields, corrections=corrections, reviewed_by="clerk")
    return fieldcal.evidence_from_case(case)


def figures(pairs: list[tuple[dict, dict]]) -> dict[str, Any]:
    items = [it for it, _ in pairs]
    results = {it["file"]: {**res, "file": it["file"]} for it, res in pairs}
    obs = field_observations(items, results)
    accepted = [o for o in obs if o.accepted]
    wrong = sum(not o.correct for o in accepted)
    done = sum(res.get("status") == "completed" for _, res in pairs)
    return {"cases": len(pairs), "straight_through": done, "accepted_fields": len(accepted), "accepted_wrong": wrong,
            "accepted_right_rate": (len(accepted) - wrong) / len(accepted) if accepted else None,
            "straight_through_rate": done / len(pairs) if pairs else None}


def replay(pairs, policies: dict[str, RoutingPolicy], steps: int, seed: int) -> dict[str, Any]:
    order = list(pairs)
    random.Random(seed).shuffle(order)
    size = -(-len(order) // steps)
    evidence: list[fieldcal.Evidence] = []
    reviewed = 0
    rows = []
    for k in range(steps):
        step = order[k * size:(k + 1) * size]
        if not step:
            break
        cal = fieldcal.fit(evidence, policies, version=f"step{k + 1}", created_at=_T0, cases=reviewed)
        calibrated = fieldcal.apply(policies, cal)
        base = [(it, reroute(res, policies)) for it, res in step]
        after = [(it, reroute(res, calibrated)) for it, res in step]
        rows.append({"step": k + 1, "evidence": len(evidence), "reviewed_cases": reviewed,
                     "changed": [f.model_dump() for f in cal.changed()],
                     "forms": figures(base), "calibrated": figures(after)})
        for it, res in after:
            found = clerk_evidence(it, res)
            if found:
                evidence.extend(found)
                reviewed += 1
    return {"steps": rows, "seed": seed}


def _rate(x):
    return "-" if x is None else f"{100 * x:.1f} %"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, action="append", required=True, help="a `python -m bench` output directory")
    ap.add_argument("--out", type=Path, default=Path("bench-out/feedback"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=4)
    args = ap.parse_args(argv)
    from formwerk.intake import policies_from_catalogue

    pairs = load_runs(args.run)
    policies = policies_from_catalogue()
    # the replay's routing must reproduce the run's own decisions before it can judge new ones
    same = sum(reroute(res, policies).get("status") == res.get("status") for _, res in pairs)
    result = {"runs": [str(r) for r in args.run], "cases": len(pairs), "rerouted_as_recorded": same,
              **replay(pairs, policies, args.steps, args.seed)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "feedback.json").write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str))
    print(f"{len(pairs)} cases from {len(args.run)} run(s); routed again with the forms' thresholds: "
          f"{same} of {len(pairs)} as recorded")
    print(f"{'step':>4} {'cases':>5} {'evidence':>8} {'changed':>7} | {'ST forms':>9} {'ST calib.':>9} | "
          f"{'accepted right, forms':>22} {'calibrated':>22}")
    for r in result["steps"]:
        f, c = r["forms"], r["calibrated"]
        print(f"{r['step']:>4} {f['cases']:>5} {r['evidence']:>8} {len(r['changed']):>7} | "
              f"{_rate(f['straight_through_rate']):>9} {_rate(c['straight_through_rate']):>9} | "
              f"{_rate(f['accepted_right_rate']):>9} ({f['accepted_wrong']:>2} of {f['accepted_fields']:>4}) "
              f"{_rate(c['accepted_right_rate']):>9} ({c['accepted_wrong']:>2} of {c['accepted_fields']:>4})")
    later = result["steps"][1:]
    if later:
        tot = {k: Counter() for k in ("forms", "calibrated")}
        for r in later:
            for k in tot:
                tot[k].update({x: r[k][x] for x in ("cases", "straight_through", "accepted_fields", "accepted_wrong")})
        for k, t in tot.items():
            acc = (t["accepted_fields"] - t["accepted_wrong"]) / t["accepted_fields"] if t["accepted_fields"] else None
            print(f"steps 2-{len(result['steps'])}, {k}: straight through {_rate(t['straight_through'] / t['cases'])}, "
                  f"accepted right {_rate(acc)} ({t['accepted_wrong']} wrong of {t['accepted_fields']})")
    for r in result["steps"]:
        for f in r["changed"]:
            print(f"  step {r['step']}: {f['document_type']}.{f['field']} {f['form_threshold']:.2f} -> "
                  f"{f['threshold']:.3f} ({f['decision']}: {f['evidence']} decided, {f['wrong']} wrong)")
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
