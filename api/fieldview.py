"""Fields as the clerk sees and edits them, and back.

A value is shown the way it is printed on German forms (``14.02.1986``, not
the ISO date of the result), and what a clerk types is normalised and checked
by the same normalisers and validators the pipeline uses
(``extractors.normalise``, ``extractors.validators``), so a correction is
held to the same rules as a machine reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from extractors.normalise import normalise
from extractors.validators import run_validators
from forms.catalogue import FieldDefinition, FormDefinition
from formwerk.models import CaseResult, ExtractedField


def display(type_: str, value: Any) -> str:
    """A normalised value as a clerk would write it."""
    if value is None:
        return ""
    if type_ == "date" and isinstance(value, str) and len(value) == 10 and value[4] == "-":
        y, m, d = value.split("-")
        return f"{d}.{m}.{y}"
    if type_ == "bool":
        return "true" if value else "false"
    return str(value)


@dataclass
class Checked:
    """A typed value after normalisation and validation."""

    value: Any
    messages: list[str] = field(default_factory=list)  # German, from the validators
    unparseable: bool = False

    @property
    def ok(self) -> bool:
        return not self.messages and not self.unparseable


def check(type_: str, validators: list[str], text: str, today: date | None = None) -> Checked:
    """Normalise ``text`` as ``type_`` and run the field's validators."""
    text = (text or "").strip()
    if text == "":
        return Checked(value=None)
    if type_ == "bool":
        value = {"true": True, "false": False}.get(text)
        return Checked(value=value, unparseable=value is None)
    value = normalise(type_, text)
    if value is None:
        return Checked(value=None, unparseable=True)
    issues = run_validators(type_, validators, value, today)
    return Checked(value=value, messages=[i.message for i in issues])


@dataclass
class Column:
    name: str
    label: str
    type: str


@dataclass
class FieldView:
    """One field of the case screen."""

    name: str
    label: str
    type: str
    validators: list[str]
    machine: ExtractedField
    text: str = ""  # the machine value as displayed (what Esc restores)
    flagged: bool = False
    reasons: list[str] = field(default_factory=list)  # review reason codes naming this field
    options: list[tuple[str, str]] = field(default_factory=list)  # (id, label) of a choice
    columns: list[Column] = field(default_factory=list)  # a table's columns
    rows: list[dict[str, str]] = field(default_factory=list)  # a table's rows, displayed

    @property
    def box(self) -> dict[str, Any] | None:
        b = self.machine.bbox
        if not b or self.machine.page is None:
            return None
        return {"page": self.machine.page, "x0": b[0], "y0": b[1], "x1": b[2], "y1": b[3]}


def field_label(form: FormDefinition | None, name: str, t=None) -> str:
    """The field's name in the UI language; else its printed label without the form's numbering."""
    if t is not None and t.has(f"field.{name}"):
        return t(f"field.{name}")
    if form is not None:
        try:
            fd = form.field(name)
        except KeyError:
            fd = None
        if fd is not None and fd.label:
            return re.sub(r"^\d+[a-z]?\s+", "", fd.label[0]).rstrip(":* ")
    return name.replace("_", " ").capitalize()


def _definition(form: FormDefinition | None, name: str) -> FieldDefinition | None:
    if form is None:
        return None
    try:
        return form.field(name)
    except KeyError:
        return None


def field_views(case: CaseResult, form: FormDefinition | None, t=None) -> list[FieldView]:
    """The case's fields in form order, flagged ones first (each group in form order)."""
    order = {n: i for i, n in enumerate(form.field_names)} if form else {}
    reasons: dict[str, list[str]] = {}
    for code in case.review_reasons:
        kind, _, arg = code.partition(":")
        if arg:
            reasons.setdefault(arg, []).append(code)
    views = []
    for name, f in case.fields.items():
        fd = _definition(form, name)
        type_ = fd.type if fd else "text"
        view = FieldView(
            name=name, label=field_label(form, name, t), type=type_,
            validators=list(fd.validators) if fd else [], machine=f,
            text=display(type_, f.value), flagged=f.needs_review, reasons=reasons.get(name, []),
        )
        if fd is not None and fd.type == "choice":
            view.options = [(o.id, o.label[0] if o.label else o.id) for o in fd.options]
        if fd is not None and fd.type == "table":
            view.columns = [Column(c.name, field_label(None, c.name, t) if t else (c.label[0] if c.label else c.name), c.type)
                            for c in fd.columns]
            for row in f.value or []:
                view.rows.append({c.name: display(c.type, row.get(c.name)) for c in view.columns})
        views.append(view)
    views.sort(key=lambda v: (not v.flagged, order.get(v.name, len(order))))
    return views


def corrections_from_form(views: list[FieldView], form_data, today: date | None = None
                          ) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(corrections, errors) from the submitted case form.

    Only fields whose submitted text differs from the displayed machine value
    are corrections; each is normalised and validated. ``errors`` maps field
    names to German messages; a non-empty ``errors`` means nothing is sent.
    """
    corrections: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for v in views:
        if v.type == "table":
            rows = _table_rows(v, form_data)
            if rows is None:
                continue
            if rows != v.rows:
                typed, row_errors = [], []
                for row in rows:
                    rec = {}
                    for c in v.columns:
                        checked = check(c.type, [], row.get(c.name, ""), today)
                        if checked.unparseable:
                            row_errors.append(f"{c.label}: {row.get(c.name)}")
                        rec[c.name] = checked.value
                    if any(x is not None for x in rec.values()):
                        typed.append(rec)
                if row_errors:
                    errors[v.name] = row_errors
                else:
                    corrections[v.name] = typed
            continue
        key = f"f.{v.name}"
        if key not in form_data:
            continue
        text = str(form_data.get(key) or "").strip()
        if text == v.text.strip():
            continue
        if v.type == "choice":
            if text and text not in {o for o, _ in v.options}:
                errors[v.name] = ["unknown option"]
            else:
                corrections[v.name] = text or None
            continue
        checked = check(v.type, v.validators, text, today)
        if not checked.ok:
            errors[v.name] = checked.messages or ["unparseable"]
        else:
            corrections[v.name] = checked.value
    return corrections, errors


def _table_rows(v: FieldView, form_data) -> list[dict[str, str]] | None:
    prefix = f"t.{v.name}."
    cells: dict[int, dict[str, str]] = {}
    for key in form_data.keys():
        if not key.startswith(prefix):
            continue
        idx, _, col = key[len(prefix):].partition(".")
        if idx.isdigit() and col:
            cells.setdefault(int(idx), {})[col] = str(form_data.get(key) or "").strip()
    if not cells:
        return None
    rows = [cells[i] for i in sorted(cells)]
    rows = [{c.name: r.get(c.name, "") for c in v.columns} for r in rows]
    return [r for r in rows if any(r.values())] if len(rows) > len(v.rows) else rows
