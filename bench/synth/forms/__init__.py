"""The project's own renderings of the form types (and negatives).

Each form module offers ``DOC_TYPE``, ``spec() -> FormSpec`` and
``make(fake) -> (truth, values)``; ``FORM_MODULES`` maps the doc type to it.
``NEGATIVE_TYPES`` maps the other generators' names to
``callable(fake, variant) -> (doc_type, truth, pdf_bytes, variant)``.
"""

from __future__ import annotations

from . import (
    gewerbeabmeldung,
    gewerbeanmeldung,
    kindergeld_kg1,
    meldebehoerde_anmeldung,
    negatives,
    wohngeld_mietzuschuss,
)

FORM_MODULES = {
    m.DOC_TYPE: m
    for m in (gewerbeanmeldung, wohngeld_mietzuschuss, meldebehoerde_anmeldung, kindergeld_kg1,
              gewerbeabmeldung)
}

NEGATIVE_TYPES = negatives.GENERATORS
