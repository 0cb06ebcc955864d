"""Fill the real AcroForms in /work/shared/data/forms (placeholder, see below)."""

from __future__ import annotations


def fill_real_form(doc_type: str, seed: int):
    return None
