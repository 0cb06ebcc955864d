"""Geometric and text features of candidate (question, answer) pairs.

Units: every distance is divided by ``h``, the median word height of the page
(pixels), so the features do not depend on the dpi or the scan size. Boxes are
``[x0, y0, x1, y1]`` page pixels, top-left origin.

``pair_features`` returns an array of shape ``(n_answers, n_questions,
len(PAIR_FEATURES))``: row ``i``, column ``j`` describes "answer ``i`` belongs
to question ``j``". Rank features are computed among all questions of the page
for one answer (and among all answers for one question) because the decision is
relative: a label two lines above is right when nothing closer competes.
"""

from __future__ import annotations

import re

import numpy as np

PAIR_FEATURES = [
    "gap_x",  # A.x0 - Q.x1: >0 when the answer starts right of the question
    "gap_y",  # A.y0 - Q.y1: >0 when the answer starts below the question
    "dcx",
    "dcy",
    "d_x0",  # left-edge alignment
    "d_x1",  # right-edge alignment
    "y_overlap",  # overlap of the y ranges / smaller height
    "x_overlap",  # overlap of the x ranges / smaller width
    "box_dist",  # shortest distance between the boxes
    "rank_q",  # rank of this question by box_dist among the answer's questions
    "rank_a",  # rank of this answer by box_dist among the question's answers
    "rank_left",  # rank among questions on the same row, left of the answer (else 99)
    "rank_above",  # rank among questions above with x overlap (else 99)
    "rank_below",  # rank among questions below with x overlap (else 99)
    "n_between_q",  # other questions whose centre lies in the union box
    "n_between_a",  # other answers whose centre lies in the union box
    "n_between_o",  # other entities (header/other) in the union box
    "q_colon",  # question text ends with ':'
    "q_chars",
    "q_digits",  # share of digits in the question text
    "q_h",
    "q_w",
    "a_chars",
    "a_digits",
    "a_h",
    "a_w",
    "q_n_nearest",  # how many answers have this question as nearest candidate
    "n_q",  # number of questions on the page (log)
]

_NO_RANK = 99.0


def _digit_share(text: str) -> float:
    t = re.sub(r"\s", "", text)
    return sum(c.isdigit() for c in t) / len(t) if t else 0.0


def _ranks(dist: np.ndarray, mask: np.ndarray, axis: int) -> np.ndarray:
    """Rank (0 = closest) of each entry along ``axis`` among entries where ``mask``."""
    d = np.where(mask, dist, np.inf)
    order = np.argsort(d, axis=axis, kind="stable")
    ranks = np.empty_like(order)
    idx = np.arange(d.shape[axis])
    if axis == 1:
        np.put_along_axis(ranks, order, np.broadcast_to(idx, d.shape), axis=1)
    else:
        np.put_along_axis(ranks, order, np.broadcast_to(idx[:, None], d.shape), axis=0)
    return np.where(mask, ranks.astype(float), _NO_RANK)


