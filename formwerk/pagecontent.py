"""Stored page contents (``PageContent`` JSON in the blob store), loaded as a step needs them.

A filled form's text-layer pages are stored without their words
(``PageContent.words_deferred``): the form is read from its fields, and the
words of its printed pages were most of the time a filled digital form took.
Whoever needs them (a classification the fields do not settle, a field the
form's own fields do not hold, the pairing of an unknown document, training)
loads the pages with ``words=True`` and gets them read from the original.
"""

from __future__ import annotations

from formwerk.documents.pdf import text_layer_words
from formwerk.models import PageContent
from formwerk.storage import BlobStore


def load_pages(blobs: BlobStore, keys: list[str], words: bool = True) -> list[PageContent]:
    """The pages stored under ``keys``, in order; ``words``: deferred words read now."""
    pages = [PageContent.model_validate_json(blobs.get(k)) for k in keys]
    if words:
        fill_deferred_words(blobs, pages)
    return pages


def fill_deferred_words(blobs: BlobStore, pages: list[PageContent]) -> None:
    """Read the words of deferred pages from their original (one opening per original)."""
    by_source: dict[str, list[PageContent]] = {}
    for p in pages:
        if p.words_deferred and p.source_key:
            by_source.setdefault(p.source_key, []).append(p)
    for source_key, group in by_source.items():
        read = text_layer_words(blobs.get(source_key), {p.page: p.dpi for p in group})
        for p in group:
            p.words, p.words_deferred = read[p.page], False
