"""The portal's VAT rates (``crm.vat.list``), for the settings' tax mapping.

A product row's ``taxRate`` is one of these rates, so the mapping form offers them instead
of asking for a number. The wire shape (Bitrix24 REST docs, crm.vat.list): ``ID`` and
``RATE`` are strings, ``RATE`` is null for "No VAT", ``ACTIVE`` is "Y"/"N".
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from ...settings import rate_key


@dataclass(frozen=True)
class PortalTaxRate:
    key: str  # the tax mapping's key: the normalised percent ("15", "8.1")
    name: str  # as the portal names it ("VAT 15%")
    rate: Decimal


def rates_from_list(rows: Iterable[Mapping[str, Any]]) -> list[PortalTaxRate]:
    """Active rates with a percent, lowest first; "No VAT" (RATE null) is left out: lines
    without tax have their own field in the form. One entry per percent."""
    found: dict[str, PortalTaxRate] = {}
    for row in rows:
        if str(row.get("ACTIVE") or "Y").upper() != "Y" or row.get("RATE") in (None, ""):
            continue
        try:
            rate = Decimal(str(row["RATE"]))
            key = rate_key(rate)
        except (InvalidOperation, ValueError):  # not a rate at all, or beyond Decimal ("1e9999999")
            continue
        found.setdefault(key, PortalTaxRate(key, str(row.get("NAME") or f"{key}%"), rate))
    return sorted(found.values(), key=lambda r: r.rate)


def read_rates(client) -> list[PortalTaxRate]:
    reply = client.call("crm.vat.list", {"order": {"C_SORT": "ASC"}, "filter": {"ACTIVE": "Y"},
                                         "select": ["ID", "NAME", "RATE", "ACTIVE"]})
    return rates_from_list(reply.result or [])
