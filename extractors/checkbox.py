"""Checkbox tick detection from pixels (never from OCR text).

Given the box of an option's printed label, the checkbox is searched in a
window beside the label (left by default). Inside the window the box frame is
located from row/column ink projections; the *interior* (frame excluded) is
measured: the share of dark pixels is the tick evidence. Crosses, check marks,
typed "X" and filled boxes all raise it; an empty frame and scanner noise keep
it near 0.

Units: page pixels (same grid as the words), top-left origin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

#: interior ink share above which a box counts as ticked
TICK_THRESHOLD = 0.06
#: ink share at which we are practically certain it is ticked
TICK_SURE = 0.16
DARK = 150  # grey level below which a pixel is ink (0 = black)


@dataclass
class BoxReading:
    ink: float  # share of dark pixels inside the frame, 0..1
    bbox: list[float]  # the checkbox box found (or the window searched), pixels
    found_frame: bool


def _runs(profile: np.ndarray, need: float) -> list[int]:
    return [i for i, v in enumerate(profile) if v >= need]


def read_box(gray: np.ndarray, label_bbox: list[float], side: str = "left") -> BoxReading | None:
    """Measure the checkbox beside ``label_bbox`` in a greyscale page array."""
    H, W = gray.shape
    x0, y0, x1, y1 = label_bbox
    h = max(y1 - y0, 4.0)
    # expected box side ≈ 1.1–1.6 label heights; search a generous window
    cy = (y0 + y1) / 2
    wy0, wy1 = int(max(0, cy - 1.6 * h)), int(min(H, cy + 1.6 * h))
    if side == "left":
        wx0, wx1 = int(max(0, x0 - 3.2 * h)), int(max(0, x0 - 0.1 * h))
    else:
        wx0, wx1 = int(min(W, x1 + 0.1 * h)), int(min(W, x1 + 3.2 * h))
    if wx1 - wx0 < 3 or wy1 - wy0 < 3:
        return None
    win = gray[wy0:wy1, wx0:wx1] < DARK
    if not win.any():
        return BoxReading(0.0, [wx0, wy0, wx1, wy1], False)
    cols = win.sum(axis=0)
    rows = win.sum(axis=1)
    # frame lines: columns/rows whose ink run spans most of a box side
    min_side = 0.8 * h
    vcols = _runs(cols, min_side * 0.7)
    hrows = _runs(rows, min_side * 0.7)
    found = False
    if len(vcols) >= 2 and len(hrows) >= 2:
        # the box nearest the label: rightmost frame pair for "left" boxes
        bx0, bx1 = _pair(vcols, min_side, 3.0 * h, prefer_last=(side == "left"))
        by0, by1 = _pair(hrows, min_side, 3.0 * h, prefer_last=False, near=(cy - wy0))
        if bx0 is not None and by0 is not None:
            found = True
            ax0, ax1, ay0, ay1 = bx0, bx1, by0, by1
    if not found:
        # no frame visible (faint print or filled box): use the expected place
        side_px = 1.3 * h
        if side == "left":
            ax1 = (x0 - 0.35 * h) - wx0
            ax0 = ax1 - side_px
        else:
            ax0 = (x1 + 0.35 * h) - wx0
            ax1 = ax0 + side_px
        ay0 = (cy - side_px / 2) - wy0
        ay1 = ay0 + side_px
    # interior: shrink by the frame line width plus a margin (ticks in the frame don't count)
    mx = max(2, int(0.18 * (ax1 - ax0)))
    my = max(2, int(0.18 * (ay1 - ay0)))
    ix0, ix1 = int(ax0 + mx), int(ax1 - mx)
    iy0, iy1 = int(ay0 + my), int(ay1 - my)
    if ix1 <= ix0 or iy1 <= iy0:
        return None
    interior = win[max(0, iy0):iy1, max(0, ix0):ix1]
    ink = float(interior.mean()) if interior.size else 0.0
    return BoxReading(ink, [wx0 + ax0, wy0 + ay0, wx0 + ax1, wy0 + ay1], found)


def _pair(idx: list[int], min_side: float, max_side: float, prefer_last: bool, near: float | None = None):
    """Two frame-line positions ``min_side..max_side`` apart (merged adjacent runs)."""
    groups: list[list[int]] = []
    for i in idx:
        if groups and i - groups[-1][-1] <= 2:
            groups[-1].append(i)
        else:
            groups.append([i])
    centers = [(g[0], g[-1]) for g in groups]
    pairs = []
    for a in range(len(centers)):
        for b in range(a + 1, len(centers)):
            d = centers[b][0] - centers[a][1]
            if min_side * 0.6 <= d <= max_side:
                pairs.append((centers[a][0], centers[b][1]))
    if not pairs:
        return None, None
    if near is not None:
        pairs.sort(key=lambda p: abs((p[0] + p[1]) / 2 - near))
        return pairs[0]
    pairs.sort(key=lambda p: p[1])
    return pairs[-1] if prefer_last else pairs[0]


def to_gray(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("L"))


def tick_probability(ink: float) -> float:
    """Map interior ink share to P(ticked) — piecewise linear around the threshold."""
    if ink <= TICK_THRESHOLD * 0.5:
        return 0.0
    if ink >= TICK_SURE:
        return 1.0
    return (ink - TICK_THRESHOLD * 0.5) / (TICK_SURE - TICK_THRESHOLD * 0.5)


def ink_in_box(gray: np.ndarray, box: list[float], shrink: float = 0.25) -> float:
    """Ink share inside a known checkbox box (frame excluded by ``shrink`` per side)."""
    H, W = gray.shape
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * shrink, (y1 - y0) * shrink
    ix0, ix1 = int(max(0, x0 + dx)), int(min(W, x1 - dx))
    iy0, iy1 = int(max(0, y0 + dy)), int(min(H, y1 - dy))
    if ix1 <= ix0 or iy1 <= iy0:
        return 0.0
    return float((gray[iy0:iy1, ix0:ix1] < DARK).mean())


def find_frame(gray: np.ndarray, box: list[float], search: float = 0.8) -> tuple[list[float], float] | None:
    """The square checkbox frame best matching ``box`` nearby: (box, frame score 0..1).

    Slides square frames of ~the expected size over a window ``search`` × size
    around ``box`` and scores the share of ink on the four sides (integral
    sums; the ink is dilated by one pixel to tolerate line width and blur).
    Edition widget rectangles are often a few points off the printed square.
    """
    H, W = gray.shape
    x0, y0, x1, y1 = box
    size = max(4.0, ((x1 - x0) + (y1 - y0)) / 2)
    wx0, wy0 = int(max(0, x0 - search * size)), int(max(0, y0 - search * size))
    wx1, wy1 = int(min(W, x1 + search * size)), int(min(H, y1 + search * size))
    d = gray[wy0:wy1, wx0:wx1] < DARK
    if d.shape[0] < size or d.shape[1] < size:
        return None
    # 3x3 dilation without scipy
    p = np.pad(d, 1)
    d = np.max([p[i:i + d.shape[0], j:j + d.shape[1]] for i in range(3) for j in range(3)], axis=0).astype(np.float32)
    best = None
    for f in (0.85, 1.0, 1.15, 1.3):
        s_ = int(round(size * f))
        if s_ < 4 or s_ > min(d.shape):
            continue
        hc = np.cumsum(np.pad(d, ((0, 0), (1, 0))), axis=1)
        vc = np.cumsum(np.pad(d, ((1, 0), (0, 0))), axis=0)
        r = hc[:, s_:] - hc[:, :-s_]  # row segment sums, (H, W-s+1)
        c = vc[s_:, :] - vc[:-s_, :]  # column segment sums, (H-s+1, W)
        ny, nx = d.shape[0] - s_ + 1, d.shape[1] - s_ + 1
        score = (r[:ny, :nx] + r[s_ - 1:s_ - 1 + ny, :nx] + c[:ny, :nx] + c[:ny, s_ - 1:s_ - 1 + nx]) / (4 * s_)
        # prefer frames near the expected place when scores tie
        yy, xx = np.mgrid[0:ny, 0:nx]
        dist = np.hypot(xx + wx0 - x0, yy + wy0 - y0) / size
        score = score - 0.05 * dist
        k = int(np.argmax(score))
        ky, kx = divmod(k, nx)
        sc = float(score[ky, kx])
        if best is None or sc > best[1]:
            best = ([wx0 + kx, wy0 + ky, wx0 + kx + s_, wy0 + ky + s_], sc)
    return best


def ink_near_box(gray: np.ndarray, box: list[float]) -> float:
    """Ink inside the checkbox frame found near an expected ``box`` (see :func:`find_frame`).

    A frame whose sides are mostly ink is measured inside (24 % margin per
    side: the frame and ticks running over it don't count); without a clear
    frame the expected box itself is measured.
    """
    found = find_frame(gray, box)
    if found is None or found[1] < 0.6:
        return ink_in_box(gray, box, shrink=0.3)
    return ink_in_box(gray, found[0], shrink=0.24)
