"""What a generated form is made of: its items, declared per form type.

A form is a list of *items* (headings, static text, rows of cells, tables)
that ``_layout.render_form`` lays out. The ``Cell.key`` of a text cell looks
up the *printed* string in the values; a ``Check`` looks up the selected
option id (or a set of ids).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass
class Cell:
    """A text field: number + printed label, value written into it."""

    num: str
    label: str | tuple[str, ...]  # alternatives: first is the official label
    key: str | None = None  # values key; None -> stays empty
    width: float = 1.0  # relative weight within its row
    lines: int = 1  # height in value lines


@dataclass
class Check:
    """A checkbox group: squares with the option label beside each."""

    num: str
    label: str | tuple[str, ...]
    key: str | None
    options: list[tuple[str, str]]  # (option id, printed option label)
    width: float = 1.0
    other_key: str | None = None  # free text written after the last option ("andere:")


@dataclass
class Heading:
    """A grey section bar; ``right`` is a second title starting mid-page."""

    text: str
    right: str = ""


@dataclass
class Note:
    """Static small print (instructions, legal notes)."""

    text: str
    size: float = 6.5


@dataclass
class Table:
    """A table with a header row; ``key`` names a list of row dicts in values."""

    num: str
    label: str
    key: str
    columns: list[tuple[str, str, float]]  # (header, row-dict key, width weight)
    rows: int = 4


Row = list[Union[Cell, Check]]
Item = Union[Heading, Note, Table, Row]


@dataclass
class FormSpec:
    """What a form looks like: header texts and its items."""

    title: str
    code: str = ""  # e.g. "GewA 1"
    subtitle: str = ""  # e.g. "nach § 14 GewO oder § 55c GewO"
    authority_label: str = "Name der entgegennehmenden Gemeinde"
    authority_key: str | None = "authority"
    items: list[Item] = field(default_factory=list)
    footer: str = ""
    instruction: str = ("Bitte vollständig und gut lesbar ausfüllen sowie die zutreffenden "
                        "Kästchen ankreuzen.")
