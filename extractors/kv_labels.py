"""Features for labelling segments as question / answer / header / other.

A segment's label depends on its text (printed labels read like "Geburtsdatum:",
filled values like "12.03.1985"), its font (height, character width) and its
neighbours (a value usually sits right of or below a label). The text part is
the output of a :class:`~extractors.kv_model.HashedTextModel` (4 class
probabilities); neighbours contribute their own text probabilities.

Distances are in units of ``h`` (median word height of the page, pixels).

Beyond the segment itself and its direct neighbours, two feature groups help
to tell printed labels from filled-in values:

* page-relative font metrics (character width and height against the page's
  median and against the segments whose text reads like a label), row and
  column structure (position in the row, how many segments share the left or
  right edge) and text shape (checkbox glyphs, '@', number-only, ...);
* relational scores from the entity link model (``kv_features`` pair
  features): how good a value this segment would be for the best label
  candidate near it, and how good a label for the best value candidate.
"""

from __future__ import annotations

import re

import numpy as np

from .kv_data import LABELS
from .kv_features import pair_features

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

EXTRA_FEATURES = [
    "rel_char_w",  # char width / page median char width
    "rel_height",  # height / page median segment height
    "char_w_vs_q",  # char width / median of label-like segments (text p(question) > 0.5)
    "height_vs_q",
    "row_n",  # segments on the same row
    "row_idx",  # segments left of this one on its row
    "row_last",
    "col_x0",  # other segments sharing the left edge (within 0.5 h)
    "col_x1",  # ... the right edge
    "check",  # contains a checkbox glyph
    "at",
    "num_only",
    "starts_digit",
    "ends_dot",
    "ends_q",
    "alpha",
    "lower_first",
    "max_word",
    "below_p_question",
    "below_p_answer",
    "below_p_other",
    "left_colon_dist",  # distance to the nearest colon-terminated segment on the left
    "upper_words",
    "left2_p_question",
    "left2_p_answer",
]

REL_FEATURES = [
    "as_a_max",  # best link score with this segment as value (any key)
    "as_a_max_w",  # ... weighted by the key's text p(question)
    "as_a_key_pq",  # text p(question) of that best key
    "as_q_max",  # best link score with this segment as key
    "as_q_max_w",  # ... weighted by the value's text p(answer)
    "as_q_n",  # values scoring > 0.3 with this key
    "as_a_n",  # keys scoring > 0.3 with this value
]

LABEL_FEATURES = LABEL_FEATURES + EXTRA_FEATURES + REL_FEATURES

CHECKBOX_GLYPHS = set("□■☐☑☒✓✔✗✘○●◯◻◼")

_FAR = 50.0


def _share(text: str, pred) -> float:
    t = re.sub(r"\s", "", text)
    return sum(pred(c) for c in t) / len(t) if t else 0.0


def label_features(
    boxes: np.ndarray, texts: list[str], text_proba: np.ndarray, h: float, link_model=None
) -> np.ndarray:
    """Features per segment (LABEL_FEATURES). ``boxes`` (n, 4) pixels,
    ``text_proba`` (n, 4) in LABELS order; ``link_model`` scores pairs of
    ``kv_features.PAIR_FEATURES`` (without it the relational features are 0)."""
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)
    return np.concatenate(
        [
            _base_features(b, texts, text_proba, h),
            extra_features(b, texts, text_proba, h),
            relational_features(b, texts, text_proba, h, link_model),
        ],
        axis=1,
    )


_N_BASE = len(LABEL_FEATURES) - len(EXTRA_FEATURES) - len(REL_FEATURES)


def _base_features(b: np.ndarray, texts: list[str], text_proba: np.ndarray, h: float) -> np.ndarray:
    n = len(b)
    X = np.zeros((n, _N_BASE), dtype=np.float32)
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


