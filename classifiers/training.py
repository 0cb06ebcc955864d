"""Training, versioned model artefacts and the loader that picks the newest.

Input: labelled texts as ``(text, label)`` pairs — the benchmark corpus plus
clerks' reclassifications. A text may hold several pages separated by a form
feed ``"\\f"`` (pages are embedded separately and averaged, like at inference).
Labels are catalogue ids, ``invoice`` or ``unknown``; labels that are not
classes of the given catalogue are trained as ``unknown``.

Output: a directory ``<root>/<version>/`` (default root ``models/classifier``,
gitignored) holding::

    VERSION              the version string, e.g. clf-20261127T171500-3fa2c1
    meta.json            classes, encoder name, example counts, created (UTC)
    head-e5.npz          logistic-regression head on encoder embeddings
    tfidf.pkl            fallback vectoriser + head (always trained)
    fusion.json          calibrated fusion parameters per backend
    centroids-e5.npz     first/later page centroids per class (batch splitting)
    metrics.json         held-out calibration metrics (accuracy, ECE, NLL)

The directory is written under a temporary name and renamed, so a reader
never sees half an artefact; :func:`latest_version_dir` picks the newest
complete one (versions sort by their UTC timestamp).
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import random
import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from classifiers import fusion
from classifiers.baseline_tfidf import TfidfEncoder
from classifiers.classes import UNKNOWN, ClassDef, class_defs
from classifiers.engine import CachedEncoder, Engine, Head, encode_units
from classifiers.metrics import summary
from classifiers.text import is_blank

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_ROOT = REPO_ROOT / "models" / "classifier"
CACHE_DIR = REPO_ROOT / ".formwerk" / "cache"
PAGE_SEP = "\f"


def to_units(pairs: list[tuple[str, str]], classes: list[ClassDef]) -> tuple[list[list[str]], list[str]]:
    """Pairs -> (units of page texts, labels mapped onto the class set)."""
    known = {c.id for c in classes}
    units, labels = [], []
    for text, label in pairs:
        pages = text.split(PAGE_SEP)
        if all(is_blank(p) for p in pages):
            continue  # blank documents are decided by rule, not learned
        units.append(pages)
        labels.append(label if label in known else UNKNOWN)
    return units, labels


def _stratified_split(labels: list[str], frac: float, seed: int) -> tuple[list[int], list[int]]:
    rng = random.Random(seed)
    by: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        by.setdefault(lab, []).append(i)
    fit_idx, cal_idx = [], []
    for idx in by.values():
        idx = idx[:]
        rng.shuffle(idx)
        k = int(round(len(idx) * frac)) if len(idx) >= 4 else 0
        cal_idx += idx[:k]
        fit_idx += idx[k:]
    return sorted(fit_idx), sorted(cal_idx)


def _fit_head(U, P, page_idx, blank, labels: list[str], rows: list[int], C: float) -> Head:
    """LR on unit vectors plus every non-blank page (pages carry their unit's label)."""
    import scipy.sparse as sp

    page_rows = [i for r in rows for i in page_idx[r] if not blank[i] and len(page_idx[r]) > 1]
    page_labels = [labels[r] for r in rows for i in page_idx[r] if not blank[i] and len(page_idx[r]) > 1]
    X = sp.vstack([U[rows], P[page_rows]]) if sp.issparse(U) else np.vstack([U[rows], P[page_rows]])
    y = [labels[r] for r in rows] + page_labels
    lr = LogisticRegression(C=C, max_iter=3000)
    lr.fit(X, y)
    return Head.from_sklearn(lr)


def _centroids(U, P, page_idx, blank, labels, rows) -> tuple[dict, dict]:
    first: dict[str, list] = {}
    later: dict[str, list] = {}
    for r in rows:
        ids = [i for i in page_idx[r] if not blank[i]]
        for j, i in enumerate(ids):
            v = P[i].toarray().ravel() if hasattr(P[i], "toarray") else np.asarray(P[i]).ravel()
            (first if j == 0 else later).setdefault(labels[r], []).append(v)

    def norm(d):
        out = {}
        for k, vs in d.items():
            m = np.mean(vs, axis=0)
            out[k] = (m / (np.linalg.norm(m) + 1e-9)).astype(np.float32)
        return out

    return norm(first), norm(later)


#: Inverse regularisation of the heads. E5 embeddings of different documents
#: are all close (cosine 0.7-0.9): the head needs a weak prior to use them.
HEAD_C = {"e5": 100.0, "tfidf": 10.0}


def train_backend(kind: str, encoder, classes: list[ClassDef], units, labels, *, seed: int = 0,
                  cal_fraction: float = 0.3, C: float | None = None, leave_one_out: bool = True):
    """Fit head + calibrated fusion for one backend; returns (Engine, metrics)."""
    C = C or HEAD_C.get(kind, 10.0)
    if kind == "tfidf":
        encoder = TfidfEncoder().fit([p for u in units for p in u] + [c.prototype for c in classes])
    U, page_idx, P, blank = encode_units(encoder, units)
    fit_rows, cal_rows = _stratified_split(labels, cal_fraction, seed)
    head = _fit_head(U, P, page_idx, blank, labels, fit_rows, C)
    first, later = _centroids(U, P, page_idx, blank, labels, fit_rows)
    eng = Engine(kind, encoder, classes, fusion.FusionParams(), head, first, later)
    cal_units = [units[r] for r in cal_rows]
    feats, _ = eng.features(U[cal_rows], cal_units)
    y = fusion.label_index([labels[r] for r in cal_rows], eng.class_ids)
    groups: list = [(feats, y, 1.0)]
    if leave_one_out:
        # simulate "a form defined only in the catalogue": the head never saw it
        loo_groups = []
        for cid in sorted(set(labels) - {UNKNOWN}):
            rows = [r for r in fit_rows if labels[r] != cid]
            if len({labels[r] for r in rows}) < 2:
                continue
            loo = Engine(kind, encoder, classes, fusion.FusionParams(),
                         _fit_head(U, P, page_idx, blank, labels, rows, C))
            f_loo, _ = loo.features(U[cal_rows], cal_units)
            loo_groups.append((f_loo, y, 1.0))
        loo_groups += _lookalike_groups(kind, encoder, classes, head, units, labels, cal_rows)
        # the real calibration data and the simulations weigh the same in total
        groups = [(feats, y, 1.0)] + [(f, yy, 1.0 / max(1, len(loo_groups))) for f, yy, _ in loo_groups]
    eng.fusion = fusion.fit(groups)
    probs = fusion.predict_proba(feats, eng.fusion)
    metrics = {"calibration_split": summary(probs, y, eng.labels), "n_fit": len(fit_rows), "n_cal": len(cal_rows)}
    return eng, metrics


def _mutate(ident: str, rng: random.Random) -> str:
    """A look-alike identifier: same shape, a letter or digit changed ("GewA 1" -> "GewA 7")."""
    chars = list(ident)
    pos = [i for i, c in enumerate(chars) if c.isdigit()] or \
          [i for i, c in enumerate(chars) if c.isalpha() and 0 < i < len(chars) - 1]
    for i in rng.sample(pos, min(2, len(pos))):
        c = chars[i]
        if c.isdigit():
            chars[i] = str((int(c) + rng.randint(1, 8)) % 10)
        else:
            chars[i] = rng.choice([x for x in "bdfgkmprstxz" if x != c.lower()])
    return "".join(chars)


def _lookalike_groups(kind, encoder, classes: list[ClassDef], head: Head, units, labels, cal_rows,
                      per_class: int = 8, seed: int = 0) -> list:
    """Simulate a new catalogue form that looks like a trained one.

    Documents of a trained form get their strong identifiers (title, codes)
    replaced by mutated ones and are labelled as a fake new class whose
    catalogue entry carries those identifiers. The head, trained on the
    original, still votes for it — so the fusion learns how far an explicit,
    different title must outweigh the head (the GewA 3 vs GewA 1 case).
    """
    import re
    from dataclasses import replace

    rng = random.Random(seed)
    out = []
    for c in classes:
        rows = [r for r in cal_rows if labels[r] == c.id][:per_class]
        if not rows or not c.identifiers:
            continue
        mapping = {i: _mutate(i, rng) for i in c.identifiers}
        fake = replace(c, id=f"__lookalike_{c.id}", title=mapping.get(c.title, _mutate(c.title, rng)),
                       identifiers=tuple(mapping.values()), weak_identifiers=c.weak_identifiers)
        pat = re.compile("|".join(re.escape(i) for i in sorted(mapping, key=len, reverse=True)), re.IGNORECASE)
        lower = {k.lower(): v for k, v in mapping.items()}

        def swap(text: str) -> str:
            return pat.sub(lambda m: lower.get(m.group(0).lower(), m.group(0)), text)

        fake = replace(fake, prototype=swap(c.prototype))
        eng = Engine(kind, encoder, [*classes, fake], fusion.FusionParams(), head)
        fake_units = [[swap(p) for p in units[r]] for r in rows]
        Uf, _, _, _ = encode_units(encoder, fake_units)
        f, _ = eng.features(Uf, fake_units)
        out.append((f, np.full(len(rows), len(classes)), 1.0))  # label = the fake class (last)
    return out


def find_unreliable_identifiers(classes: list[ClassDef], units, labels, *, max_rate: float = 0.05,
                                min_docs: int = 10) -> dict[str, list[str]]:
    """Strong identifiers that also occur in documents of *other* known types.

    E.g. "Aufgabe des Betriebes" (GewA 3) is printed in the notes on page 2 of
    every GewA 1. Such an identifier is demoted to a weak one (it still counts,
    but cannot outvote the head or contradict another class).
    """
    from classifiers.identifiers import IdentifierMatcher

    matcher = IdentifierMatcher(classes)
    by_label: dict[str, int] = {}
    hits: dict[tuple[str, str, str], int] = {}
    for pages, lab in zip(units, labels):
        by_label[lab] = by_label.get(lab, 0) + 1
        for h in matcher.hits(pages):
            # mentions in "unknown" documents (a cover letter naming the form)
            # are what the fusion learns to discount; only other form types count
            if not h.weak and h.class_id != lab and lab != UNKNOWN:
                key = (h.class_id, h.identifier, lab)
                hits[key] = hits.get(key, 0) + 1
    out: dict[str, list[str]] = {}
    for (cid, ident, lab), n in hits.items():
        if by_label[lab] >= min_docs and n / by_label[lab] > max_rate and ident not in out.get(cid, []):
            out.setdefault(cid, []).append(ident)
    return out


def demote(classes: list[ClassDef], demoted: dict[str, list[str]]) -> list[ClassDef]:
    """ClassDefs with the given identifiers moved to the weak ones."""
    from dataclasses import replace

    out = []
    for c in classes:
        d = set(demoted.get(c.id, []))
        if d:
            c = replace(c, identifiers=tuple(i for i in c.identifiers if i not in d),
                        weak_identifiers=tuple(dict.fromkeys([*c.weak_identifiers, *sorted(d)])))
        out.append(c)
    return out


def new_version(pairs: list[tuple[str, str]]) -> str:
    ts = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    h = hashlib.sha256("\n".join(f"{lab}\t{t}" for t, lab in pairs).encode()).hexdigest()[:6]
    return f"clf-{ts}-{h}"


def train(pairs: list[tuple[str, str]], catalogue, out_root: Path | None = None, *,
          encoder=None, seed: int = 0, extra_metrics: dict | None = None) -> Path:
    """Retrain from labelled texts and write a new versioned artefact; returns its dir.

    ``encoder`` is an :class:`~classifiers.encoder.E5Encoder` (or anything with
    ``encode``/``name``), or ``None`` for a TF-IDF-only artefact.
    """
    out_root = Path(out_root or DEFAULT_MODEL_ROOT)
    classes = class_defs(catalogue)
    units, labels = to_units(pairs, classes)
    if len(set(labels)) < 2:
        raise ValueError("training needs at least two different labels")
    demoted = find_unreliable_identifiers(classes, units, labels)
    if demoted:
        log.info("identifiers demoted to weak (seen in other types' documents): %s", demoted)
    classes = demote(classes, demoted)
    version = new_version(pairs)
    tmp = out_root / f".{version}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    fusion_params, metrics = {}, {}
    engines = {}
    backends = [("tfidf", None)] + ([("e5", CachedEncoder(encoder, CACHE_DIR))] if encoder is not None else [])
    for kind, enc in backends:
        eng, m = train_backend(kind, enc, classes, units, labels, seed=seed)
        engines[kind] = eng
        fusion_params[kind] = eng.fusion.to_dict()
        metrics[kind] = m
        if kind == "e5":
            np.savez(tmp / "head-e5.npz", classes=np.array(eng.head.classes), coef=eng.head.coef,
                     intercept=eng.head.intercept)
            np.savez(tmp / "centroids-e5.npz",
                     **{f"first:{k}": v for k, v in eng.first_centroids.items()},
                     **{f"later:{k}": v for k, v in eng.later_centroids.items()})
        else:
            (tmp / "tfidf.pkl").write_bytes(pickle.dumps({
                "vectorizer": eng.encoder.vectorizer, "head": eng.head,
                "first": eng.first_centroids, "later": eng.later_centroids}))
    counts: dict[str, int] = {}
    for lab in labels:
        counts[lab] = counts.get(lab, 0) + 1
    meta = {
        "version": version, "created": datetime.now(timezone.utc).isoformat(),
        "classes": [c.id for c in classes], "encoder": encoder.name if encoder is not None else None,
        "backends": list(engines), "examples": counts, "demoted_identifiers": demoted,
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    (tmp / "fusion.json").write_text(json.dumps(fusion_params, indent=2))
    (tmp / "metrics.json").write_text(json.dumps({**metrics, **(extra_metrics or {})}, indent=2))
    (tmp / "VERSION").write_text(version + "\n")
    final = out_root / version
    tmp.rename(final)
    log.info("classifier %s written to %s", version, final)
    return final


# ---------------------------------------------------------------- loading


def latest_version_dir(root: Path | None = None) -> Path | None:
    """The newest complete artefact under ``root`` (has VERSION), or None."""
    root = Path(root or DEFAULT_MODEL_ROOT)
    if (root / "VERSION").exists():  # given a version dir directly
        return root
    if not root.is_dir():
        return None
    dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".") and (d / "VERSION").exists())
    return dirs[-1] if dirs else None


