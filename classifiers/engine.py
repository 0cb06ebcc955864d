"""The classifier's numeric core: vectors, head, features, probabilities.

An :class:`Engine` is one backend (``e5`` transformer embeddings, or the
``tfidf`` fallback) with its trained head and fusion parameters. It knows
nothing about Temporal, files or settings; ``classifiers.DocumentClassifier``
wraps it. Units are lists of page texts (a document, or a single page);
vectors of a unit are the L2-normalised mean of its non-blank pages' vectors
(each page clipped to ~512 tokens, see :mod:`classifiers.text`).
"""

from __future__ import annotations

import hashlib
import pickle
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from classifiers.classes import UNKNOWN, ClassDef
from classifiers.fusion import Features, FusionParams, predict_proba
from classifiers.identifiers import IdentifierMatcher
from classifiers.text import clip, is_blank


@dataclass
class Head:
    """Multinomial logistic regression ``softmax(X·coefᵀ + intercept)`` over ``classes``."""

    classes: list[str]
    coef: np.ndarray  # (C, D)
    intercept: np.ndarray  # (C,)

    @classmethod
    def from_sklearn(cls, lr) -> "Head":
        coef, b = np.asarray(lr.coef_, dtype=np.float32), np.asarray(lr.intercept_, dtype=np.float32)
        classes = [str(c) for c in lr.classes_]
        if len(classes) == 2:  # sklearn stores one row for binary problems
            coef, b = np.vstack([-coef[0] / 2, coef[0] / 2]), np.array([-b[0] / 2, b[0] / 2])
        return cls(classes, coef, b)

    def log_proba(self, X) -> np.ndarray:
        z = np.asarray(X @ self.coef.T) + self.intercept
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def encode_units(encoder, units: list[list[str]]):
    """(unit matrix, per-unit list of page row indices, page matrix, blank mask).

    Every page is encoded once; blank pages get zero vectors and do not count
    towards their unit's mean. A unit with only blank pages has a zero vector.
    """
    pages = [clip(p) for u in units for p in u]
    blank = np.array([is_blank(p) for p in pages], dtype=bool)
    idx, rows = [], 0
    for u in units:
        idx.append(list(range(rows, rows + len(u))))
        rows += len(u)
    todo = [i for i in range(len(pages)) if not blank[i]]
    enc = encoder.encode([pages[i] for i in todo]) if todo else None
    sparse = enc is not None and sp.issparse(enc)
    if enc is None:  # nothing readable: zero vectors of the encoder's width
        width = encoder.encode(["x"]).shape[1]
        P = np.zeros((len(pages), width), dtype=np.float32)
    else:
        # scatter encoded rows to their page positions (blank pages stay zero)
        S = sp.csr_matrix((np.ones(len(todo), np.float32), (todo, range(len(todo)))),
                          shape=(len(pages), len(todo)))
        P = (S @ enc).tocsr() if sparse else np.asarray(S @ enc, dtype=np.float32)
    # unit = mean of its non-blank pages (aggregation matrix keeps it sparse-friendly)
    A = sp.lil_matrix((len(units), len(pages)), dtype=np.float32)
    for u, ids in enumerate(idx):
        live = [i for i in ids if not blank[i]]
        for i in live:
            A[u, i] = 1.0 / len(live)
    U = A.tocsr() @ P
    U = normalize(U) if sparse else normalize(np.asarray(U))
    return U, idx, P, blank


