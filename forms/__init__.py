"""Declarative form catalogue (one YAML per document type)."""

from forms.catalogue import (
    Catalogue,
    ChoiceOption,
    ColumnDefinition,
    CrossFieldRule,
    FieldDefinition,
    FormDefinition,
    load_catalogue,
)

__all__ = [
    "Catalogue",
    "ChoiceOption",
    "ColumnDefinition",
    "CrossFieldRule",
    "FieldDefinition",
    "FormDefinition",
    "load_catalogue",
]