def load_engine(version_dir: Path, classes: list[ClassDef], encoder=None) -> tuple[Engine, str]:
    """Engine for the best available backend of an artefact: (engine, version).

    With an encoder whose name matches the artefact's, the e5 head is used;
    otherwise the TF-IDF fallback (the head of one encoder is meaningless on
    another encoder's vectors).
    """
    meta = json.loads((version_dir / "meta.json").read_text())
    params = json.loads((version_dir / "fusion.json").read_text())
    version = meta["version"]
    classes = demote(classes, meta.get("demoted_identifiers", {}))
    if encoder is not None and "e5" in params and meta.get("encoder") == encoder.name:
        h = np.load(version_dir / "head-e5.npz")
        head = Head([str(c) for c in h["classes"]], h["coef"], h["intercept"])
        c = np.load(version_dir / "centroids-e5.npz")
        first = {k.split(":", 1)[1]: c[k] for k in c.files if k.startswith("first:")}
        later = {k.split(":", 1)[1]: c[k] for k in c.files if k.startswith("later:")}
        eng = Engine("e5", encoder, classes, fusion.FusionParams.from_dict(params["e5"]), head, first, later)
        return eng, f"{version}+{encoder.name}"
    blob = pickle.loads((version_dir / "tfidf.pkl").read_bytes())
    enc = TfidfEncoder(blob["vectorizer"])
    eng = Engine("tfidf", enc, classes, fusion.FusionParams.from_dict(params["tfidf"]), blob["head"],
                 blob.get("first", {}), blob.get("later", {}))
    return eng, f"{version}+tfidf-fallback"