def pair_features(
    q_boxes: np.ndarray,
    q_texts: list[str],
    a_boxes: np.ndarray,
    a_texts: list[str],
    o_boxes: np.ndarray,
    h: float,
    same: np.ndarray | None = None,
) -> np.ndarray:
    """Features for every (answer, question) pair of one page.

    ``q_boxes`` (nq, 4), ``a_boxes`` (na, 4), ``o_boxes`` (no, 4) hold the
    boxes of questions, answers and the other entities (headers, other text).
    ``h`` is the page's median word height in pixels. ``same`` (na, nq) marks
    pairs that are one and the same segment (when uncertain segments are
    candidates on both sides); such a segment must not compete with itself in
    ranks or be counted as lying between.
    """
    nq, na = len(q_boxes), len(a_boxes)
    out = np.zeros((na, nq, len(PAIR_FEATURES)), dtype=np.float32)
    if nq == 0 or na == 0:
        return out
    h = max(float(h), 1.0)
    Q = np.asarray(q_boxes, dtype=float)[None, :, :]  # (1, nq, 4)
    A = np.asarray(a_boxes, dtype=float)[:, None, :]  # (na, 1, 4)
    qh, qw = Q[..., 3] - Q[..., 1], Q[..., 2] - Q[..., 0]
    ah, aw = A[..., 3] - A[..., 1], A[..., 2] - A[..., 0]
    gap_x = A[..., 0] - Q[..., 2]
    gap_y = A[..., 1] - Q[..., 3]
    dcx = (A[..., 0] + A[..., 2] - Q[..., 0] - Q[..., 2]) / 2
    dcy = (A[..., 1] + A[..., 3] - Q[..., 1] - Q[..., 3]) / 2
    y_ov = np.minimum(A[..., 3], Q[..., 3]) - np.maximum(A[..., 1], Q[..., 1])
    x_ov = np.minimum(A[..., 2], Q[..., 2]) - np.maximum(A[..., 0], Q[..., 0])
    y_ovr = y_ov / np.maximum(np.minimum(ah, qh), 1.0)
    x_ovr = x_ov / np.maximum(np.minimum(aw, qw), 1.0)
    sep_x = np.maximum(0, np.maximum(Q[..., 0] - A[..., 2], A[..., 0] - Q[..., 2]))
    sep_y = np.maximum(0, np.maximum(Q[..., 1] - A[..., 3], A[..., 1] - Q[..., 3]))
    dist = np.hypot(sep_x, sep_y) / h
    dist = np.broadcast_to(dist, (na, nq))
    other = np.ones((na, nq), dtype=bool) if same is None else ~np.asarray(same, dtype=bool)

    all_q = other
    rank_q = _ranks(dist, all_q, axis=1)
    rank_a = _ranks(dist, all_q, axis=0)
    same_row = np.broadcast_to((y_ovr > 0.3) & (dcx > 0), (na, nq)) & other
    above = np.broadcast_to((x_ov > 0) & (dcy > 0), (na, nq)) & other
    below = np.broadcast_to((x_ov > 0) & (dcy < 0), (na, nq)) & other
    rank_left = _ranks(dist, same_row, axis=1)
    rank_above = _ranks(dist, above, axis=1)
    rank_below = _ranks(dist, below, axis=1)

    # Union box of each pair; count entity centres strictly inside it.
    ux0 = np.minimum(A[..., 0], Q[..., 0])
    uy0 = np.minimum(A[..., 1], Q[..., 1])
    ux1 = np.maximum(A[..., 2], Q[..., 2])
    uy1 = np.maximum(A[..., 3], Q[..., 3])

    def inside(boxes: np.ndarray) -> np.ndarray:
        if len(boxes) == 0:
            return np.zeros((na, nq))
        b = np.asarray(boxes, dtype=float)
        cx = ((b[:, 0] + b[:, 2]) / 2)[None, None, :]
        cy = ((b[:, 1] + b[:, 3]) / 2)[None, None, :]
        m = (
            (cx > ux0[..., None])
            & (cx < ux1[..., None])
            & (cy > uy0[..., None])
            & (cy < uy1[..., None])
        )
        return m.sum(axis=2).astype(float)

    # the pair's own boxes have their centres inside their union: subtract them
    n_bq = inside(q_boxes) - 1
    n_ba = inside(a_boxes) - 1
    if same is not None:
        # an answer that is also a question candidate lies in every union box of its row
        n_bq = n_bq - (~other).any(axis=1)[:, None]
        n_ba = n_ba - (~other).any(axis=0)[None, :]
    n_bo = inside(o_boxes)

    nearest = np.argmin(np.where(other, dist, np.inf), axis=1)
    q_n_nearest = np.bincount(nearest, minlength=nq).astype(float)[None, :]

    q_colon = np.array([t.rstrip().endswith(":") for t in q_texts], dtype=float)[None, :]
    q_chars = np.array([len(t) for t in q_texts], dtype=float)[None, :]
    q_dig = np.array([_digit_share(t) for t in q_texts])[None, :]
    a_chars = np.array([len(t) for t in a_texts], dtype=float)[:, None]
    a_dig = np.array([_digit_share(t) for t in a_texts])[:, None]

    cols = [
        gap_x / h,
        gap_y / h,
        dcx / h,
        dcy / h,
        (A[..., 0] - Q[..., 0]) / h,
        (A[..., 2] - Q[..., 2]) / h,
        y_ovr,
        x_ovr,
        dist,
        rank_q,
        rank_a,
        rank_left,
        rank_above,
        rank_below,
        n_bq,
        n_ba,
        n_bo,
        q_colon,
        q_chars,
        q_dig,
        qh / h,
        qw / h,
        a_chars,
        a_dig,
        ah / h,
        aw / h,
        q_n_nearest,
        np.full((1, 1), np.log1p(nq)),
    ]
    for k, c in enumerate(cols):
        out[..., k] = np.broadcast_to(c, (na, nq))
    return out
