"""The set of document types the classifier chooses from.

Every catalogue form is a class; ``invoice`` (an attachment type) is a class
even when the catalogue has no definition for it; ``unknown`` is the reject
class (letters, blank pages, photos, forms we do not know) and always exists.
A class is described by data only — title, identifiers, prototype text — so a
new form type is a class as soon as its catalogue entry exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from classifiers.text import fold

UNKNOWN = "unknown"
INVOICE = "invoice"


@dataclass(frozen=True)
class ClassDef:
    """One document type as the classifier sees it."""

    id: str
    title: str
    identifiers: tuple[str, ...] = ()
    prototype: str = ""  # a text that looks like the document (encoder prototype)
    # identifiers that alone do not prove the type (generic words like
    # "Rechnung"); they count with a lower weight
    weak_identifiers: tuple[str, ...] = field(default=())
    # the form's own PDF field names (catalogue ``acroform`` mappings): a
    # filled AcroForm that carries them is that form's PDF
    acroform_names: frozenset[str] = field(default=frozenset())


#: Built-in description of invoices, used when the catalogue has none.
INVOICE_DEF = ClassDef(
    id=INVOICE,
    title="Rechnung",
    identifiers=("Rechnungsnummer", "Rechnungsdatum", "Rechnungsbetrag", "USt-IdNr."),
    weak_identifiers=("Rechnung", "Umsatzsteuer", "Nettobetrag", "Gesamtbetrag", "Zahlbar bis",
                      "Leistungsdatum", "Bankverbindung"),
    prototype=(
        "Rechnung\nRechnungsnummer Rechnungsdatum Kundennummer Leistungsdatum\n"
        "Pos. Menge Einheit Artikel Beschreibung Einzelpreis Gesamtpreis\n"
        "Nettobetrag zzgl. Umsatzsteuer 19 % Gesamtbetrag EUR\n"
        "Zahlbar innerhalb von 14 Tagen ohne Abzug. Bankverbindung IBAN BIC\n"
        "Steuernummer USt-IdNr. Geschäftsführer Handelsregister"
    ),
)


def class_defs(catalogue: Any) -> list[ClassDef]:
    """ClassDefs for every catalogue form, plus ``invoice`` if it is missing.

    ``catalogue`` is a ``forms.Catalogue`` (``.forms: dict[id, FormDefinition]``)
    or anything with the same shape; ``None`` means "no forms" (only invoice).
    Sorted by id so the order is stable between training and inference.
    """
    out: dict[str, ClassDef] = {}
    forms = getattr(catalogue, "forms", None) or {}
    for fid, form in forms.items():
        idents = [form.title, *getattr(form, "identifiers", [])]
        idents = tuple(dict.fromkeys(i for i in idents if i and i.strip()))
        proto = form.prototype_text() if hasattr(form, "prototype_text") else form.title
        out[fid] = ClassDef(id=fid, title=form.title, identifiers=idents, prototype=proto,
                            acroform_names=frozenset(getattr(form, "acroform_names", ())))
    if INVOICE not in out:
        out[INVOICE] = INVOICE_DEF
    out.pop(UNKNOWN, None)
    return [_split_weak(out[k], out) for k in sorted(out)]


def _is_generic(ident: str, cls_id: str, all_defs: dict[str, ClassDef]) -> bool:
    """An identifier that alone proves little.

    Single common words ("Rechnung", "Anmeldung", "Wohngeld") occur in letters
    and inside other titles; an identifier that is part of another class's
    identifiers ("§ 14 GewO" on both Gewerbe forms, "Anmeldung" inside
    "Gewerbe-Anmeldung") cannot tell those classes apart.
    """
    f = fold(ident)
    if len(f.split()) == 1 and len(f) <= 9 and not re.search(r"\d", f):
        return True
    for other in all_defs.values():
        if other.id == cls_id:
            continue
        for o in (other.title, *other.identifiers):
            fo = fold(o)
            if f == fo or (len(f) >= 4 and f in fo):
                return True
    return False


def _split_weak(c: ClassDef, all_defs: dict[str, ClassDef]) -> ClassDef:
    strong = tuple(i for i in c.identifiers if not _is_generic(i, c.id, all_defs))
    weak = tuple(dict.fromkeys([*c.weak_identifiers, *(i for i in c.identifiers if i not in strong)]))
    return replace(c, identifiers=strong, weak_identifiers=weak)
