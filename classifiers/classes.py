"""The set of document types the classifier chooses from.

Every catalogue form is a class; ``invoice`` (an attachment type) is a class
even when the catalogue has no definition for it; ``unknown`` is the reject
class (letters, blank pages, photos, forms we do not know) and always exists.
A class is described by data only — title, identifiers, prototype text — so a
new form type is a class as soon as its catalogue entry exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
        out[fid] = ClassDef(id=fid, title=form.title, identifiers=idents, prototype=proto)
    if INVOICE not in out:
        out[INVOICE] = INVOICE_DEF
    out.pop(UNKNOWN, None)
    return [out[k] for k in sorted(out)]
