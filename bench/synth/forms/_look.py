"""The random look of one generated document: fill-in fonts, offsets, tick style.

Drawn once per document from the seed's ``random.Random``
(:meth:`Look.draw`), so output stays deterministic per seed.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import reportlab
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

_RL_FONTS = os.path.join(os.path.dirname(reportlab.__file__), "fonts")
# (name, path) candidates for the fill-in font; reportlab's own Vera fonts and
# the PDF core font Courier are always there, system fonts only when installed
_FILL_CANDIDATES = [
    ("Courier", None),
    ("VeraIt", os.path.join(_RL_FONTS, "VeraIt.ttf")),
    ("DejaVuSansMono", "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"),
    ("DejaVuSerifItalic", "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Italic.ttf"),
    ("LiberationMono", "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf"),
    ("LiberationSansNarrowItalic",
     "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Italic.ttf"),
]


def fill_fonts() -> list[str]:
    """Names of the usable fill-in fonts (registered on first call)."""
    names = []
    for name, path in _FILL_CANDIDATES:
        if path is None:
            names.append(name)
        elif os.path.exists(path):
            if name not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont(name, path))
            names.append(name)
    return names


@dataclass
class Look:
    """Per-document random look, drawn once from the seed."""

    style: str
    dx: float
    dy: float
    label_size: float
    fill_font: str
    fill_size: float
    tick: str  # "cross" | "check" | "fill" | "x"; or an applicant's style of bench.synth.ticks (render_form)
    row_scale: float
    label_pick: int

    @classmethod
    def draw(cls, rng: random.Random, style: str) -> "Look":
        return cls(
            style=style,
            dx=rng.uniform(-12, 12),
            dy=rng.uniform(-10, 10),
            label_size=rng.choice([6.5, 7.0, 7.5]),
            fill_font=rng.choice(fill_fonts()),
            fill_size=rng.uniform(9.5, 11.5),
            tick=rng.choice(["cross", "check", "fill", "x"]),
            row_scale=rng.uniform(0.95, 1.15),
            label_pick=rng.randrange(4),
        )


def pick_label(label: str | tuple[str, ...], look: Look) -> str:
    """The label variant this document prints (the first is the official one)."""
    if isinstance(label, str):
        return label
    return label[look.label_pick % len(label)]
