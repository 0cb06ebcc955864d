"""Charts as server-side SVG: no JavaScript, no CDN, readable without colour.

Each chart is an ``<svg role="img">`` with a ``<title>`` (its accessible
name); the page puts a data table beside it for screen readers and for
exact numbers. Every text is escaped here; callers pass translated strings.
Units: SVG user units (the chart scales with its container's width).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

#: KERN-like colours with a contrast of at least 3:1 against white
COLOURS = {"straight_through": "#1b7a3d", "reviewed": "#1d4e89", "rejected": "#b0282d",
           "received": "#3f3f3f", "bar": "#1d4e89", "accent": "#b35c00"}


@dataclass
class Series:
    key: str  # attribute of each bucket, and the colour's name
    label: str


def _nice_max(value: float) -> float:
    """A round upper end for an axis (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1
    exp = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 5, 10):
        if value <= m * exp:
            return m * exp
    return 10 * exp


def _fmt(n: float) -> str:
    return f"{n:,.0f}".replace(",", "\u202f")


def stacked_bars(buckets, series: list[Series], x_label, title: str, testid: str,
                 width: int = 720, height: int = 220) -> Markup:
    """Vertical stacked bars, one per bucket; ``x_label(bucket, i)`` gives the tick text or ''."""
    left, right, top, bottom = 44, 8, 10, 42
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(getattr(b, s.key) for s in series) for b in buckets]
    step = max(1, _nice_max(max(totals, default=0) / 4))  # counts: whole-number ticks
    y_max = 4 * step
    n = max(1, len(buckets))
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.78)
    parts = [f'<svg class="fw-chart" data-testid="{escape(testid)}" viewBox="0 0 {width} {height + 22}" '
             f'role="img" aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">',
             f"<title>{escape(title)}</title>"]
    for i in range(5):  # grid lines and y ticks
        v = y_max * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="fw-chart__grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="fw-chart__tick">{_fmt(v)}</text>')
    for i, b in enumerate(buckets):
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h
        for s in series:
            v = getattr(b, s.key)
            if not v:
                continue
            h = plot_h * v / y_max
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="{COLOURS[s.key]}"><title>{escape(s.label)}: {v}</title></rect>')
        tick = x_label(b, i)
        if tick:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                         f'class="fw-chart__tick">{escape(tick)}</text>')
    lx = left
    for s in series:  # legend below the axis
        parts.append(f'<rect x="{lx}" y="{height + 4}" width="12" height="12" fill="{COLOURS[s.key]}"/>')
        parts.append(f'<text x="{lx + 16}" y="{height + 14}" class="fw-chart__legend">{escape(s.label)}</text>')
        lx += 24 + 8 * len(s.label)
    parts.append("</svg>")
    return Markup("".join(parts))


def hbars(rows: list[tuple[str, float, str]], title: str, testid: str, max_value: float | None = None,
          width: int = 720, colour: str = "bar") -> Markup:
    """Horizontal bars: (label, value, value text) per row, longest label on the left."""
    row_h, label_w, value_w = 26, 230, 110
    height = max(1, len(rows)) * row_h + 6
    top = max([v for _, v, _ in rows], default=0)
    scale_max = max_value if max_value is not None else _nice_max(top)
    plot_w = width - label_w - value_w
    parts = [f'<svg class="fw-chart" data-testid="{escape(testid)}" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">',
             f"<title>{escape(title)}</title>"]
    for i, (label, value, text) in enumerate(rows):
        y = 3 + i * row_h
        w = 0 if not scale_max else plot_w * min(value, scale_max) / scale_max
        short = label if len(label) <= 34 else label[:33] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" class="fw-chart__label">'
                     f"<title>{escape(label)}</title>{escape(short)}</text>")
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{plot_w}" height="{row_h - 8}" class="fw-chart__track"/>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" fill="{COLOURS[colour]}"/>')
        parts.append(f'<text x="{label_w + plot_w + 8}" y="{y + 17}" class="fw-chart__value">{escape(text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
