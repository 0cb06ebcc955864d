"""The tick detector as it was before tick styles were measured (extractor c5).

Kept in the benchmark only, so ``python -m bench.ticks`` can print the old
detector beside the new one from the same pixels; the product reads ticks
with ``extractors.checkbox``. Group confidence was ``p1 × (1 − p2)`` of the
two inkiest boxes, each mapped by the absolute ramp :func:`tick_probability`.
"""

from __future__ import annotations

import numpy as np

TICK_THRESHOLD = 0.06
TICK_SURE = 0.16
DARK = 150


def tick_probability(ink: float) -> float:
    if ink <= TICK_THRESHOLD * 0.5:
        return 0.0
    if ink >= TICK_SURE:
        return 1.0
    return (ink - TICK_THRESHOLD * 0.5) / (TICK_SURE - TICK_THRESHOLD * 0.5)


def ink_in_box(gray: np.ndarray, box: list[float], shrink: float = 0.25) -> float:
    H, W = gray.shape
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * shrink, (y1 - y0) * shrink
    ix0, ix1 = int(max(0, x0 + dx)), int(min(W, x1 - dx))
    iy0, iy1 = int(max(0, y0 + dy)), int(min(H, y1 - dy))
    if ix1 <= ix0 or iy1 <= iy0:
        return 0.0
    return float((gray[iy0:iy1, ix0:ix1] < DARK).mean())


def find_frame(gray: np.ndarray, box: list[float], search: float = 0.8):
    H, W = gray.shape
    x0, y0, x1, y1 = box
    size = max(4.0, ((x1 - x0) + (y1 - y0)) / 2)
    wx0, wy0 = int(max(0, x0 - search * size)), int(max(0, y0 - search * size))
    wx1, wy1 = int(min(W, x1 + search * size)), int(min(H, y1 + search * size))
    d = gray[wy0:wy1, wx0:wx1] < DARK
    if d.shape[0] < size or d.shape[1] < size:
        return None
    p = np.pad(d, 1)
    d = np.max([p[i:i + d.shape[0], j:j + d.shape[1]] for i in range(3) for j in range(3)], axis=0).astype(np.float32)
    best = None
    for f in (0.85, 1.0, 1.15, 1.3):
        s_ = int(round(size * f))
        if s_ < 4 or s_ > min(d.shape):
            continue
        hc = np.cumsum(np.pad(d, ((0, 0), (1, 0))), axis=1)
        vc = np.cumsum(np.pad(d, ((1, 0), (0, 0))), axis=0)
        r = hc[:, s_:] - hc[:, :-s_]
        c = vc[s_:, :] - vc[:-s_, :]
        ny, nx = d.shape[0] - s_ + 1, d.shape[1] - s_ + 1
        score = (r[:ny, :nx] + r[s_ - 1:s_ - 1 + ny, :nx] + c[:ny, :nx] + c[:ny, s_ - 1:s_ - 1 + nx]) / (4 * s_)
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
    found = find_frame(gray, box)
    if found is None or found[1] < 0.6:
        return ink_in_box(gray, box, shrink=0.3)
    return ink_in_box(gray, found[0], shrink=0.24)


def read_box_ink(gray: np.ndarray, label_bbox: list[float], side: str = "left") -> float | None:
    """The old label-relative reader's interior ink (``read_box`` of c5)."""
    H, W = gray.shape
    x0, y0, x1, y1 = label_bbox
    h = max(y1 - y0, 4.0)
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
        return 0.0
    cols, rows = win.sum(axis=0), win.sum(axis=1)
    min_side = 0.8 * h
    vcols = [i for i, v in enumerate(cols) if v >= min_side * 0.7]
    hrows = [i for i, v in enumerate(rows) if v >= min_side * 0.7]
    found = False
    if len(vcols) >= 2 and len(hrows) >= 2:
        bx0, bx1 = _pair(vcols, min_side, 3.0 * h, prefer_last=(side == "left"))
        by0, by1 = _pair(hrows, min_side, 3.0 * h, prefer_last=False, near=(cy - wy0))
        if bx0 is not None and by0 is not None:
            found = True
            ax0, ax1, ay0, ay1 = bx0, bx1, by0, by1
    if not found:
        side_px = 1.3 * h
        if side == "left":
            ax1 = (x0 - 0.35 * h) - wx0
            ax0 = ax1 - side_px
        else:
            ax0 = (x1 + 0.35 * h) - wx0
            ax1 = ax0 + side_px
        ay0 = (cy - side_px / 2) - wy0
        ay1 = ay0 + side_px
    mx, my = max(2, int(0.18 * (ax1 - ax0))), max(2, int(0.18 * (ay1 - ay0)))
    ix0, ix1, iy0, iy1 = int(ax0 + mx), int(ax1 - mx), int(ay0 + my), int(ay1 - my)
    if ix1 <= ix0 or iy1 <= iy0:
        return None
    interior = win[max(0, iy0):iy1, max(0, ix0):ix1]
    return float(interior.mean()) if interior.size else 0.0


def _pair(idx, min_side, max_side, prefer_last, near=None):
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


def group_extra(inks: list[float]) -> tuple[int | None, float, bool]:
    """Old group decision: (index of the ticked option or None, p1 × (1 − p2), several ticked)."""
    ps = [tick_probability(i) for i in inks]
    order = sorted(range(len(ps)), key=lambda i: -ps[i])
    p1 = ps[order[0]]
    p2 = ps[order[1]] if len(ps) > 1 else 0.0
    if p1 < 0.5:
        return None, 0.0, False
    return order[0], p1 * (1 - p2), p2 >= 0.5
