"""Train the key-value pairing models on XFUND-style pages and save the artefact.

    .venv/bin/python -m extractors.kv_train \
        --train ../shared/data/xfund_de/de.train.json \
        --out models/kv_pairing.json

Only the training split is read. The artefact holds learned parameters
(tree thresholds/leaf values, hashed n-gram weights), no text of the data.
Thresholds and stacked features come from page-grouped cross-validation on
the training split, so nothing is tuned on the validation split.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np

from .kv_data import LABELS, XFUND_DIR_ENV, Entity, FormPage, load_xfund, match_entities, xfund_dir
from .kv_features import PAIR_FEATURES, pair_features
from .kv_labels import LABEL_FEATURES, label_features
from .kv_model import HashedTextModel, TreeEnsemble
from .kv_pairing import SEG_PAIR_FEATURES, KVModels, default_model_path, segment_pair_features
from .kv_segment import (
    H_EDGE_FEATURES,
    V_EDGE_FEATURES,
    Segment,
    h_edge_features,
    horizontal_edges,
    median_height,
    segment_words,
    v_edge_features,
    vertical_edges,
)

N_FOLDS = 5
SEED = 0


def _hgb(**kw):
    from sklearn.ensemble import HistGradientBoostingClassifier

    params = dict(max_iter=200, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=20, random_state=SEED)
    params.update(kw)
    return HistGradientBoostingClassifier(**params)


def _folds(n: int) -> np.ndarray:
    return np.random.default_rng(SEED).permutation(n) % N_FOLDS


def page_arrays(p: FormPage) -> tuple[np.ndarray, list[str], float]:
    boxes = np.array([w.box for w in p.words], dtype=float).reshape(-1, 4)
    return boxes, [w.text for w in p.words], median_height(boxes)


# ------------------------------------------------------------------ linking


def link_pairs(p: FormPage, entities=None) -> tuple[np.ndarray, np.ndarray]:
    """Pair features (flattened) and 0/1 targets of one page from gold entities."""
    ents = entities if entities is not None else p.entities
    qs = [e for e in ents if e.label == "question"]
    ans = [e for e in ents if e.label == "answer"]
    oth = [e for e in ents if e.label not in ("question", "answer")]
    _, _, h = page_arrays(p)
    b = lambda es: np.array([e.box for e in es], dtype=float).reshape(-1, 4)  # noqa: E731
    F = pair_features(b(qs), [e.text for e in qs], b(ans), [e.text for e in ans], b(oth), h)
    y = np.array([[(q.id, a.id) in p.links for q in qs] for a in ans], dtype=bool).reshape(len(ans), len(qs))
    return F.reshape(-1, len(PAIR_FEATURES)), y


def decode_f1(P_list, y_list, thr: float, missed: int = 0) -> float:
    """F1 of "each answer takes its best question if P >= thr". ``missed``:
    gold links no candidate pair can reach (e.g. a side not segmented); they
    count as false negatives so the threshold trades precision for recall as
    in the benchmark."""
    tp = fp = 0
    gold = missed
    for P, y in zip(P_list, y_list):
        gold += int(y.sum())
        if P.size == 0:
            continue
        j = P.argmax(1)
        ok = P.max(1) >= thr
        hit = y[np.arange(len(j)), j]
        tp += int((ok & hit).sum())
        fp += int((ok & ~hit).sum())
    prec = tp / max(tp + fp, 1)
    rec = tp / max(gold, 1)
    return 2 * prec * rec / max(prec + rec, 1e-9)


# Pair models: more, regularised trees (chosen by page-grouped CV on train only)
LINK_HGB = dict(max_iter=300, max_leaf_nodes=15, l2_regularization=1.0)


def train_link(pages: list[FormPage]) -> tuple[TreeEnsemble, float, list[TreeEnsemble]]:
    """The entity link model, its threshold, and the per-fold models (the label
    model's relational features on page ``i`` come from the model of the fold
    that did not see page ``i``)."""
    data = [link_pairs(p) for p in pages]
    fold = _folds(len(pages))
    oof = []
    fold_models = []
    for k in range(N_FOLDS):
        tr = [i for i in range(len(pages)) if fold[i] != k]
        X = np.concatenate([data[i][0] for i in tr])
        Y = np.concatenate([data[i][1].ravel() for i in tr])
        m = _hgb(**LINK_HGB).fit(X, Y)
        fold_models.append(TreeEnsemble.from_sklearn(m, PAIR_FEATURES))
        for i in range(len(pages)):
            if fold[i] == k:
                F, y = data[i]
                P = m.predict_proba(F)[:, 1].reshape(y.shape) if F.size else np.zeros(y.shape)
                oof.append((P, y))
    grid = np.arange(0.01, 0.8, 0.01)
    scores = [decode_f1([o[0] for o in oof], [o[1] for o in oof], t) for t in grid]
    thr = float(grid[int(np.argmax(scores))])
    print(f"link: cv F1 {max(scores):.4f} at threshold {thr:.3f}")
    X = np.concatenate([d[0] for d in data])
    Y = np.concatenate([d[1].ravel() for d in data])
    return TreeEnsemble.from_sklearn(_hgb(**LINK_HGB).fit(X, Y), PAIR_FEATURES), thr, fold_models


# ------------------------------------------------------------ segmentation


def train_text(pages: list[FormPage]) -> tuple[HashedTextModel, list[HashedTextModel]]:
    """Text model on the gold entity texts (LABELS), and one per fold without
    that fold's pages: words and segments of page ``i`` are scored during
    training by the model of the fold that did not see page ``i``."""
    classes = list(LABELS)
    fold = _folds(len(pages))

    def fit(idx):
        ents = [e for i in idx for e in pages[i].entities]
        return HashedTextModel.fit([e.text for e in ents], [e.label for e in ents], classes)

    folds = [fit([i for i in range(len(pages)) if fold[i] != k]) for k in range(N_FOLDS)]
    return fit(range(len(pages))), folds


def word_owner(p: FormPage) -> np.ndarray:
    owner = np.full(len(p.words), -1)
    for e in p.entities:
        owner[e.word_ids] = e.id
    return owner


def train_h_merge(pages: list[FormPage], text_folds: list[HashedTextModel]) -> TreeEnsemble:
    Xs, Ys = [], []
    fold = _folds(len(pages))
    for i, p in enumerate(pages):
        boxes, texts, h = page_arrays(p)
        owner = word_owner(p)
        edges = horizontal_edges(boxes, h)
        if not edges:
            continue
        Xs.append(h_edge_features(boxes, texts, edges, h, text_folds[fold[i]].predict_proba(texts)))
        Ys.append(np.array([owner[i] == owner[j] for i, j in edges]))
    X, Y = np.concatenate(Xs), np.concatenate(Ys)
    print(f"h_merge: {len(Y)} edges, {Y.mean():.3f} joining")
    return TreeEnsemble.from_sklearn(_hgb().fit(X, Y), H_EDGE_FEATURES)


def _majority(ids: list[int], owner: np.ndarray) -> int:
    return Counter(owner[ids].tolist()).most_common(1)[0][0]


def train_v_merge(pages: list[FormPage], h_model: TreeEnsemble, text_folds: list[HashedTextModel]) -> TreeEnsemble:
    Xs, Ys = [], []
    fold = _folds(len(pages))
    for i, p in enumerate(pages):
        boxes, texts, h = page_arrays(p)
        owner = word_owner(p)
        segs = segment_words(boxes, texts, h_model, None, text_model=text_folds[fold[i]])
        edges = vertical_edges(segs, h)
        if not edges:
            continue
        Xs.append(v_edge_features(segs, edges, h))
        Ys.append(np.array([_majority(segs[i].word_ids, owner) == _majority(segs[j].word_ids, owner) for i, j in edges]))
    X, Y = np.concatenate(Xs), np.concatenate(Ys)
    print(f"v_merge: {len(Y)} edges, {Y.mean():.3f} joining")
    return TreeEnsemble.from_sklearn(_hgb().fit(X, Y), V_EDGE_FEATURES)


# --------------------------------------------------------------- labelling


def segment_labels(p: FormPage, segs: list[Segment]) -> list[str]:
    label_of = {e.id: e.label for e in p.entities}
    owner = word_owner(p)
    return [label_of.get(_majority(s.word_ids, owner), "other") for s in segs]


def train_labels(
    pages: list[FormPage],
    h_model,
    v_model,
    text_folds: list[HashedTextModel],
    link_folds: list[TreeEnsemble] | None = None,
):
    """Label model on predicted segments. Also returns, per page, the predicted
    segments, their gold-derived labels and out-of-fold label probabilities
    (for the segment linker, which must see labels as uncertain as at run
    time). Text and link features of page ``i`` come from the fold models that
    did not see page ``i``."""
    classes = list(LABELS)
    fold = _folds(len(pages))
    per_page = []
    oof_text: list[np.ndarray | None] = [None] * len(pages)
    for i, p in enumerate(pages):
        boxes, texts, h = page_arrays(p)
        segs = segment_words(boxes, texts, h_model, v_model, text_model=text_folds[fold[i]])
        per_page.append((segs, segment_labels(p, segs), h))
        if segs:
            oof_text[i] = text_folds[fold[i]].predict_proba([s.text for s in segs])
    feats: list[np.ndarray | None] = [None] * len(pages)
    ys: list[np.ndarray | None] = [None] * len(pages)
    for i, (segs, labels, h) in enumerate(per_page):
        if segs:
            lm = link_folds[fold[i]] if link_folds else None
            feats[i] = label_features(np.array([s.box for s in segs]), [s.text for s in segs], oof_text[i], h, lm)
            ys[i] = np.array([classes.index(y) for y in labels])
    have = [i for i in range(len(pages)) if feats[i] is not None]
    oof_label: list[np.ndarray | None] = [None] * len(pages)
    for k in range(N_FOLDS):
        tr = [i for i in have if fold[i] != k]
        m = _hgb(max_iter=150).fit(np.concatenate([feats[i] for i in tr]), np.concatenate([ys[i] for i in tr]))
        for i in have:
            if fold[i] == k:
                oof_label[i] = m.predict_proba(feats[i])
    X = np.concatenate([feats[i] for i in have])
    Y = np.concatenate([ys[i] for i in have])
    acc = float(np.mean(np.concatenate([oof_label[i].argmax(1) for i in have]) == Y))
    label_model = _hgb(max_iter=150).fit(X, Y)
    print(f"labels: {len(Y)} segments, distribution {np.bincount(Y, minlength=4).tolist()}, cv accuracy {acc:.3f}")
    return TreeEnsemble.from_sklearn(label_model, LABEL_FEATURES), per_page, oof_label


def train_seg_link(
    pages: list[FormPage], per_page, oof_label, text_folds: list[HashedTextModel]
) -> tuple[TreeEnsemble, float]:
    """Pair model on predicted segments: target is "both sides match the two
    ends of a gold link" (word-set IoU >= 0.5, the benchmark's rule)."""
    data = []
    missed = 0
    fold_of = _folds(len(pages))
    for p, (segs, _, h), proba, fk in zip(pages, per_page, oof_label, fold_of):
        if not segs:
            continue
        ents = [Entity(id=i, text=sg.text, box=sg.box, word_ids=sg.word_ids) for i, sg in enumerate(segs)]
        gold_ids = [g.id for g in p.entities]
        matched = [gold_ids[k] if k >= 0 else None for k in match_entities([e.word_ids for e in ents], [g.word_ids for g in p.entities])]
        tp = text_folds[fk].predict_proba([e.text for e in ents])
        qi, ai, F = segment_pair_features(ents, proba, h, tp)
        y = np.array([[(matched[q], matched[a]) in p.links and q != a for q in qi] for a in ai], dtype=bool)
        data.append((F.reshape(-1, len(SEG_PAIR_FEATURES)), y.reshape(len(ai), len(qi))))
        missed += max(len(p.links) - int(y.sum()), 0)
    fold = _folds(len(data))
    oof = []
    for k in range(N_FOLDS):
        tr = [i for i in range(len(data)) if fold[i] != k]
        m = _hgb(**LINK_HGB).fit(np.concatenate([data[i][0] for i in tr]), np.concatenate([data[i][1].ravel() for i in tr]))
        for i in range(len(data)):
            if fold[i] == k:
                F, y = data[i]
                oof.append((m.predict_proba(F)[:, 1].reshape(y.shape) if F.size else np.zeros(y.shape), y))
    grid = np.arange(0.025, 0.8, 0.025)
    scores = [decode_f1([o[0] for o in oof], [o[1] for o in oof], t, missed) for t in grid]
    thr = float(grid[int(np.argmax(scores))])
    print(f"seg_link: cv F1 {max(scores):.4f} (all gold links, {missed} unreachable) at threshold {thr:.3f}")
    X = np.concatenate([d[0] for d in data])
    Y = np.concatenate([d[1].ravel() for d in data])
    return TreeEnsemble.from_sklearn(_hgb(**LINK_HGB).fit(X, Y), SEG_PAIR_FEATURES), thr


