"""The declarative form catalogue: one YAML file per document type.

A form definition is *data*: adding a document type means adding a YAML file
beside this module (or in the directory given to :func:`load_catalogue`), no
code change. Field names and value types follow ``FORMS.md``.

Geometry conventions used by field definitions (see ``extractors``):

* ``position`` says where the value sits relative to its printed label:
  ``right`` (same line, to the right), ``below`` (under the label, in the
  same box/column), ``inside`` (label printed inside the box; value further
  down in the same box). Distances are in page pixels at 300 dpi and are
  scaled by the page's real dpi.
* ``label`` lists label anchors: the official wording first, then variants
  seen on real editions. Matching is fuzzy (OCR errors survive).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, field_validator, model_validator

from formwerk.models import RoutingPolicy

FORMS_DIR = Path(__file__).resolve().parent

#: Value types of FORMS.md (plus ``table``: a list of records, e.g. KG 1 children).
VALUE_TYPES = {
    "text", "date", "int", "bool", "money", "address", "postal_code", "iban",
    "tax_id", "email", "phone", "choice", "bic", "table",
}


class ChoiceOption(BaseModel):
    """One option of a choice field (usually a printed checkbox).

    ``label`` holds the texts printed next to the checkbox (fuzzy-matched);
    ``acroform`` maps the option to AcroForm evidence: either a checkbox field
    name (ticked = this option) or ``"<field name>=<export value>"`` for radio
    groups / checkboxes sharing one name.
    """

    id: str
    label: list[str] = Field(default_factory=list)
    acroform: list[str] = Field(default_factory=list)
    # text values that mean this option when written instead of ticked
    text: list[str] = Field(default_factory=list)

    @field_validator("label", "acroform", "text", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class ColumnDefinition(BaseModel):
    """One column of a table field (record key + column header variants)."""

    name: str
    type: str = "text"
    label: list[str] = Field(default_factory=list)
    # AcroForm name pattern with ``{n}`` for the 1-based row number
    acroform: list[str] = Field(default_factory=list)
    # when the cell is empty, take this field's value (a child's family name
    # defaults to the applicant's)
    default_from: str | None = None

    @field_validator("label", "acroform", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class FieldDefinition(BaseModel):
    """One field of a form: how to find it, what type it has, how to check it."""

    name: str
    type: str
    required: bool = False
    label: list[str] = Field(default_factory=list)
    # "top": no label; the topmost text line of page 1 (letterhead / sender)
    position: Literal["right", "below", "inside", "top"] = "below"
    page: int | None = None  # restrict the label search to one page (1-based)
    # when the label text occurs several times (Person 1 / Person 2): take the
    # n-th match in reading order (1 = topmost), after ``after`` if given
    occurrence: int = 1
    # regular expression a single word of the value matches in full; used
    # when the label is not found (e.g. an ID serial under a garbled header)
    pattern: str | None = None
    after: list[str] = Field(default_factory=list)  # an anchor text above/before the label
    # how far from the label the value may be (pixels at 300 dpi)
    max_dx: float | None = None
    max_dy: float | None = None
    # printed texts that stop the value region (labels of neighbouring fields)
    stop_labels: list[str] = Field(default_factory=list)
    # printed texts inside the value region that are not part of the value
    ignore: list[str] = Field(default_factory=list)
    # combined printed fields ("Tag, Ort, Land der Geburt"): which comma part
    split: Literal["first", "rest"] | None = None
    # checkbox position relative to each option label
    box: Literal["left", "right"] = "left"
    validators: list[str] = Field(default_factory=list)
    # a named normaliser instead of the type's (e.g. "id_document": O→0 in serials)
    normaliser: str | None = None
    options: list[ChoiceOption] = Field(default_factory=list)
    columns: list[ColumnDefinition] = Field(default_factory=list)
    max_rows: int = 0
    # table column whose cell may carry "Vorname [Familienname]": the trailing
    # family name is split off into the column ``name_split_to`` (see extractors.names)
    name_split: str | None = None
    name_split_to: str | None = None
    # headers of table columns that are not read (they end the previous column)
    stop_columns: list[str] = Field(default_factory=list)
    # labels of further boxes whose values are appended (", "), e.g. "PLZ, Ort"
    also: list[str] = Field(default_factory=list)
    # AcroForm field names that carry this value (any edition); first
    # non-empty wins. ``compose``: names whose values are joined with
    # ``compose_sep`` instead (street + "PLZ Ort"; the four Steuer-ID boxes).
    acroform: list[str] = Field(default_factory=list)
    compose: list[str] = Field(default_factory=list)
    compose_sep: str = ", "
    # free-layout forms (``reader: invoice``): the named finder that reads the
    # field over whole lines (``extractors.invoice_fields.FINDERS``); a field
    # without one is read by its label
    finder: str | None = None
    # a further read of a scanned value line with this Tesseract model ("Latin":
    # the script model of every Latin-alphabet language), whose reading is taken
    # where it only adds the marks the page model cannot write (á ñ ç ø ł …):
    # names of applicants from every country (``extractors.edition_fields``)
    script_lang: str | None = None
    description: str = ""

    @field_validator("label", "acroform", "validators", "stop_labels", "after", "ignore", "compose", "also", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        if v not in VALUE_TYPES:
            raise ValueError(f"unknown field type {v!r}; expected one of {sorted(VALUE_TYPES)}")
        return v

    @model_validator(mode="after")
    def _choice_has_options(self) -> "FieldDefinition":
        if self.type in ("choice",) and not self.options:
            raise ValueError(f"choice field {self.name!r} needs options")
        if self.type == "table" and not self.columns:
            raise ValueError(f"table field {self.name!r} needs columns")
        cols = {c.name for c in self.columns}
        if self.name_split and not (self.name_split_to and {self.name_split, self.name_split_to} <= cols):
            raise ValueError(f"table field {self.name!r}: name_split/name_split_to name unknown columns")
        return self

    @property
    def option_ids(self) -> list[str]:
        return [o.id for o in self.options]

    @property
    def acroform_names(self) -> list[str]:
        """The PDF form fields this field reads (a table's first row stands for all rows)."""
        names = self.acroform + self.compose + [a.split("=")[0] for o in self.options for a in o.acroform]
        return names + [a.replace("{n}", "1") for c in self.columns for a in c.acroform]


class CrossFieldRule(BaseModel):
    """A rule between fields, evaluated after extraction.

    ``check`` names a function in ``extractors.rules`` (e.g. ``date_order``);
    ``fields`` are its arguments in order; ``message`` is shown to clerks.
    """

    code: str
    check: str
    fields: list[str]
    message: str
    params: dict[str, Any] = Field(default_factory=dict)


class EditionPage(BaseModel):
    """One page of a known printed edition: size and anchor texts (PDF points, top-left)."""

    width: float
    height: float
    # [text, x0, y0, x1, y1]: printed lines unique on the page, for registration
    anchors: list[list[Any]] = Field(default_factory=list)


class Edition(BaseModel):
    """A known printed edition of a form (e.g. the Schwerin GewA 1).

    When a scanned page registers onto an edition page (its anchor texts found
    by OCR), values are read from the known widget boxes instead of relative
    to labels. ``widgets`` maps AcroForm names (``name`` or ``name=export``)
    to ``[page, x0, y0, x1, y1]`` in PDF points, top-left origin. Generated
    from the edition's PDF with ``extractors.editions.measure_edition``.
    """

    id: str
    pages: dict[int, EditionPage] = Field(default_factory=dict)
    widgets: dict[str, list[float]] = Field(default_factory=dict)


class FormDefinition(BaseModel):
    """A document type: identifiers for classification, fields for extraction."""

    id: str
    title: str
    version: str = "1"
    identifiers: list[str] = Field(default_factory=list)
    description: str = ""
    fields: list[FieldDefinition] = Field(default_factory=list)
    rules: list[CrossFieldRule] = Field(default_factory=list)
    policy: RoutingPolicy = Field(default_factory=RoutingPolicy)
    editions: list[Edition] = Field(default_factory=list)
    # how values are found: "labels" (relative to printed labels, known
    # editions) or "invoice" (free layout, extractors.invoice_fields)
    reader: Literal["labels", "invoice"] = "labels"

    @model_validator(mode="after")
    def _check(self) -> "FormDefinition":
        names = [f.name for f in self.fields]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"form {self.id!r}: duplicate field names {sorted(dupes)}")
        # required fields of the policy default to the fields flagged required
        if not self.policy.required_fields:
            self.policy.required_fields = [f.name for f in self.fields if f.required]
        unknown = set(self.policy.required_fields) - set(names)
        if unknown:
            raise ValueError(f"form {self.id!r}: policy requires unknown fields {sorted(unknown)}")
        for rule in self.rules:
            missing = set(rule.fields) - set(names)
            if missing:
                raise ValueError(f"form {self.id!r}: rule {rule.code} names unknown fields {sorted(missing)}")
        return self

    def field(self, name: str) -> FieldDefinition:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def acroform_names(self) -> frozenset[str]:
        """Every PDF form field the definition reads: the form's AcroForm fingerprint."""
        return frozenset(n for f in self.fields for n in f.acroform_names)

    def prototype_text(self) -> str:
        """Titles + identifiers + labels in one text (a classifier prototype)."""
        parts: list[str] = [self.title, *self.identifiers]
        if self.description:
            parts.append(self.description)
        for f in self.fields:
            parts.extend(f.label[:1])
            for o in f.options:
                parts.extend(o.label[:1])
            for c in f.columns:
                parts.extend(c.label[:1])
        seen: set[str] = set()
        out = []
        for p in parts:
            if p and p not in seen:
                seen.add(p)
                out.append(p)
        return "\n".join(out)


