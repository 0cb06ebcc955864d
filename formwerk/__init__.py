"""Formwerk core: data model, settings, storage, errors and the document layer."""

__version__ = "0.1.0"
