"""The project's own renderings of the form types (and negatives).

Each form module offers ``DOC_TYPE``, ``spec() -> FormSpec`` and
``make(fake) -> (truth, values)``; ``FORM_MODULES`` maps the doc type to it.
"""

from __future__ import annotations

from . import gewerbeanmeldung

FORM_MODULES = {
    gewerbeanmeldung.DOC_TYPE: gewerbeanmeldung,
}

# negatives: name -> callable(fake, variant) -> (doc_type, truth, pdf, variant)
NEGATIVE_TYPES: dict = {}