def extra_features(boxes: np.ndarray, texts: list[str], text_proba: np.ndarray, h: float) -> np.ndarray:
    """EXTRA_FEATURES per segment: page-relative font, row/column structure, text shape."""
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)
    n = len(b)
    X = np.zeros((n, len(EXTRA_FEATURES)), dtype=np.float32)
    if n == 0:
        return X
    h = max(float(h), 1.0)
    hh = np.maximum(b[:, 3] - b[:, 1], 1.0)
    cw = (b[:, 2] - b[:, 0]) / np.maximum([len(t) for t in texts], 1) / h
    med_cw, med_h = float(np.median(cw)), float(np.median(hh))
    qm = text_proba[:, 0] > 0.5
    q_cw = float(np.median(cw[qm])) if qm.sum() >= 2 else med_cw
    q_h = float(np.median(hh[qm])) if qm.sum() >= 2 else med_h
    ov = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
    same_row = ov / np.minimum(hh[:, None], hh[None, :]) > 0.4
    np.fill_diagonal(same_row, False)
    xov = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0]) > 0
    gap_b = np.where(xov & (b[None, :, 1] >= b[:, None, 3] - 0.3 * h), b[None, :, 1] - b[:, None, 3], np.inf)
    np.fill_diagonal(gap_b, np.inf)
    left_of = same_row & (b[None, :, 0] < b[:, None, 0])
    gap_l = np.where(left_of, b[:, None, 0] - b[None, :, 2], np.inf)
    colon = np.array([t.rstrip().endswith(":") for t in texts])
    col_x0 = (np.abs(b[:, None, 0] - b[None, :, 0]) < 0.5 * h).sum(1) - 1
    col_x1 = (np.abs(b[:, None, 2] - b[None, :, 2]) < 0.5 * h).sum(1) - 1
    for i in range(n):
        t = texts[i]
        ws = t.split()
        row = np.nonzero(same_row[i])[0]
        n_left = int((b[row, 0] < b[i, 0]).sum())
        bi = int(np.argmin(gap_b[i]))
        has_b = bool(np.isfinite(gap_b[i, bi]) and gap_b[i, bi] < 4 * h)
        order = np.argsort(gap_l[i])
        l2 = int(order[1]) if n > 1 and np.isfinite(gap_l[i, order[1]]) else -1
        cl = np.where(left_of[i] & colon, gap_l[i], np.inf).min()
        X[i] = [
            cw[i] / max(med_cw, 1e-3),
            hh[i] / max(med_h, 1.0),
            cw[i] / max(q_cw, 1e-3),
            hh[i] / max(q_h, 1.0),
            len(row),
            n_left,
            n_left == len(row),
            col_x0[i],
            col_x1[i],
            any(c in CHECKBOX_GLYPHS for c in t),
            "@" in t,
            bool(re.fullmatch(r"[\d\s.,/:\-+()]+", t)),
            bool(t) and t[0].isdigit(),
            t.rstrip().endswith("."),
            t.rstrip().endswith("?"),
            _share(t, str.isalpha),
            bool(t) and t[0].islower(),
            max((len(w) for w in ws), default=0),
            text_proba[bi, 0] if has_b else 0.0,
            text_proba[bi, 1] if has_b else 0.0,
            text_proba[bi, 3] if has_b else 0.0,
            cl / h if np.isfinite(cl) else _FAR,
            float(np.mean([w[:1].isupper() for w in ws])) if ws else 0.0,
            text_proba[l2, 0] if l2 >= 0 else 0.0,
            text_proba[l2, 1] if l2 >= 0 else 0.0,
        ]
    return X


def relational_features(
    boxes: np.ndarray, texts: list[str], text_proba: np.ndarray, h: float, link_model=None
) -> np.ndarray:
    """REL_FEATURES: every segment is scored as value and as key of every other
    with the entity link model; zeros without a model or with < 2 segments."""
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)
    n = len(b)
    X = np.zeros((n, len(REL_FEATURES)), dtype=np.float32)
    if n < 2 or link_model is None:
        return X
    same = np.eye(n, dtype=bool)
    F = pair_features(b, texts, b, texts, np.zeros((0, 4)), h, same)  # rows: value, columns: key
    P = link_model.predict_proba(F.reshape(-1, F.shape[-1]))[:, 1].reshape(n, n)
    P[same] = 0.0
    pq, pa = text_proba[:, 0], text_proba[:, 1]
    best_key = P.argmax(1)
    X[:, 0] = P.max(1)
    X[:, 1] = (P * pq[None, :]).max(1)
    X[:, 2] = pq[best_key]
    X[:, 3] = P.max(0)
    X[:, 4] = (P * pa[:, None]).max(0)
    X[:, 5] = (P > 0.3).sum(0)
    X[:, 6] = (P > 0.3).sum(1)
    return X
