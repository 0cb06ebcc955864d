"""Measure the classifier on a held-out split and (optionally) ship a model.

    .venv/bin/python -m classifiers.evaluate [--out bench-out/classifier] [--final] [--no-encoder]

Steps: build the corpus (``classifiers.corpus``, needs ``../shared/data``),
split by source group (70/30), train an artefact on the training half, and
report on the held-out half — accuracy, ECE, NLL, unknown recall on
negatives, time per document — for

* the full classifier with the transformer encoder (``e5``),
* the same artefact without encoder (``tfidf-fallback``),
* zero-shot (no artefact: identifiers + catalogue prototypes only),
* the TF-IDF + logistic regression baseline (``classifiers.baseline_tfidf``),
* a new form type: one class removed from training, measured on its
  held-out documents (recognised from its catalogue entry only), and
  after its examples arrive.

``--final`` then trains on all documents and writes the artefact the workers
load (``models/classifier/<version>``) with these figures in ``metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from classifiers import corpus as corpus_mod
from classifiers.baseline_tfidf import TfidfBaseline
from classifiers.classes import UNKNOWN, class_defs
from classifiers.classifier import DocumentClassifier
from classifiers.encoder import load_encoder
from classifiers.fusion import label_index
from classifiers.metrics import summary
from classifiers.engine import CachedEncoder
from classifiers.training import CACHE_DIR, DEFAULT_MODEL_ROOT, PAGE_SEP, train

log = logging.getLogger(__name__)


def pairs_of(docs) -> list[tuple[str, str]]:
    return [(PAGE_SEP.join(d.pages), d.label) for d in docs]


def timing(clf: DocumentClassifier, docs, n: int = 16) -> dict:
    """Wall time per document, one at a time, uncached encoder (as a worker runs)."""
    sample = docs[:: max(1, len(docs) // n)][:n]
    t0 = time.perf_counter()
    for d in sample:
        clf.classify_pages(d.pages)
    dt = time.perf_counter() - t0
    pages = sum(len(d.pages) for d in sample)
    return {"docs": len(sample), "ms_per_document": round(1000 * dt / max(1, len(sample)), 1),
            "ms_per_page": round(1000 * dt / max(1, pages), 1)}


def cached(clf: DocumentClassifier) -> DocumentClassifier:
    """Same classifier, embeddings from the training cache (metrics only, not timing)."""
    if clf.engine.kind == "e5" and not isinstance(clf.engine.encoder, CachedEncoder):
        clf.engine.encoder = CachedEncoder(clf.engine.encoder, CACHE_DIR)
    return clf


def measure(clf: DocumentClassifier, docs, labels_all: list[str]) -> dict:
    clf = cached(clf)
    t0 = time.perf_counter()
    res = clf.classify_many([d.pages for d in docs])
    dt = (time.perf_counter() - t0) / max(1, len(docs))
    probs = np.array([[r.scores.get(lab, 0.0) for lab in labels_all] for r in res])
    probs = probs / probs.sum(axis=1, keepdims=True)
    y = label_index([d.label for d in docs], labels_all[:-1])
    out = summary(probs, y, labels_all)
    out["ms_per_document_batched"] = round(dt * 1000, 1)
    out["model_version"] = clf.version
    return out


def baseline(train_docs, test_docs, labels_all: list[str]) -> dict:
    known = set(labels_all)
    tr_labels = [d.label if d.label in known else UNKNOWN for d in train_docs]
    b = TfidfBaseline().fit(["\n".join(d.pages) for d in train_docs], tr_labels)
    t0 = time.perf_counter()
    p = b.predict_proba(["\n".join(d.pages) for d in test_docs])
    dt = (time.perf_counter() - t0) / max(1, len(test_docs))
    probs = np.zeros((len(test_docs), len(labels_all)))
    for j, c in enumerate(b.classes_):
        probs[:, labels_all.index(c)] = p[:, j]
    y = label_index([d.label for d in test_docs], labels_all[:-1])
    out = summary(probs, y, labels_all)
    out["ms_per_document"] = round(dt * 1000, 1)
    return out


SPLIT_RULES = {"worker default (unknown documents split off)": {},
               "known types only": {"allow_unknown": False},
               "also same-type runs": {"allow_same_type": True}}


def make_batches(docs, n: int, seed: int = 0) -> list[list]:
    """``n`` mixed scans of 2-3 held-out documents, at least one of a known type."""
    import random

    rng = random.Random(seed)
    known = [d for d in docs if d.label != UNKNOWN and any(p.strip() for p in d.pages)]
    other = [d for d in docs if d.label == UNKNOWN and any(p.strip() for p in d.pages)]
    out = []
    for _ in range(n):
        parts = [rng.choice(known)]
        for _ in range(rng.choice([1, 1, 2])):
            parts.append(rng.choice(other) if other and rng.random() < 0.25 else rng.choice(known))
        rng.shuffle(parts)
        out.append(parts)
    return out


def split_eval(clf: DocumentClassifier, docs, n_batches: int = 120, min_confidence: float = 0.9) -> dict:
    """Split accuracy on mixed batches and false splits of single documents, per rule.

    A batch counts as right when every document has exactly its pages and
    type; a single document (itself, possibly multi-page) is falsely split when
    the rule would cut it.
    """
    from classifiers.splitting import batch_documents

    clf = cached(clf)
    batches = make_batches(docs, n_batches)
    singles = [d for d in docs if any(p.strip() for p in d.pages)]

    def predicted(pages, rule) -> list[tuple[int, int, str]]:
        docs = batch_documents(clf.split_batch(pages), min_confidence, **rule)
        if docs:
            return [(r.start, r.end, r.document_type) for r in docs]
        return [(1, len(pages), clf.classify_pages(pages).document_type)]

    out = {}
    for name, rule in SPLIT_RULES.items():
        exact = docs_ok = docs_n = 0
        for parts in batches:
            truth, start = [], 1
            for d in parts:
                truth.append((start, start + len(d.pages) - 1, d.label))
                start += len(d.pages)
            pred = predicted([p for d in parts for p in d.pages], rule)
            exact += pred == truth
            docs_ok += len(set(pred) & set(truth))
            docs_n += len(truth)
        multi = [d for d in singles if len(d.pages) > 1]
        false_splits = sum(len(predicted(d.pages, rule)) > 1 for d in multi)
        out[name] = {"batches": len(batches), "exact_rate": round(exact / len(batches), 4),
                     "documents_recall": round(docs_ok / docs_n, 4),
                     "multi_page_singles": len(multi),
                     "false_split_rate": round(false_splits / max(1, len(multi)), 4)}
    return out


def short(m: dict) -> str:
    keys = ("accuracy", "ece", "nll", "unknown_recall", "known_to_unknown", "wrong_known_type")
    return "  ".join(f"{k}={m[k]:.4f}" if isinstance(m.get(k), float) else f"{k}={m.get(k)}" for k in keys)


def fit_zero_shot(docs, cat, enc) -> dict:
    """Fusion parameters for the no-artefact mode (heads off), per backend.

    The values are copied into ``classifiers.classifier.ZERO_SHOT``; printed
    here so they can be refreshed when the catalogue or encoder changes.
    """
    from classifiers import fusion
    from classifiers.baseline_tfidf import TfidfEncoder
    from classifiers.engine import Engine, encode_units

    classes = class_defs(cat)
    units = [d.pages for d in docs if any(p.strip() for p in d.pages)]
    labels = [d.label for d in docs if any(p.strip() for p in d.pages)]
    out = {}
    backends = [("tfidf", TfidfEncoder().fit([c.prototype for c in classes]))]
    if enc is not None:
        backends.append(("e5", CachedEncoder(enc, CACHE_DIR)))
    for kind, e in backends:
        eng = Engine(kind, e, classes, fusion.FusionParams(w_h=0.0))
        U, _, _, _ = encode_units(e, units)
        f, _ = eng.features(U, units)
        y = fusion.label_index(labels, eng.class_ids)
        p = fusion.fit(f, y, fixed={"w_h": 0.0, "w_i": 0.0, "w_s": 0.0, "b_t": 0.0}, l2=1e-4)
        out[kind] = {k: round(v, 2) for k, v in p.to_dict().items()}
    return out


def _subset(docs, pred) -> list:
    return [d for d in docs if pred(d)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench-out/classifier", help="where eval artefacts and report go")
    ap.add_argument("--final", action="store_true", help="train on everything and write models/classifier")
    ap.add_argument("--no-encoder", action="store_true")
    ap.add_argument("--new-class", default="kindergeld_kg1", help="class held out of training for the new-type test")
    ap.add_argument("--per-form", type=int, default=40)
    ap.add_argument("--synth-test", type=int, default=30, help="bench.synth seeds 0..N-1 per type as test")
    ap.add_argument("--synth-train", type=int, default=40, help="bench.synth seeds 10000.. per type for training")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not corpus_mod.data_available():
        print("../shared/data is missing: nothing to measure")
        return 1
    from forms import load_catalogue

    cat = load_catalogue()
    labels_all = [c.id for c in class_defs(cat)] + [UNKNOWN]
    enc = None if args.no_encoder else load_encoder()
    docs = corpus_mod.build_corpus(n_per_form=args.per_form)
    real_train, real_test = corpus_mod.split(docs)
    syn_train, syn_test = [], []
    if corpus_mod.synth_available():
        syn_test = corpus_mod.synth_corpus(range(args.synth_test), scan_every=10)
        syn_train = corpus_mod.synth_corpus(range(10000, 10000 + args.synth_train))
    # the catalogue-only type: no training example in the main run
    zs = "gewerbeabmeldung"
    train_docs = [d for d in real_train + syn_train if d.label != zs]
    test_docs = real_test + syn_test
    out = Path(args.out)
    report: dict = {"corpus": {"train": len(train_docs), "test": len(test_docs),
                               "test_by_label": {lab: sum(d.label == lab for d in test_docs) for lab in labels_all},
                               "test_by_kind": {}}}
    for d in test_docs:
        report["corpus"]["test_by_kind"][d.kind] = report["corpus"]["test_by_kind"].get(d.kind, 0) + 1
    t0 = time.perf_counter()
    vdir = train(pairs_of(train_docs), cat, out / "models", encoder=enc)
    report["train_seconds"] = round(time.perf_counter() - t0, 1)
    subsets = {
        "all": test_docs,
        "real_templates": real_test,
        "synth_text": _subset(syn_test, lambda d: d.kind == "synth-text"),
        "synth_scan_ocr": _subset(syn_test, lambda d: d.kind == "synth-scan"),
        "catalogue_only_" + zs: _subset(test_docs, lambda d: d.label == zs),
    }
    results: dict = {}

    def run(name: str, clf: DocumentClassifier) -> None:
        results[name] = {k: measure(clf, v, labels_all) for k, v in subsets.items() if v}

    if enc is not None:
        report["timing_e5"] = timing(DocumentClassifier.from_catalogue(cat, vdir), test_docs)
        run("e5", DocumentClassifier.from_catalogue(cat, vdir))
    report["timing_tfidf_fallback"] = timing(DocumentClassifier.from_catalogue(cat, vdir, encoder="none"), test_docs)
    run("tfidf_fallback", DocumentClassifier.from_catalogue(cat, vdir, encoder="none"))
    if enc is not None:
        run("zero_shot_e5", DocumentClassifier.zero_shot(class_defs(cat), enc))
    run("zero_shot_tfidf", DocumentClassifier.zero_shot(class_defs(cat), None))
    split_clf = DocumentClassifier.from_catalogue(cat, vdir, encoder=None if enc is not None else "none")
    report["batch_split"] = split_eval(split_clf, test_docs)
    print("batch split:", json.dumps(report["batch_split"], indent=1))
    results["baseline_tfidf_lr"] = {k: baseline(train_docs, v, labels_all) for k, v in subsets.items() if v}
    # layouts never seen: train on the real-form corpus only, test on bench.synth
    if syn_test:
        v_real = train(pairs_of(real_train), cat, out / "models-realonly", encoder=enc)
        clf = DocumentClassifier.from_catalogue(cat, v_real, encoder=None if enc is not None else "none")
        results["unseen_layouts_trained_on_real_only"] = {
            "synth_all": measure(clf, syn_test, labels_all),
            "baseline_tfidf_lr": baseline(real_train, syn_test, labels_all)}
    # a new form type: no training example of it, then with examples
    nc = args.new_class
    held = [d for d in test_docs if d.label == nc]
    v_nc = train(pairs_of([d for d in train_docs if d.label != nc]), cat, out / "models-newclass", encoder=enc)
    clf_nc = DocumentClassifier.from_catalogue(cat, v_nc, encoder=None if enc is not None else "none")
    results[f"new_class_{nc}"] = {"without_examples": measure(clf_nc, held, labels_all),
                                  "with_examples": results["e5" if enc is not None else "tfidf_fallback"]["all"]["per_class"].get(nc)}
    zs_docs = subsets["catalogue_only_" + zs]
    if zs_docs:
        zs_train = [d for d in syn_train if d.label == zs]
        v_zs = train(pairs_of(train_docs + zs_train), cat, out / "models-zs-examples", encoder=enc)
        clf_zs = DocumentClassifier.from_catalogue(cat, v_zs, encoder=None if enc is not None else "none")
        results[f"new_class_{zs}_examples_arrive"] = {"n_examples": len(zs_train),
                                                     "on_class": measure(clf_zs, zs_docs, labels_all),
                                                     "all": measure(clf_zs, test_docs, labels_all)}
    report["results"] = results
    report["zero_shot_params_fitted_on_train"] = fit_zero_shot(train_docs, cat, enc)
    print("zero-shot params:", report["zero_shot_params_fitted_on_train"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    for k in ("timing_e5", "timing_tfidf_fallback"):
        if k in report:
            print(k, report[k])
    for name, per in results.items():
        for sub, m in per.items():
            if isinstance(m, dict) and "n" in m:
                print(f"{name:38s} {sub:32s} n={m['n']:4d} {short(m)}")
    if args.final:
        final_docs = docs + syn_train
        vfinal = train(pairs_of(final_docs), cat, DEFAULT_MODEL_ROOT, encoder=enc,
                       extra_metrics={"held_out_evaluation": results, "corpus": report["corpus"]})
        print(f"final model: {vfinal}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
