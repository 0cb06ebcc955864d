"""Synthetic documents for tests and the benchmark (generated, never committed).

Public API::

    render_document(doc_type, seed, variant=None) -> SyntheticDocument
    scan_document(doc_or_pdf_bytes, profile, seed, fmt="pdf") -> bytes
    scan_pages(pdf_bytes, profile, seed, dpi=300) -> list[PIL.Image.Image]
    fill_real_form(doc_type, seed) -> SyntheticDocument | None

Truth uses the FORMS.md field names and normalised value types.
"""

from .document import FORMS_MD_TYPES, SyntheticDocument, available_types, render_document
from .realforms import fill_real_form
from .scan import PROFILES, scan_document, scan_pages

__all__ = [
    "FORMS_MD_TYPES",
    "PROFILES",
    "SyntheticDocument",
    "available_types",
    "fill_real_form",
    "render_document",
    "scan_document",
    "scan_pages",
]
