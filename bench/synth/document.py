"""``SyntheticDocument`` and ``render_document``: one generated document.

Determinism: everything is derived from ``(doc_type, seed, variant)``; the
same arguments give the same PDF bytes (reportlab ``invariant`` mode, seeded
Faker and ``random.Random``).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

from .fake_data import FakeGermany
from .forms import FORM_MODULES
from .forms._layout import STYLES, render_form

# FORMS.md document type ids; anything else a generator produces is expected
# to be classified "unknown" (e.g. the GewA 3 Gewerbe-Abmeldung)
FORMS_MD_TYPES = ("gewerbeanmeldung", "wohngeld_mietzuschuss", "meldebehoerde_anmeldung",
                  "kindergeld_kg1", "invoice")


@dataclass
class SyntheticDocument:
    """A generated document and its ground truth.

    ``truth`` maps FORMS.md field names to normalised values; a key whose value
    is ``None`` names a field the applicant left blank (an extractor should
    return nothing for it).
    """

    doc_type: str  # FORMS.md id, or "invoice" / "unknown" / "gewerbeabmeldung"
    truth: dict[str, Any]
    pdf_bytes: bytes  # digital PDF with a text layer (or image-only for "noise")
    variant: str
    seed: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def expected_class(self) -> str:
        """The class a classifier should answer: a FORMS.md id or ``"unknown"``."""
        return self.doc_type if self.doc_type in FORMS_MD_TYPES else "unknown"

    @property
    def name(self) -> str:
        """A stable file stem, e.g. ``gewerbeanmeldung-boxed-0007``.

        Uses the generator name (``letter``, ``noise`` ...) rather than the
        doc type, so that two generators' documents never share a name.
        """
        return f"{self.meta.get('generator', self.doc_type)}-{self.variant}-{self.seed:04d}"


def _sub_seed(doc_type: str, seed: int) -> int:
    # why: seed 1 of two doc types should not share the same person
    return int.from_bytes(hashlib.sha256(f"{doc_type}:{seed}".encode()).digest()[:8], "big")


def available_types() -> list[str]:
    """All doc types ``render_document`` accepts."""
    from .forms import NEGATIVE_TYPES

    return sorted(FORM_MODULES) + sorted(NEGATIVE_TYPES)


def render_document(doc_type: str, seed: int, variant: str | None = None,
                    tick_style: str | None = None) -> SyntheticDocument:
    """Generate one digital document of ``doc_type`` from ``seed``.

    ``variant`` picks the layout style (``"boxed"``, ``"lined"``, ``"twocol"``
    for forms; see ``forms.negatives`` for the others); ``None`` lets the seed
    choose. ``tick_style`` (``bench.synth.ticks.TICK_STYLES``) draws the
    form's ticks in one applicant's style; ``None`` keeps the seed's own.
    """
    from .forms import NEGATIVE_TYPES

    fake = FakeGermany(_sub_seed(doc_type, seed))
    if doc_type in FORM_MODULES:
        mod = FORM_MODULES[doc_type]
        style = variant or fake.rng.choice(STYLES)
        truth, values = mod.make(fake)
        pdf = render_form(mod.spec(), values, random.Random(fake.rng.random()), style, tick_style)
        meta = {"generator": doc_type} if tick_style is None else {"generator": doc_type, "tick_style": tick_style}
        return SyntheticDocument(doc_type, truth, pdf, style, seed, meta)
    if doc_type in NEGATIVE_TYPES:
        real_type, truth, pdf, variant = NEGATIVE_TYPES[doc_type](fake, variant)
        return SyntheticDocument(real_type, truth, pdf, variant, seed, {"generator": doc_type})
    raise ValueError(f"unknown synthetic doc type {doc_type!r}; known: {available_types()}")