def train_all(pages: list[FormPage]) -> KVModels:
    t0 = time.time()
    link, thr, link_folds = train_link(pages)
    text_model, text_folds = train_text(pages)
    h_model = train_h_merge(pages, text_folds)
    v_model = train_v_merge(pages, h_model, text_folds)
    label_model, per_page, oof_label = train_labels(pages, h_model, v_model, text_folds, link_folds)
    seg_link, seg_thr = train_seg_link(pages, per_page, oof_label, text_folds)
    print(f"trained in {time.time() - t0:.1f} s")
    return KVModels(
        link=link,
        link_threshold=thr,
        h_merge=h_model,
        v_merge=v_model,
        text=text_model,
        label=label_model,
        seg_link=seg_link,
        seg_link_threshold=seg_thr,
        version=f"kv_pairing-hgb-{time.strftime('%Y%m%d')}",
    )


def main(argv: list[str] | None = None, *, data_dir: str | Path | None = None,
         model_path: str | Path | None = None) -> int:
    """The command line; ``data_dir`` and ``model_path`` are the defaults of
    ``--train``'s directory and ``--out`` (given by ``__main__`` from
    ``FORMWERK_XFUND_DIR`` and ``settings.kv_model``)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", default=str(xfund_dir(data_dir) / "de.train.json"),
                    help="XFUND training split (default: ../shared/data/xfund_de beside the checkout, or FORMWERK_XFUND_DIR)")
    ap.add_argument("--out", default=str(model_path or default_model_path()),
                    help="where to write the artefact (default: FORMWERK_KV_MODEL, else models/kv_pairing.json)")
    ap.add_argument("--if-missing", action="store_true",
                    help="set-up mode: do nothing when the artefact exists; without training data, say so and exit 0 (rules are used)")
    args = ap.parse_args(argv)
    if args.if_missing and Path(args.out).exists():
        return 0
    if not Path(args.train).exists():
        print(f"kv_pairing: training data not found at {args.train}; unknown pages are paired by rules")
        return 0 if args.if_missing else 1
    models = train_all(load_xfund(args.train))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(models.to_json(), separators=(",", ":")), encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    # the entry point: configuration is read here, never below
    from formwerk.settings import get_settings

    raise SystemExit(main(data_dir=os.environ.get(XFUND_DIR_ENV), model_path=get_settings().kv_model))
