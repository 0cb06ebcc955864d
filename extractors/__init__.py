"""Field extraction: catalogue-driven (AcroForm values, text-layer and OCR words).

Public API::

    from extractors import CatalogueExtractor
    ext = CatalogueExtractor(load_catalogue())
    extraction = ext.extract("gewerbeanmeldung", content, page_image)

``page_image(n)`` returns the upright rendering of page ``n`` (RGB or L, the
same pixel grid as the words) or ``None``; it is used for checkbox ticks.
The result has an ``ExtractedField`` for every catalogue field (value ``None``
and confidence 0 when not found). No temporalio imports below this package.

Inside, every way of reading a field is a strategy behind one protocol,
``extractors.readers.FieldReader`` (AcroForm values, invoice finders, known
editions' boxes, words relative to labels); the form definition's ``reader``
chooses the chain (``catalogue_extractor.CHAINS``). ``extractors.reader.
DocumentReader`` is the per-document state they share; second reads of boxes
go through the injected ``extractors.reocr.CropOcr`` engine.
"""

from extractors.catalogue_extractor import CatalogueExtractor

__all__ = ["CatalogueExtractor"]
