"""Group words into segments (candidate entities) by geometry.

Input: word boxes ``[x0, y0, x1, y1]`` in page pixels (top-left origin) and
texts. Every distance is measured in units of ``h``, the page's median word
height, so the rules do not depend on dpi.

Two steps:

1. Horizontal edges: each word is linked to its nearest right neighbour on the
   same text row (mutual nearest). A learned classifier (or, without a model,
   a gap rule) decides whether the edge joins one entity; "Name: Julian" has a
   small gap but two entities, which text cues (the colon) reveal.
2. Vertical edges: a segment is linked to the segment directly below it when
   they are left-aligned and close (labels that wrap onto a second line); a
   second classifier decides.

Segments are the connected components (union-find) of accepted edges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

H_EDGE_FEATURES = [
    "gap",
    "h_left",
    "h_right",
    "d_top",
    "d_bottom",
    "d_cy",
    "cw_left",  # mean char width / h: fonts of printed labels and filled values differ
    "cw_right",
    "left_colon",
    "left_punct",
    "right_upper",
    "right_digit",
    "left_digit",
    "left_len",
    "right_len",
    "right_paren",
    "left_upper_all",
]
# Text-model probabilities (kv_model.HashedTextModel over LABELS) of the two
# words: "Land | Angola" has a small gap but a label-like and a value-like word.
H_EDGE_TEXT_FEATURES = [f"{side}_p_{c}" for side in ("left", "right") for c in ("question", "answer", "header", "other")]
H_EDGE_FEATURES = H_EDGE_FEATURES + H_EDGE_TEXT_FEATURES
_N_H_BASE = len(H_EDGE_FEATURES) - len(H_EDGE_TEXT_FEATURES)

V_EDGE_FEATURES = [
    "gap_y",
    "d_x0",
    "d_x1",
    "h_up",
    "h_low",
    "w_up",
    "w_low",
    "up_colon",
    "up_hyphen",
    "low_lower",
    "up_words",
    "low_words",
    "low_colon",
    "up_digits",
    "low_digits",
    "cw_up",
    "cw_low",
]


@dataclass
class Segment:
    """Word indices (in reading order: top-to-bottom, left-to-right) and box."""

    word_ids: list[int]
    box: list[float]
    text: str


def median_height(boxes: np.ndarray) -> float:
    if len(boxes) == 0:
        return 1.0
    return max(float(np.median(boxes[:, 3] - boxes[:, 1])), 1.0)


def _digit_share(text: str) -> float:
    t = re.sub(r"\s", "", text)
    return sum(c.isdigit() for c in t) / len(t) if t else 0.0


def horizontal_edges(boxes: np.ndarray, h: float) -> list[tuple[int, int]]:
    """Mutual nearest left→right neighbours on the same text row."""
    n = len(boxes)
    if n < 2:
        return []
    b = boxes
    hh = np.maximum(b[:, 3] - b[:, 1], 1.0)
    ov = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
    same_row = ov / np.minimum(hh[:, None], hh[None, :]) > 0.5
    gap = b[None, :, 0] - b[:, None, 2]  # gap[i, j] = x0_j - x1_i
    right_of = same_row & (gap > -0.3 * h) & (b[None, :, 0] > b[:, None, 0])
    np.fill_diagonal(right_of, False)
    g = np.where(right_of, gap, np.inf)
    right = np.argmin(g, axis=1)
    has_right = np.isfinite(g[np.arange(n), right])
    left = np.argmin(g, axis=0)  # for each j, the nearest word on its left
    has_left = np.isfinite(g[left, np.arange(n)])
    return [
        (i, int(right[i]))
        for i in range(n)
        if has_right[i] and has_left[right[i]] and left[right[i]] == i and gap[i, right[i]] < 12 * h
    ]


def h_edge_features(
    boxes: np.ndarray, texts: list[str], edges: list[tuple[int, int]], h: float, word_proba: np.ndarray | None = None
) -> np.ndarray:
    """H_EDGE_FEATURES per edge; ``word_proba`` (n_words, 4) are the text-model
    probabilities of each word (zeros when not given)."""
    X = np.zeros((len(edges), len(H_EDGE_FEATURES)), dtype=np.float32)
    if word_proba is not None and len(edges):
        ii = np.array([i for i, _ in edges])
        jj = np.array([j for _, j in edges])
        X[:, _N_H_BASE:] = np.concatenate([word_proba[ii], word_proba[jj]], axis=1)
    for k, (i, j) in enumerate(edges):
        a, b = boxes[i], boxes[j]
        ta, tb = texts[i], texts[j]
        X[k, :_N_H_BASE] = [
            (b[0] - a[2]) / h,
            (a[3] - a[1]) / h,
            (b[3] - b[1]) / h,
            (b[1] - a[1]) / h,
            (b[3] - a[3]) / h,
            ((b[1] + b[3]) - (a[1] + a[3])) / 2 / h,
            (a[2] - a[0]) / max(len(ta), 1) / h,
            (b[2] - b[0]) / max(len(tb), 1) / h,
            ta.endswith(":"),
            bool(ta) and ta[-1] in ".;,)?!",
            bool(tb) and tb[0].isupper(),
            bool(tb) and tb[0].isdigit(),
            _digit_share(ta),
            len(ta),
            len(tb),
            tb.startswith("("),
            ta.isupper(),
        ]
    return X


def _union_find(n: int, edges: list[tuple[int, int]]) -> list[int]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in edges:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return [find(i) for i in range(n)]


def build_segments(boxes: np.ndarray, texts: list[str], groups: list[int]) -> list[Segment]:
    """Segments from a component id per word, words sorted top-to-bottom, left-to-right."""
    comp: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        comp.setdefault(g, []).append(i)
    h = median_height(boxes)
    segs = []
    for ids in comp.values():
        # reading order: row (quantised centre y) first, then x
        ids.sort(key=lambda i: (round((boxes[i, 1] + boxes[i, 3]) / 2 / h), boxes[i, 0]))
        bb = boxes[ids]
        box = [float(bb[:, 0].min()), float(bb[:, 1].min()), float(bb[:, 2].max()), float(bb[:, 3].max())]
        segs.append(Segment(ids, box, " ".join(texts[i] for i in ids)))
    segs.sort(key=lambda s: (s.box[1], s.box[0]))
    return segs


def vertical_edges(segs: list[Segment], h: float) -> list[tuple[int, int]]:
    """(upper, lower) pairs: lower starts within 1.2 h below upper and overlaps it in x."""
    out = []
    for i, s in enumerate(segs):
        best, best_gap = -1, np.inf
        for j, t in enumerate(segs):
            if j == i:
                continue
            gap = t.box[1] - s.box[3]
            if -0.3 * h < gap < 1.2 * h and min(s.box[2], t.box[2]) > max(s.box[0], t.box[0]) and gap < best_gap:
                best, best_gap = j, gap
        if best >= 0:
            out.append((i, best))
    return out


def v_edge_features(segs: list[Segment], edges: list[tuple[int, int]], h: float) -> np.ndarray:
    X = np.zeros((len(edges), len(V_EDGE_FEATURES)), dtype=np.float32)
    for k, (i, j) in enumerate(edges):
        a, b = segs[i], segs[j]
        ta, tb = a.text, b.text
        X[k] = [
            (b.box[1] - a.box[3]) / h,
            (b.box[0] - a.box[0]) / h,
            (b.box[2] - a.box[2]) / h,
            (a.box[3] - a.box[1]) / h,
            (b.box[3] - b.box[1]) / h,
            (a.box[2] - a.box[0]) / h,
            (b.box[2] - b.box[0]) / h,
            ta.endswith(":"),
            ta.endswith("-"),
            bool(tb) and tb[0].islower(),
            len(a.word_ids),
            len(b.word_ids),
            tb.endswith(":"),
            _digit_share(ta),
            _digit_share(tb),
            (a.box[2] - a.box[0]) / max(len(ta), 1) / h,
            (b.box[2] - b.box[0]) / max(len(tb), 1) / h,
        ]
    return X


def segment_words(
    boxes: np.ndarray,
    texts: list[str],
    h_model=None,
    v_model=None,
    h_threshold: float = 0.5,
    v_threshold: float = 0.5,
    text_model=None,
) -> list[Segment]:
    """Group words into segments.

    ``h_model`` / ``v_model`` have ``predict_proba(X)`` (e.g. a
    :class:`~extractors.kv_model.TreeEnsemble`); without them a gap rule is
    used: join words closer than 0.8 h unless the left word ends with ':'.
    ``text_model`` (``predict_proba(texts)`` over LABELS) supplies the word
    text features of ``h_model`` when it was trained with them.
    """
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    n = len(boxes)
    if n == 0:
        return []
    h = median_height(boxes)
    edges = horizontal_edges(boxes, h)
    if edges:
        uses_text = h_model is not None and len(getattr(h_model, "features", [])) > _N_H_BASE
        wp = text_model.predict_proba(texts) if uses_text and text_model is not None else None
        X = h_edge_features(boxes, texts, edges, h, wp)
        if h_model is not None:
            # features are only ever appended: an older model reads the first columns
            keep = h_model.predict_proba(X[:, : len(h_model.features)])[:, 1] >= h_threshold
        else:
            keep = (X[:, 0] < 0.8) & (X[:, 8] == 0)
        edges = [e for e, k in zip(edges, keep) if k]
    segs = build_segments(boxes, texts, _union_find(n, edges))
    if v_model is None:
        return segs
    vedges = vertical_edges(segs, h)
    if not vedges:
        return segs
    keep = v_model.predict_proba(v_edge_features(segs, vedges, h))[:, 1] >= v_threshold
    groups = list(range(n))
    word_edges = [(segs[i].word_ids[0], segs[j].word_ids[0]) for (i, j), k in zip(vedges, keep) if k]
    for s in segs:
        word_edges.extend((s.word_ids[0], w) for w in s.word_ids[1:])
    groups = _union_find(n, word_edges)
    return build_segments(boxes, texts, groups)
