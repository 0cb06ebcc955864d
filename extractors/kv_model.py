"""Small, dependency-free model artefacts for key-value pairing.

Why not pickle: a pickled scikit-learn estimator breaks across scikit-learn
versions and can execute code when loaded. The learned parameters are instead
exported to plain JSON and evaluated with numpy:

* :class:`TreeEnsemble` — the trees of a fitted
  ``sklearn.ensemble.HistGradientBoostingClassifier`` (binary or multiclass);
  ``predict_proba`` reproduces scikit-learn's probabilities.
* :class:`HashedTextModel` — a logistic regression over hashed character
  n-grams of a text (crc32 hashing, so it is stable across processes).

Only ``from_sklearn`` / ``fit`` need scikit-learn (training time); loading and
predicting need numpy only.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

_PREC = 6  # significant digits kept in JSON; well below feature noise


def _r(values: np.ndarray) -> list[float]:
    return [float(f"{v:.{_PREC}g}") for v in values]


def f32_thresholds(values) -> list[float]:
    """Split thresholds as the smallest float32 >= each value, in their shortest
    decimal form. Features are float32, so for every feature value x,
    ``x <= t`` holds exactly when ``x <= f32(t)``: predictions are unchanged
    while the JSON stays short. Read back through float32 (see ``__init__``)."""
    t = np.asarray(values, dtype=float)
    t32 = t.astype(np.float32)
    low = t32.astype(float) < t
    t32[low] = np.nextafter(t32[low], np.float32(np.inf))
    return [float(np.format_float_positional(v, unique=True, trim="-")) if np.isfinite(v) else float(v) for v in t32]


class TreeEnsemble:
    """Gradient-boosted trees: ``raw = baseline + sum(tree(x))``, then sigmoid/softmax.

    JSON per tree: ``f`` split feature per node (-1 = leaf), ``x`` threshold
    (internal node; go left when ``x_feature <= threshold``) or value (leaf),
    ``r`` right child; ``l`` left child only when it is not the next node.
    """

    def __init__(self, baseline: list[float], trees: list[list[dict[str, list]]], features: list[str]):
        self.baseline = np.asarray(baseline, dtype=float)  # (n_outputs,)
        # trees[iteration][output], one per class (a single one for a binary model)
        self.trees = [[self._unpack(tree) for tree in per_iter] for per_iter in trees]
        self.features = list(features)

    @staticmethod
    def _unpack(tree: dict[str, list]) -> dict[str, np.ndarray]:
        f = np.asarray(tree["f"], dtype=int)
        x = np.asarray(tree["x"], dtype=float)
        leaf = f < 0
        return {
            "f": f,
            # thresholds are float32 values (see f32_thresholds); leaf values are not
            "t": np.where(leaf, 0.0, x.astype(np.float32).astype(float)),
            "v": np.where(leaf, x, 0.0),
            "l": np.asarray(tree["l"], dtype=int) if "l" in tree else np.arange(len(f)) + 1,
            "r": np.asarray(tree["r"], dtype=int),
            "x": x,
            **({"l_raw": np.asarray(tree["l"], dtype=int)} if "l" in tree else {}),
        }

    @classmethod
    def from_sklearn(cls, model: Any, features: list[str]) -> "TreeEnsemble":
        trees: list[list[dict]] = []
        for per_iter in model._predictors:  # noqa: SLF001 - documented attribute layout
            out = []
            for pred in per_iter:
                n = pred.nodes
                leaf = n["is_leaf"].astype(bool)
                tree = {
                    "f": np.where(leaf, -1, n["feature_idx"]).astype(int).tolist(),
                    # one number per node: the split threshold, or the leaf value
                    "x": [
                        v if not is_leaf else float(f"{lv:.{_PREC}g}")
                        for v, lv, is_leaf in zip(f32_thresholds(np.where(leaf, 0.0, n["num_threshold"])), n["value"], leaf)
                    ],
                    "r": n["right"].astype(int).tolist(),
                }
                # scikit-learn stores nodes depth-first: the left child follows its parent
                if not np.all(n["left"][~leaf] == np.nonzero(~leaf)[0] + 1):
                    tree["l"] = n["left"].astype(int).tolist()
                out.append(tree)
            trees.append(out)
        baseline = np.asarray(model._baseline_prediction, dtype=float).ravel()  # noqa: SLF001
        return cls(baseline.tolist(), trees, features)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "tree_ensemble",
            "features": self.features,
            "baseline": self.baseline.tolist(),
            "trees": [
                [
                    {"f": t["f"].tolist(), "x": t["x"].tolist(), "r": t["r"].tolist(), **({"l": t["l_raw"].tolist()} if "l_raw" in t else {})}
                    for t in per_iter
                ]
                for per_iter in self.trees
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TreeEnsemble":
        return cls(data["baseline"], data["trees"], data["features"])

    def raw(self, X: np.ndarray) -> np.ndarray:
        """Raw scores, shape (n, n_outputs). Features are rounded to float32, as in training."""
        X = np.asarray(X, dtype=np.float32).astype(float)
        n = X.shape[0]
        out = np.tile(self.baseline, (n, 1))
        rows = np.arange(n)
        for per_iter in self.trees:
            for k, t in enumerate(per_iter):
                node = np.zeros(n, dtype=int)
                while True:
                    f = t["f"][node]
                    active = f >= 0
                    if not active.any():
                        break
                    x = X[rows, np.maximum(f, 0)]
                    # x <= threshold goes left (scikit-learn's convention; NaN not expected)
                    nxt = np.where(x <= t["t"][node], t["l"][node], t["r"][node])
                    node = np.where(active, nxt, node)
                out[:, k] += t["v"][node]
        return out

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities, shape (n, n_classes) (2 columns for a binary model)."""
        raw = self.raw(X)
        if raw.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-np.clip(raw[:, 0], -50, 50)))
            return np.stack([1 - p, p], axis=1)
        e = np.exp(raw - raw.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def char_ngrams(text: str, n_min: int = 2, n_max: int = 4) -> list[str]:
    """Character n-grams of the lower-cased, space-padded text (digits folded to '0')."""
    t = " " + "".join("0" if c.isdigit() else c for c in text.lower().strip()) + " "
    grams = []
    for n in range(n_min, n_max + 1):
        grams.extend(t[i : i + n] for i in range(max(0, len(t) - n + 1)))
    return grams


class HashedTextModel:
    """Multinomial logistic regression on hashed character n-grams.

    ``predict_proba(texts)`` returns (n, n_classes) in the order of ``classes``.
    """

    def __init__(self, classes: list[str], coef: np.ndarray, intercept: np.ndarray, dim: int):
        self.classes = list(classes)
        self.coef = np.asarray(coef, dtype=float)  # (n_classes, dim)
        self.intercept = np.asarray(intercept, dtype=float)
        self.dim = int(dim)

    @staticmethod
    def vectorize(texts: list[str], dim: int, sparse: bool = False):
        """L2-normalised hashed n-gram counts, (n, dim); scipy CSR when ``sparse``."""
        rows, cols, vals = [], [], []
        for i, text in enumerate(texts):
            counts: dict[int, float] = {}
            for g in char_ngrams(text):
                k = zlib.crc32(g.encode("utf-8")) % dim
                counts[k] = counts.get(k, 0.0) + 1.0
            norm = float(np.sqrt(sum(v * v for v in counts.values()))) or 1.0
            for k, v in counts.items():
                rows.append(i)
                cols.append(k)
                vals.append(v / norm)
        if sparse:
            from scipy.sparse import csr_matrix

            return csr_matrix((vals, (rows, cols)), shape=(len(texts), dim), dtype=np.float64)
        X = np.zeros((len(texts), dim), dtype=np.float64)
        X[rows, cols] = vals
        return X

    @classmethod
    def fit(cls, texts: list[str], labels: list[str], classes: list[str], dim: int = 4096, C: float = 4.0) -> "HashedTextModel":
        from sklearn.linear_model import LogisticRegression

        X = cls.vectorize(texts, dim, sparse=True)
        y = np.array([classes.index(label) for label in labels])
        lr = LogisticRegression(C=C, solver="saga", max_iter=300, tol=1e-3, random_state=0).fit(X, y)
        coef = np.zeros((len(classes), dim))
        intercept = np.zeros(len(classes))
        coef[lr.classes_] = lr.coef_
        intercept[lr.classes_] = lr.intercept_
        return cls(classes, coef, intercept, dim)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        z = self.vectorize(texts, self.dim) @ self.coef.T + self.intercept
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "hashed_text_lr",
            "classes": self.classes,
            "dim": self.dim,
            "intercept": _r(self.intercept),
            "coef": [_r(row) for row in self.coef],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "HashedTextModel":
        return cls(data["classes"], np.asarray(data["coef"]), np.asarray(data["intercept"]), data["dim"])
