"""The reference data a new Bexio company starts with.

Ids of users, taxes, accounts and bank accounts are shifted per company on purpose: the
notes warn that these differ per account and must be resolved, never hard-coded
(NOTES §3, §8.8), so a client that hard-codes them fails against the second company.
"""
from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

LANGUAGES = [
    {"id": 1, "name": "Deutsch", "iso_639_1": "de"},
    {"id": 2, "name": "Français", "iso_639_1": "fr"},
    {"id": 3, "name": "Italiano", "iso_639_1": "it"},
    {"id": 4, "name": "English", "iso_639_1": "en"},
]

COUNTRIES = [
    {"id": 1, "name": "Schweiz", "name_short": "CH", "iso3166_alpha2": "CH"},
    {"id": 2, "name": "Deutschland", "name_short": "DE", "iso3166_alpha2": "DE"},
    {"id": 3, "name": "Österreich", "name_short": "AT", "iso3166_alpha2": "AT"},
    {"id": 4, "name": "Frankreich", "name_short": "FR", "iso3166_alpha2": "FR"},
    {"id": 5, "name": "Italien", "name_short": "IT", "iso3166_alpha2": "IT"},
    {"id": 6, "name": "Liechtenstein", "name_short": "LI", "iso3166_alpha2": "LI"},
]

# NOTES §3 "Currencies": name is the ISO code, round_factor drives the total rounding.
CURRENCIES = [
    {"id": 1, "name": "CHF", "round_factor": Decimal("0.05")},
    {"id": 2, "name": "EUR", "round_factor": Decimal("0.01")},
    {"id": 3, "name": "USD", "round_factor": Decimal("0.01")},
]

UNITS = [{"id": 1, "name": "Stk"}, {"id": 2, "name": "h"}, {"id": 3, "name": "Pauschal"}]
PAYMENT_TYPES = [{"id": 1, "name": "Überweisung"}, {"id": 2, "name": "Bar"}]

# NOTES §3 "Swiss sales-tax codes" and §8.3: the 2024 rates are separate records with
# their own validity years. (code, rate, digit, start, end, type, key)
_TAXES = [
    ("UN77", "7.7", "302", 2018, 2023, "sales_tax", "sales_7_7", "Revenue normal rate 7.70%"),
    ("UN81", "8.1", "303", 2024, None, "sales_tax", "sales_8_1", "Revenue normal rate 8.10%"),
    ("UR25", "2.5", "312", 2018, 2023, "sales_tax", "sales_2_5", "Revenue reduced rate 2.50%"),
    ("UR26", "2.6", "313", 2024, None, "sales_tax", "sales_2_6", "Revenue reduced rate 2.60%"),
    ("US37", "3.7", "342", 2018, 2023, "sales_tax", "sales_3_7", "Revenue accommodation rate 3.70%"),
    ("US38", "3.8", "343", 2024, None, "sales_tax", "sales_3_8", "Revenue accommodation rate 3.80%"),
    ("UO77", "7.7", "302", 2018, 2023, "sales_tax", "opted_7_7", "Opted revenue 7.70%"),
    ("UO81", "8.1", "303", 2024, None, "sales_tax", "opted_8_1", "Opted revenue 8.10%"),
    ("UEX", "0", "221", 2018, None, "sales_tax", "export", "Export 0.00%"),
    ("VM77", "7.7", "400", 2018, 2023, "pre_tax", "pre_7_7", "Input tax material 7.70%"),
    ("VM81", "8.1", "400", 2024, None, "pre_tax", "pre_8_1", "Input tax material 8.10%"),
]

_ACCOUNTS = [
    ("1020", "Bank", 3), ("1100", "Forderungen aus Lieferungen und Leistungen", 3),
    ("2200", "Geschuldete MWST", 4), ("3200", "Handelserlöse", 1),
    ("3400", "Dienstleistungserlöse", 1), ("3800", "Erlösminderungen", 1),
    ("4200", "Handelswarenaufwand", 2),
]


def seed(seq: int, company_name: str, owner_email: str) -> dict[str, Any]:
    """Users, taxes, accounts, bank accounts and settings of company number ``seq``."""
    base = (seq - 1) * 100
    users = [
        {"id": base + 1, "salutation_type": "male", "firstname": "Demo", "lastname": "Owner",
         "email": owner_email, "is_superadmin": True, "is_accountant": False,
         "login_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bexio-sandbox:{owner_email}"))},
        {"id": base + 2, "salutation_type": "female", "firstname": "Anna", "lastname": "Buchhalter",
         "email": owner_email.replace("@", "+accounting@", 1), "is_superadmin": False,
         "is_accountant": True,
         "login_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bexio-sandbox:acc:{owner_email}"))},
    ]
    accounts = [{"id": base + 10 + i, "account_no": no, "name": name, "account_type": kind,
                 "account_group_id": kind, "tax_id": None, "fibu_account_group_id": kind,
                 "is_active": True, "is_locked": False}
                for i, (no, name, kind) in enumerate(_ACCOUNTS)]
    account_by_no = {a["account_no"]: a["id"] for a in accounts}
    taxes = []
    for i, (code, rate, digit, start, end, kind, key, label) in enumerate(_TAXES):
        taxes.append({
            "id": base + 20 + i, "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seq}:{code}")),
            "name": f"lib.model.tax.ch.{key}.name", "code": code, "digit": digit, "type": kind,
            "account_id": account_by_no["2200"], "tax_settlement_type": "effective",
            "value": Decimal(rate), "net_tax_value": None, "start_year": start, "end_year": end,
            "start_month": 1 if start else None, "end_month": 12 if end else None,
            "is_active": True, "display_name": f"{code} - {label}"})
    bank_accounts = [{
        "id": base + 1, "name": "Hauptkonto", "owner": company_name, "iban_nr": "CH9300762011623852957",
        "qr_invoice_iban": "CH4431999123000889012", "invoice_mode": "qr_invoice", "currency_id": 1,
        "account_id": account_by_no["1020"], "type": "bank", "bank_name": "Sandbox Bank AG",
        "is_esr": False}]
    settings = {
        "default_currency_id": 1, "default_language_id": 1, "default_mwst_type": 0,
        "default_mwst_is_net": False, "default_payment_type_id": 1, "default_time_period_in_days": 30,
        "use_automatic_enumeration": True, "default_nb_decimals_price": 2,
        "default_nb_decimals_amount": 2}
    return {"users": users, "accounts": accounts, "taxes": taxes, "bank_accounts": bank_accounts,
            "settings": settings, "account_by_no": account_by_no}
