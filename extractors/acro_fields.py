"""Reading fields from filled AcroForm values (no OCR involved): the first reader of every chain."""

from __future__ import annotations

from typing import Any

from formwerk.models import ExtractedField, ValidationIssue

from extractors import confidence as conf
from extractors.fieldtext import option_value, row_defaults, split_part
from extractors.normalise import clean_text, normalise
from extractors.reader import DocumentReader, _acro_checked
from extractors.readers import Finisher
from forms.catalogue import FieldDefinition


class AcroFormReader:
    """Values of the PDF form fields the definition names (``acroform``,
    ``compose``, options' ``acroform``); ``None`` for a field none of whose
    form fields is in the document (then its words are read)."""

    name = "acroform"

    def __init__(self, finish: Finisher):
        self._finish = finish

    def read(self, f: FieldDefinition, r: DocumentReader, done: dict) -> ExtractedField | None:
        if not r.acro:
            return None  # no filled form fields (or an unfilled form): nothing to read here
        names = f.acroform_names
        if not names or not any(n in r.acro for n in names):
            return None  # this edition's fields are not in the file: read the words
        if f.options:
            return self._acro_choice(f, r)
        if f.type == "table":
            return self._acro_table(f, r, done)
        if f.compose:
            parts = [r.acro[n] for n in f.compose if n in r.acro and r.acro[n].value.strip()]
            raw = f.compose_sep.join(clean_text(p.value) for p in parts)
            src = parts[0] if parts else None
        else:
            src = next((r.acro[n] for n in f.acroform if n in r.acro and r.acro[n].value.strip()), None)
            raw = clean_text(src.value) if src else ""
        raw = split_part(raw, f.split)
        return self._finish(f, raw, "acroform", page=src.page if src else None, bbox=src.bbox if src else None)

    def _acro_choice(self, f: FieldDefinition, r: DocumentReader) -> ExtractedField:
        ticked = []
        for o in f.options:
            for a in o.acroform:
                name, _, export = a.partition("=")
                v = r.acro.get(name)
                if export:
                    hit = v is not None and v.value.strip().lstrip("/") == export
                else:
                    hit = _acro_checked(v)
                if hit:
                    ticked.append((o, v))
                    break
        if not ticked:
            return ExtractedField(name=f.name, source="acroform", confidence=0.0)
        o, v = ticked[0]
        c = conf.combine("acroform")
        issues = []
        if len(ticked) > 1:
            c *= conf.FAILED_CHECK
            issues.append(ValidationIssue(code="multiple_options", message="Mehrere Kästchen sind angekreuzt.", fields=[f.name]))
        return ExtractedField(name=f.name, value=option_value(f, o.id), raw=o.label[0] if o.label else o.id,
                              confidence=c, page=v.page, bbox=v.bbox, source="acroform", issues=issues)

    def _acro_table(self, f: FieldDefinition, r: DocumentReader, done: dict) -> ExtractedField:
        rows = []
        for n in range(1, (f.max_rows or 10) + 1):
            rec: dict[str, Any] = {}
            for c in f.columns:
                raw = next((clean_text(r.acro[a.replace("{n}", str(n))].value) for a in c.acroform
                            if a.replace("{n}", str(n)) in r.acro), "")
                rec[c.name] = normalise(c.type, raw) if raw else None
            if any(v not in (None, "") for v in rec.values()):
                rows.append(row_defaults(f, rec, done))
        return ExtractedField(name=f.name, value=rows or None, raw=f"{len(rows)} Zeilen",
                              confidence=conf.combine("acroform") if rows else 0.0, source="acroform")