class Catalogue:
    """All known form definitions, by id."""

    def __init__(self, forms: dict[str, FormDefinition]):
        self.forms = forms

    def get(self, form_id: str) -> FormDefinition:
        try:
            return self.forms[form_id]
        except KeyError:
            raise KeyError(f"unknown document type {form_id!r}; known: {self.ids}") from None

    @property
    def ids(self) -> list[str]:
        return sorted(self.forms)

    def __contains__(self, form_id: object) -> bool:
        return form_id in self.forms

    def __iter__(self):
        return iter(self.forms.values())

    def __len__(self) -> int:
        return len(self.forms)


def load_form(path: Path) -> FormDefinition:
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    try:
        return FormDefinition.model_validate(data)
    except Exception as exc:  # name the file: a broken YAML must be findable
        raise ValueError(f"invalid form definition {path.name}: {exc}") from exc


def load_catalogue(directory: Path | None = None) -> Catalogue:
    """Load every ``*.yaml`` in ``directory`` (default: beside this module).

    Raises ``ValueError`` naming the file when a definition is invalid, or
    when two files declare the same id.
    """
    directory = Path(directory) if directory else FORMS_DIR
    forms: dict[str, FormDefinition] = {}
    for path in sorted(directory.glob("*.yaml")):
        form = load_form(path)
        if form.id in forms:
            raise ValueError(f"duplicate form id {form.id!r} in {path.name}")
        forms[form.id] = form
    return Catalogue(forms)
