"""Plausibility of a read value against the form itself (no OCR involved).

A value region that slid onto printed text ("(ggf. bei", "Angaben zur
Eheschließung") reads as well as a real value, so OCR confidence alone cannot
catch it. Its words are the form's own vocabulary: the words of the labels,
stop labels and short ignore texts of the definition. :func:`label_likeness`
is the share of a value's words found there; ``extractors.confidence``
turns a high share into a low confidence (``LABEL_LIKE_*``).
"""

from __future__ import annotations

import re

from forms.catalogue import FormDefinition

#: ignore texts longer than this (instructions quoting example values such as
#: "z.B. Herstellung von Möbeln") do not count as label vocabulary
_MAX_IGNORE_WORDS = 6
_TOKEN = re.compile(r"[0-9A-Za-zÄÖÜäöüß]+")
#: words too common in values to be evidence of label text
_NEUTRAL = {"und", "von", "der", "die", "das", "des", "in", "im", "am", "an", "zu", "zur", "zum", "mit", "für"}


def _tokens(s: str) -> list[str]:
    return [t.casefold() for t in _TOKEN.findall(s)]


def label_vocabulary(form: FormDefinition) -> set[str]:
    """Lower-case words (3+ letters) of every printed text the definition names."""
    texts: list[str] = [form.title]
    for f in form.fields:
        texts += f.label + f.stop_labels + f.after
        texts += [t for t in f.ignore if len(t.split()) <= _MAX_IGNORE_WORDS]
        for c in f.columns:
            texts += c.label
    return {t for s in texts for t in _tokens(s) if len(t) >= 3 and not t.isdigit()} - _NEUTRAL


def label_likeness(value: str, vocab: set[str]) -> float:
    """Share (0..1) of the value's words that are words of the form's labels."""
    toks = [t for t in _tokens(value) if t not in _NEUTRAL and not t.isdigit()]
    if not toks:
        return 0.0
    return sum(t in vocab for t in toks) / len(toks)
