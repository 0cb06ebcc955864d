"""Classification metrics: accuracy, expected calibration error, unknown recall.

``probs`` is (N, K) with rows summing to 1, ``y`` (N,) the true column index,
``labels`` the K column names (one of them ``unknown``).
"""

from __future__ import annotations

import numpy as np

from classifiers.classes import UNKNOWN


def ece(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of the top-1 confidence (equal-width bins)."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(total)


def summary(probs: np.ndarray, y: np.ndarray, labels: list[str]) -> dict:
    """Accuracy, ECE, NLL, unknown recall/precision and per-class accuracy."""
    pred = probs.argmax(axis=1)
    n = len(y)
    out: dict = {"n": int(n)}
    if n == 0:
        return out
    out["accuracy"] = float((pred == y).mean())
    out["ece"] = ece(probs, y)
    out["nll"] = float(-np.log(np.clip(probs[np.arange(n), y], 1e-12, 1)).mean())
    if UNKNOWN in labels:
        u = labels.index(UNKNOWN)
        neg = y == u
        if neg.any():
            out["unknown_recall"] = float((pred[neg] == u).mean())
        if (pred == u).any():
            out["unknown_precision"] = float((y[pred == u] == u).mean())
        # known documents wrongly sent to "unknown" cost a review, not a wrong result
        known = ~neg
        if known.any():
            out["known_to_unknown"] = float((pred[known] == u).mean())
            wrong_known = (pred != y) & (pred != u)
            out["wrong_known_type"] = float(wrong_known.mean())
    per = {}
    for i, lab in enumerate(labels):
        m = y == i
        if m.any():
            per[lab] = {"n": int(m.sum()), "accuracy": float((pred[m] == i).mean())}
    out["per_class"] = per
    return out
