"""Checkbox tick detection from pixels (never from OCR text).

Given the box of an option's printed label, the checkbox is searched in a
window beside the label (left by default); given a registered widget box, the
printed frame is searched near it. Inside the frame (the frame line itself
excluded) the share of dark pixels is the tick evidence. Crosses, check marks,
typed "X" and filled boxes all raise it; an empty frame and scanner noise keep
it near 0.

A group is decided by how clearly one option stands out from the others
(:func:`decide_group`), not by an absolute ink level: a thin ✘ leaves far
less ink than a filled box, but both leave far more than the group's empty
boxes. A group whose inkiest box holds some ink but no tick is unread, not
empty (routing flags it).

Constants measured with ``python -m bench.ticks`` (real GewA 1, styles
form/thin cross/pen cross/check/filled/overlapping, office 300/200 dpi and
fax; tune seeds 20000-21802, held-out seeds 30000-32002 with circled labels
as an untuned style).

Units: page pixels (same grid as the words), top-left origin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

DARK = 150  # grey level below which a pixel is ink (0 = black)
#: share of the frame side left out on each side of the interior: the frame
#: line and its blur (7–9 % of the side at 200–300 dpi) stay outside
INNER_MARGIN = 0.14
#: without a visible frame the expected place is measured with a wider margin
NO_FRAME_MARGIN = 0.3
#: ink share of the inkiest box below which nothing counts as ticked
#: (tune set: empty boxes at most 0.007, the faintest clear ticks — thin ✘,
#: check marks — at least 0.126)
TICK_MIN = 0.05
#: a clear tick stands out from the second-inkiest box by at least MARGIN_SURE;
#: a lead below MARGIN_NONE is no evidence for one option over another
MARGIN_NONE = 0.02
MARGIN_SURE = 0.10
#: a second box with at least this share of the best box's ink is ticked too;
#: the group's factor is then at most MULTIPLE_CAP (calibrated ≈ 0.39: review)
SECOND_TICK_SHARE = 0.5
MULTIPLE_CAP = 0.4
#: frame sizes tried around the place a label points to, as shares of the place's side
LABEL_FRAME_SCALES = (0.7, 0.85, 1.0, 1.15, 1.3, 1.5, 1.75)
#: an unticked group whose inkiest box holds more than this (empty boxes: at
#: most 0.007 on fax, 0 on office scans) is not "empty" but unread: its
#: confidence is EMPTY_DOUBT (> 0: routing flags it). Ink around a box was
#: measured too and dropped: the printed form's own lines and labels beside
#: some boxes differ by up to 0.2 between empty boxes, more than a pen adds.
EMPTY_INK_DOUBT = 0.012
EMPTY_DOUBT = 0.3
#: :func:`ink_across_border`: window reach, frame-line band and gap, as shares of the box side
BORDER_REACH = 0.8
FRAME_BAND = 0.12
BORDER_GAP = 0.15
#: a row (column) inked over this share of the window is a printed rule
RULE_SHARE = 0.6
#: a group without a tick inside any box is read from the ink joined to its
#: frames (a cross bigger than its box, a check mark clipping a corner, a
#: circle around the label passing the box): the leading box needs at least
#: BORDER_MIN, and its lead over the second box ramps the group's factor from
#: BORDER_LEAD_NONE to BORDER_LEAD_SURE (dev: bench.ticks tune seeds 20000-22101,
#: styles form/check/overlap/circled: unticked boxes at most 0.03 (printed text
#: on two sides, fax) unless a circle around a neighbour's label crosses them;
#: ticked boxes of groups with no tick inside 0.03-0.16, median 0.08)
BORDER_MIN = 0.04
BORDER_LEAD_NONE = 0.02
BORDER_LEAD_SURE = 0.06
# kept for callers of the absolute ramp (one box on its own, no group)
TICK_THRESHOLD = 0.06
TICK_SURE = 0.16


@dataclass
class BoxReading:
    ink: float  # share of dark pixels inside the frame, 0..1
    bbox: list[float]  # the checkbox box found (or the window searched), pixels
    found_frame: bool
    border: float = 0.0  # pen ink joined to the frame outside it (:func:`ink_across_border`), 0..1


def ink_across_border(gray: np.ndarray, box: list[float]) -> float:
    """Ink outside a checkbox frame that is joined to the frame: a mark crossing its border.

    Printed labels and lines beside a box differ from box to box by more than
    a pen adds (up to 0.17 of a band around an empty box on the GewA 1), so
    ink around a box is no evidence by itself. A pen stroke that crosses the
    border is *joined* to the frame; printed text stands apart from it. In a
    window ``BORDER_REACH`` sides around the box, rows and columns that are
    mostly ink (printed rules, which may touch a frame) are left out; the
    connected dark components that touch the frame line are kept and their
    pixels beyond ``BORDER_GAP`` of the side outside the frame counted per
    side (above, below, left, right). The inkiest side is left out: a stroke
    across the border leaves on two sides at least, printed text touching a
    frame (fax, 200 dpi) on one. Returns the rest over the box's area (0 for
    an empty frame).
    """
    from scipy import ndimage

    H, W = gray.shape
    x0, y0, x1, y1 = box
    s = max(4.0, ((x1 - x0) + (y1 - y0)) / 2)
    r = BORDER_REACH * s
    wx0, wy0, wx1, wy1 = int(max(0, x0 - r)), int(max(0, y0 - r)), int(min(W, x1 + r)), int(min(H, y1 + r))
    if wx1 - wx0 < 4 or wy1 - wy0 < 4:
        return 0.0
    d = gray[wy0:wy1, wx0:wx1] < DARK
    bx0, by0, bx1, by1 = x0 - wx0, y0 - wy0, x1 - wx0, y1 - wy0
    yy, xx = np.mgrid[0:d.shape[0], 0:d.shape[1]]
    inside_box = (xx >= bx0) & (xx < bx1) & (yy >= by0) & (yy < by1)
    # printed rules: long rows/columns of ink outside the box itself
    outside = d & ~inside_box
    d = d.copy()
    d[outside.mean(axis=1) >= RULE_SHARE, :] = False
    d[:, outside.mean(axis=0) >= RULE_SHARE] = False
    # the frame line: a band of ±FRAME_BAND sides around the box's edges
    fb = FRAME_BAND * s
    near = ((xx >= bx0 - fb) & (xx < bx1 + fb) & (yy >= by0 - fb) & (yy < by1 + fb))
    core = ((xx >= bx0 + fb) & (xx < bx1 - fb) & (yy >= by0 + fb) & (yy < by1 - fb))
    frame_band = near & ~core
    lab, n = ndimage.label(d, structure=np.ones((3, 3), bool))
    if n == 0:
        return 0.0
    joined = np.unique(lab[frame_band & d])
    joined = joined[joined > 0]
    if joined.size == 0:
        return 0.0
    g = BORDER_GAP * s
    mark = np.isin(lab, joined)
    above, below = yy < by0 - g, yy >= by1 + g
    level = ~above & ~below
    sides = [int((mark & m).sum()) for m in (above, below, level & (xx < bx0 - g), level & (xx >= bx1 + g))]
    # a stroke across the border leaves the box on two sides at least (a cross on
    # four, a check mark's vertex and arm, a circle in and out); printed text
    # touching the frame on one side is the inkiest side and left out
    return float((sum(sides) - max(sides)) / max(1.0, (x1 - x0) * (y1 - y0)))


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
    if ax1 - ax0 < 3 or ay1 - ay0 < 3:
        return None
    # the projections find a frame only when its lines dominate their rows and
    # columns; a label printed lower or higher than its box, a tick over the
    # frame or a two-line label defeat them. The square frame search of the
    # registered path, started from this place, settles where the box is.
    place = [float(wx0 + ax0), float(wy0 + ay0), float(wx0 + ax1), float(wy0 + ay1)]
    # a label's height says little about its box's size (0.6–2 × on real forms)
    refined = find_frame(gray, place, scales=LABEL_FRAME_SCALES)
    clear_of_label = refined is not None and (refined[0][2] <= x0 + 0.1 * h if side == "left"
                                              else refined[0][0] >= x1 - 0.1 * h)
    if refined is not None and refined[1] >= 0.6 and clear_of_label:
        box = [float(v) for v in refined[0]]
        return BoxReading(ink_in_box(gray, box, shrink=INNER_MARGIN), box, True, ink_across_border(gray, box))
    margin = INNER_MARGIN + 0.01 if found else NO_FRAME_MARGIN
    return BoxReading(ink_in_box(gray, place, shrink=margin), place, found, ink_across_border(gray, place))


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


def find_frame(gray: np.ndarray, box: list[float], search: float = 0.8,
               scales: tuple[float, ...] = (0.85, 1.0, 1.15, 1.3)) -> tuple[list[float], float] | None:
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
    for f in scales:
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


def read_known_box(gray: np.ndarray, box: list[float]) -> BoxReading:
    """The checkbox frame found near an expected ``box`` (see :func:`find_frame`), measured inside.

    A frame whose sides are mostly ink is measured inside (``INNER_MARGIN``
    per side: the frame and ticks running over it don't count); without a
    clear frame the expected box itself is measured (``NO_FRAME_MARGIN``).
    """
    found = find_frame(gray, box)
    if found is None or found[1] < 0.6:
        return BoxReading(ink_in_box(gray, box, shrink=NO_FRAME_MARGIN), [float(v) for v in box], False,
                          ink_across_border(gray, box))
    fb = [float(v) for v in found[0]]
    return BoxReading(ink_in_box(gray, fb, shrink=INNER_MARGIN), fb, True, ink_across_border(gray, fb))


def ink_near_box(gray: np.ndarray, box: list[float]) -> float:
    """Interior ink share of the frame near ``box`` (:func:`read_known_box`)."""
    return read_known_box(gray, box).ink


@dataclass
class GroupDecision:
    """How a group of option boxes reads: which option is ticked and how clearly."""

    index: int | None  # the ticked option's position in the readings (None: nothing ticked)
    extra: float  # confidence factor in [0, 1]: how clearly it stands out (see decide_group)
    multiple: bool = False  # a second box is ticked too
    empty_confidence: float = 0.0  # nothing ticked: 0 = clearly empty, > 0 = unread (review)


def _ramp(x: float, lo: float, hi: float) -> float:
    return min(1.0, max(0.0, (x - lo) / (hi - lo)))


def decide_group(readings: list[BoxReading]) -> GroupDecision:
    """The ticked option of a group from its boxes' readings, style-independent.

    The inkiest box is the tick when it holds at least ``TICK_MIN``; its
    confidence factor is its lead over the second-inkiest box, ramped from
    ``MARGIN_NONE`` (no lead) to ``MARGIN_SURE`` (a clear tick of any style).
    A second box with ``SECOND_TICK_SHARE`` of the best box's ink (and above
    ``TICK_MIN``) is a second tick. Without a tick inside any box, the ink
    joined to the frames from outside decides (:func:`_decide_by_border`).
    Nothing ticked is a clean "empty" only when no box holds ink
    (``EMPTY_INK_DOUBT``) and no mark crosses a frame.
    """
    if not readings:
        return GroupDecision(None, 0.0)
    inks = [r.ink for r in readings]
    order = sorted(range(len(inks)), key=lambda i: -inks[i])
    e1 = inks[order[0]]
    e2 = inks[order[1]] if len(inks) > 1 else 0.0
    if e1 < TICK_MIN:
        across = _decide_by_border(readings)
        if across is not None:
            return across
        return GroupDecision(None, 0.0, empty_confidence=EMPTY_DOUBT if e1 > EMPTY_INK_DOUBT else 0.0)
    multiple = e2 >= TICK_MIN and e2 >= SECOND_TICK_SHARE * e1
    extra = _ramp(e1 - e2, MARGIN_NONE, MARGIN_SURE)
    # two ticks: which one is meant is the applicant's to say, never accepted unseen
    return GroupDecision(order[0], min(extra, MULTIPLE_CAP) if multiple else extra, multiple)


def _decide_by_border(readings: list[BoxReading]) -> GroupDecision | None:
    """A group whose boxes hold no tick inside, read from the ink crossing their frames.

    The box with the most ink joined to its frame from outside
    (:attr:`BoxReading.border`) is the mark when it holds ``BORDER_MIN``; the
    factor is its lead over the second box, ramped from ``BORDER_LEAD_NONE``
    to ``BORDER_LEAD_SURE``, so a circle that passes two boxes, or a stroke
    over two frames, stays unclear. None when no frame is crossed: the
    caller's empty / unread verdict stands. An unclear lead is returned as
    the leading option at a low factor (review), never as "empty".
    """
    bs = [r.border for r in readings]
    order = sorted(range(len(bs)), key=lambda i: -bs[i])
    b1 = bs[order[0]]
    b2 = bs[order[1]] if len(bs) > 1 else 0.0
    if b1 < BORDER_MIN:
        return None
    extra = _ramp(b1 - b2, BORDER_LEAD_NONE, BORDER_LEAD_SURE)
    # a box with more ink inside than the crossed one contradicts it
    if any(readings[i].ink > readings[order[0]].ink + MARGIN_NONE for i in order[1:]):
        extra = min(extra, MULTIPLE_CAP)
    if b2 >= BORDER_MIN and b2 >= SECOND_TICK_SHARE * b1:  # two frames crossed: which is meant is unclear
        extra = min(extra, MULTIPLE_CAP)
    return GroupDecision(order[0], extra)