@dataclass
class Engine:
    """One backend: encoder + head (optional) + fusion params + class prototypes."""

    kind: str  # "e5" or "tfidf"
    encoder: object  # has .encode(list[str]) and .name
    classes: list[ClassDef]
    fusion: FusionParams
    head: Head | None = None
    # per class: centroid of first pages and of later pages (for batch splitting)
    first_centroids: dict[str, np.ndarray] = field(default_factory=dict)
    later_centroids: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.class_ids = [c.id for c in self.classes]
        self.matcher = IdentifierMatcher(self.classes)
        protos = [c.prototype or c.title for c in self.classes]
        self.prototypes = self.encoder.encode([clip(p, 4000) for p in protos])

    @property
    def labels(self) -> list[str]:
        return [*self.class_ids, UNKNOWN]

    def trained_mask(self) -> np.ndarray:
        known = set(self.head.classes) if self.head else set()
        return np.array([c in known for c in self.class_ids], dtype=bool)

    def features(self, U, units: list[list[str]]) -> tuple[Features, list[dict[str, list[str]]]]:
        """Fusion features for unit vectors ``U`` and the units' page texts."""
        n, k = U.shape[0], len(self.class_ids)
        S = U @ self.prototypes.T
        sim = np.asarray(S.toarray() if sp.issparse(S) else S, dtype=np.float64).reshape(n, k)
        if self.head is not None:
            lp_all = self.head.log_proba(U)
            col = {c: i for i, c in enumerate(self.head.classes)}
            lp_unk = lp_all[:, col[UNKNOWN]] if UNKNOWN in col else np.zeros(n)
            lp = np.stack([lp_all[:, col[c]] if c in col else lp_unk for c in self.class_ids], axis=1)
        else:
            lp, lp_unk = np.zeros((n, k)), np.zeros(n)
        ident, strong = np.zeros((n, k)), np.zeros((n, k))
        reasons = []
        for u, pages in enumerate(units):
            scores, st, why = self.matcher.analyse(pages)
            ident[u] = [scores[c] for c in self.class_ids]
            strong[u] = [st[c] for c in self.class_ids]
            reasons.append(why)
        return Features(lp, lp_unk, ident, sim, self.trained_mask(), contradiction(strong)), reasons

    def proba(self, U, units: list[list[str]]) -> tuple[np.ndarray, list[dict[str, list[str]]]]:
        f, reasons = self.features(U, units)
        return predict_proba(f, self.fusion), reasons

    def first_page_score(self, page_vec, class_id: str) -> float | None:
        """cos(first-page centroid) − cos(later-page centroid), or None if unknown."""
        a, b = self.first_centroids.get(class_id), self.later_centroids.get(class_id)
        if a is None or b is None:
            return None
        v = page_vec.toarray().ravel() if sp.issparse(page_vec) else np.asarray(page_vec).ravel()
        return float(v @ a - v @ b)


def contradiction(strong: np.ndarray) -> np.ndarray:
    """o_k = max_{j≠k} strong_j · (1 − strong_k) for (N, K) strong-identifier scores."""
    n, k = strong.shape
    if k < 2:
        return np.zeros_like(strong)
    top2 = np.sort(strong, axis=1)[:, -2:]
    best_other = np.where(strong >= top2[:, [1]], top2[:, [0]], top2[:, [1]])
    return best_other * (1.0 - strong)


class LruEncoder:
    """In-memory LRU of page vectors (dense encoders).

    A worker classifies a document and then splits the same pages as a batch;
    each page should pass through the transformer once, not twice.
    """

    def __init__(self, encoder, size: int = 256):
        self.encoder = encoder
        self.name = encoder.name
        self.size = size
        self._mem: "OrderedDict[str, np.ndarray]" = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        with self._lock:
            todo = {k: t for k, t in zip(keys, texts) if k not in self._mem}
        if todo:
            vecs = self.encoder.encode(list(todo.values()))
            with self._lock:
                for k, v in zip(todo, vecs):
                    self._mem[k] = v
        with self._lock:
            out = []
            for k in keys:
                v = self._mem.get(k)
                if v is None:  # evicted by a concurrent call in between: recompute
                    v = self.encoder.encode([texts[keys.index(k)]])[0]
                self._mem[k] = v
                self._mem.move_to_end(k)
                out.append(v)
            while len(self._mem) > self.size:
                self._mem.popitem(last=False)
        return np.stack(out) if out else np.zeros((0, 1), np.float32)


class CachedEncoder:
    """Disk cache of embeddings by text hash (training runs re-embed the same texts).

    Only for dense encoders; the cache file is keyed by the encoder name, so a
    different model never reads another model's vectors.
    """

    def __init__(self, encoder, cache_dir: Path):
        self.encoder = encoder
        self.name = encoder.name
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.path = cache_dir / f"emb-{self.name.replace('/', '_')}.pkl"
        self._mem: dict[str, np.ndarray] = {}
        if self.path.exists():
            try:
                self._mem = pickle.loads(self.path.read_bytes())
            except Exception:
                self._mem = {}

    def encode(self, texts: list[str]) -> np.ndarray:
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        todo = sorted({k: t for k, t in zip(keys, texts) if k not in self._mem}.items())
        if todo:
            vecs = self.encoder.encode([t for _, t in todo])
            for (k, _), v in zip(todo, vecs):
                self._mem[k] = v
            tmp = self.path.with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps(self._mem))
            tmp.replace(self.path)
        return np.stack([self._mem[k] for k in keys]) if keys else np.zeros((0, 1), np.float32)
