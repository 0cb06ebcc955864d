"""Features for labelling segments as question / answer / header / other.

A segment's label depends on its text (printed labels read like "Geburtsdatum:",
filled values like "12.03.1985"), its font (height, character width) and its
neighbours (a value usually sits right of or below a label). The text part is
the output of a :class:`~extractors.kv_model.HashedTextModel` (4 class
probabilities); neighbours contribute their own text probabilities.

Distances are in units of ``h`` (median word height of the page, pixels).
"""

from __future__ import annotations

import re

import numpy as np

from .kv_data import LABELS

LABEL_FEATURES = (
    [f"p_{c}" for c in LABELS]
    + [f"left_p_{c}" for c in LABELS]
    + [f"right_p_{c}" for c in LABELS]
    + [f"above_p_{c}" for c in LABELS]
    + [
        "height",
        "char_w",
        "width",
        "n_words",
        "n_chars",
        "digits",
        "upper",
        "colon_end",
        "colon_in",
        "first_upper",
        "x_rel",
        "y_rel",
        "gap_left",
        "gap_right",
        "gap_above",
        "gap_below",
        "left_colon",
        "n_same_row",
        "height_vs_left",
        "height_vs_right",
    ]
)

_FAR = 50.0


def _share(text: str, pred) -> float:
    t = re.sub(r"\s", "", text)
    return sum(pred(c) for c in t) / len(t) if t else 0.0


def label_features(boxes: np.ndarray, texts: list[str], text_proba: np.ndarray, h: float) -> np.ndarray:
    """Features per segment. ``boxes`` (n, 4) pixels, ``text_proba`` (n, 4) in LABELS order."""
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)
    n = len(b)
    X = np.zeros((n, len(LABEL_FEATURES)), dtype=np.float32)
    if n == 0:
        return X
    h = max(float(h), 1.0)
    hh = np.maximum(b[:, 3] - b[:, 1], 1.0)
    ov = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
    same_row = ov / np.minimum(hh[:, None], hh[None, :]) > 0.4
    np.fill_diagonal(same_row, False)
    gap_r = np.where(same_row & (b[None, :, 0] > b[:, None, 0]), b[None, :, 0] - b[:, None, 2], np.inf)
    gap_l = np.where(same_row & (b[None, :, 0] < b[:, None, 0]), b[:, None, 0] - b[None, :, 2], np.inf)
    xov = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0]) > 0
    gap_a = np.where(xov & (b[None, :, 3] <= b[:, None, 1] + 0.3 * h), b[:, None, 1] - b[None, :, 3], np.inf)
    gap_b = np.where(xov & (b[None, :, 1] >= b[:, None, 3] - 0.3 * h), b[None, :, 1] - b[:, None, 3], np.inf)
    for g in (gap_r, gap_l, gap_a, gap_b):
        np.fill_diagonal(g, np.inf)
    x_min, x_max = b[:, 0].min(), max(b[:, 2].max(), b[:, 0].min() + 1)
    y_min, y_max = b[:, 1].min(), max(b[:, 3].max(), b[:, 1].min() + 1)
    uniform = np.full(len(LABELS), 0.0)
    for i in range(n):
        t = texts[i]
        li, ri, ai = np.argmin(gap_l[i]), np.argmin(gap_r[i]), np.argmin(gap_a[i])
        has_l, has_r, has_a = np.isfinite(gap_l[i, li]), np.isfinite(gap_r[i, ri]), np.isfinite(gap_a[i, ai])
        has_b = np.isfinite(gap_b[i].min())
        X[i] = np.concatenate(
            [
                text_proba[i],
                text_proba[li] if has_l else uniform,
                text_proba[ri] if has_r else uniform,
                text_proba[ai] if has_a else uniform,
                [
                    hh[i] / h,
                    (b[i, 2] - b[i, 0]) / max(len(t), 1) / h,
                    (b[i, 2] - b[i, 0]) / h,
                    len(t.split()),
                    len(t),
                    _share(t, str.isdigit),
                    _share(t, str.isupper),
                    t.rstrip().endswith(":"),
                    ":" in t.rstrip()[:-1],
                    bool(t) and t[0].isupper(),
                    (b[i, 0] - x_min) / (x_max - x_min),
                    (b[i, 1] - y_min) / (y_max - y_min),
                    gap_l[i, li] / h if has_l else _FAR,
                    gap_r[i, ri] / h if has_r else _FAR,
                    gap_a[i, ai] / h if has_a else _FAR,
                    gap_b[i].min() / h if has_b else _FAR,
                    texts[li].rstrip().endswith(":") if has_l else 0,
                    same_row[i].sum(),
                    hh[i] / hh[li] if has_l else 1.0,
                    hh[i] / hh[ri] if has_r else 1.0,
                ],
            ]
        )
    return X
