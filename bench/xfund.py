"""Benchmark generic key-value pairing on XFUND-de (validation split).

    .venv/bin/python -m bench.xfund --out bench-out/xfund

Two tasks, precision / recall / F1 of question→answer links:

(a) gold entities and labels given (the published relation-extraction
    setting; LayoutXLM-base reports F1 0.655 for German);
(b) words only: Formwerk segments and labels the entities itself, then links.

Matching rule for (b): all words of the page (of every gold entity) are the
input. A predicted entity *matches* the gold entity with which its word set
has the highest IoU (|P∩G| / |P∪G|), if that IoU is ≥ 0.5. A predicted link
(q, a) is correct when its question and answer match the question and answer
of a gold link; each gold link is counted at most once. Precision = correct /
predicted links, recall = correct / gold links.

Each task is run with the rules-only baseline (nearest question left or above;
for (b) also a gap rule for segments and a colon rule for labels) and with the
learned models (``models/kv_pairing.json``, trained in set-up). For (b) it
also replaces the segmentation, the labels, or both by the gold annotation
(links with gold labels come from the task-(a) linker), which shows what each
step costs. Prints the tables and writes ``results.json``. Skips cleanly
(exit 0) when the data is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from extractors.kv_data import XFUND_DIR_ENV, FormPage, load_xfund, match_entities, xfund_dir
from extractors.kv_pairing import (
    KVModels,
    entities_from_segments,
    entities_from_words,
    link_entities,
    link_segments,
    load_models,
)
from extractors.kv_segment import Segment, median_height



def prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp, "pred": n_pred, "gold": n_gold}


def _h(p: FormPage) -> float:
    return median_height(np.array([w.box for w in p.words], dtype=float).reshape(-1, 4))


def eval_task_a(pages: list[FormPage], models: KVModels) -> dict[str, float]:
    """Links between gold entities; a link is right when it is a gold link."""
    tp = n_pred = n_gold = 0
    for p in pages:
        pred = {(q, a) for q, a, _ in link_entities(p.entities, _h(p), models)}
        tp += len(pred & p.links)
        n_pred += len(pred)
        n_gold += len(p.links)
    return prf(tp, n_pred, n_gold)


def eval_task_b(
    pages: list[FormPage], models: KVModels, oracle_segments: bool = False, oracle_labels: bool = False
) -> dict[str, object]:
    """Task (b); the two ``oracle_*`` switches replace one step by the gold
    annotation to show what each step costs. With gold labels the links come
    from the entity linker of task (a), which is trained for certain labels;
    with both switches on, (b) is task (a) again."""
    tp = n_pred = n_gold = 0
    seg_match = n_gold_ents = label_ok = 0
    t0 = time.perf_counter()
    for p in pages:
        boxes = np.array([w.box for w in p.words], dtype=float).reshape(-1, 4)
        if oracle_segments:
            h = median_height(boxes)
            ents, proba = entities_from_segments([Segment(g.word_ids, g.box, g.text) for g in p.entities], h, models)
        else:
            ents, proba, h = entities_from_words(boxes, [w.text for w in p.words], models)
        m = match_entities([e.word_ids for e in ents], [g.word_ids for g in p.entities])
        gold_ids = [g.id for g in p.entities]
        matched = [gold_ids[k] if k >= 0 else None for k in m]
        seg_match += len({x for x in matched if x is not None})
        n_gold_ents += len(p.entities)
        label_of = {g.id: g.label for g in p.entities}
        label_ok += sum(1 for e, g in zip(ents, matched) if g is not None and label_of[g] == e.label)
        if oracle_labels:
            for e, g in zip(ents, matched):
                e.label = label_of[g] if g is not None else "other"
            links = link_entities(ents, h, models)
        else:
            links = link_segments(ents, proba, h, models)
        claimed: set[tuple[int, int]] = set()
        for qid, aid, _ in links:
            n_pred += 1
            pair = (matched[qid], matched[aid])
            if pair in p.links and pair not in claimed:
                claimed.add(pair)
                tp += 1
        n_gold += len(p.links)
    out: dict[str, object] = dict(prf(tp, n_pred, n_gold))
    out["entity_recall"] = round(seg_match / max(n_gold_ents, 1), 4)
    out["label_accuracy_matched"] = round(label_ok / max(seg_match, 1), 4)
    out["ms_per_page"] = round((time.perf_counter() - t0) * 1000 / max(len(pages), 1), 1)
    return out


# What each step of (b) costs: (segments, labels) from the model or the gold annotation
ORACLE_ROWS = [("model", "model"), ("gold", "model"), ("model", "gold"), ("gold", "gold")]


def eval_oracles(pages: list[FormPage], models: KVModels, model_row: dict[str, object]) -> list[dict[str, object]]:
    """The ORACLE_ROWS; ``model_row`` is the plain task-(b) result, already measured."""
    rows = []
    for seg, lab in ORACLE_ROWS:
        if (seg, lab) == ("model", "model"):
            r = model_row
        else:
            r = eval_task_b(pages, models, oracle_segments=seg == "gold", oracle_labels=lab == "gold")
        rows.append({"segments": seg, "labels": lab, **r})
    return rows


def run(data_dir: Path, out_dir: Path | None, model_path: str | None = None) -> dict | None:
    """Score the rules and the artefact at ``model_path`` (default: the set-up's) on ``data_dir``'s val split."""
    val_path = data_dir / "de.val.json"
    if not val_path.exists():
        print(f"XFUND data not found at {val_path}: skipped")
        return None
    pages = load_xfund(val_path)
    baseline = KVModels()  # rules only
    learned = load_models(model_path)
    results = {
        "data": str(val_path),
        "pages": len(pages),
        "model_version": learned.version,
        "a": {"baseline": eval_task_a(pages, baseline), "model": eval_task_a(pages, learned)},
        "b": {"baseline": eval_task_b(pages, baseline), "model": eval_task_b(pages, learned)},
    }
    results["b_oracles"] = eval_oracles(pages, learned, results["b"]["model"]) if learned.seg_link is not None else []
    print(f"XFUND-de val: {len(pages)} forms, model {learned.version}")
    print(f"{'task':<5}{'method':<10}{'P':>8}{'R':>8}{'F1':>8}   extra")
    for task in ("a", "b"):
        for method in ("baseline", "model"):
            r = results[task][method]
            extra = ""
            if task == "b":
                extra = f"entity recall {r['entity_recall']:.3f}, label acc {r['label_accuracy_matched']:.3f}, {r['ms_per_page']} ms/page"
            print(f"{task:<5}{method:<10}{r['precision']:>8.3f}{r['recall']:>8.3f}{r['f1']:>8.3f}   {extra}")
    if results["b_oracles"]:
        print("\ntask b, one step replaced by the gold annotation (what each step costs):")
        print(f"{'segments':<10}{'labels':<8}{'P':>8}{'R':>8}{'F1':>8}")
        for r in results["b_oracles"]:
            print(f"{r['segments']:<10}{r['labels']:<8}{r['precision']:>8.3f}{r['recall']:>8.3f}{r['f1']:>8.3f}")
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
        print(f"wrote {out_dir / 'results.json'}")
    return results


def main(argv: list[str] | None = None) -> int:
    # the entry point: configuration is read here, never below
    from formwerk.settings import get_settings

    ap = argparse.ArgumentParser(description="XFUND-de key-value pairing benchmark")
    ap.add_argument("--data", default=str(xfund_dir(os.environ.get(XFUND_DIR_ENV))),
                    help="XFUND-de directory (default: ../shared/data/xfund_de beside the checkout, or FORMWERK_XFUND_DIR)")
    ap.add_argument("--out", default="bench-out/xfund")
    ap.add_argument("--model", default=get_settings().kv_model,
                    help="the pairing artefact (default: FORMWERK_KV_MODEL, else models/kv_pairing.json)")
    args = ap.parse_args(argv)
    run(Path(args.data), Path(args.out) if args.out else None, args.model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
