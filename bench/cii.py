"""Ground truth of a ZUGFeRD / Factur-X invoice from its CII XML.

The FeRD sample PDFs in ``../shared/data/invoices/XML-Rechnung/FX`` come with
the same invoice as UN/CEFACT Cross Industry Invoice XML in ``CII/``. That XML
is independent truth for the ``invoice`` fields of FORMS.md, normalised the
same way the pipeline must normalise (ISO date, money as a dot decimal with two
places, IBAN upper case without spaces).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path
from typing import Any

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}


def _text(root: ET.Element, path: str) -> str | None:
    el = root.find(path, NS)
    if el is None or el.text is None:
        return None
    return " ".join(el.text.split()) or None


def invoice_truth(cii_path: str | Path) -> dict[str, Any]:
    """``{seller_name, invoice_number, invoice_date, total_amount, iban}``.

    ``total_amount`` is the grand total including VAT (BT-112); ``iban`` the
    first payee account (BT-84), ``None`` when the invoice names none.
    """
    root = ET.parse(cii_path).getroot()
    raw_date = _text(root, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString")
    iso_date = f"{raw_date[:4]}-{raw_date[4:6]}-{raw_date[6:8]}" if raw_date and len(raw_date) == 8 else raw_date
    total = _text(root, ".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:GrandTotalAmount")
    iban = _text(root, ".//ram:PayeePartyCreditorFinancialAccount/ram:IBANID")
    return {
        "seller_name": _text(root, ".//ram:SellerTradeParty/ram:Name"),
        "invoice_number": _text(root, "rsm:ExchangedDocument/ram:ID"),
        "invoice_date": iso_date,
        "total_amount": f"{Decimal(total):.2f}" if total else None,
        "iban": iban.replace(" ", "").upper() if iban else None,
    }
