"""A realistic chart of accounts and tax rates per region (NZ, UK, AU), like a new Xero org.

TaxType codes differ per region (NOTES section 5, TaxRates): AU uses OUTPUT/INPUT, NZ and UK
OUTPUT2/INPUT2; the product must read them per organisation and never hard-code them.
"""
from __future__ import annotations

import uuid
from decimal import Decimal

# (TaxType, Name, rate, ReportTaxType, revenue?, expenses?)
_TAX = {
    "NZ": [
        ("OUTPUT2", "15% GST on Income", "15.00", "OUTPUT", True, False),
        ("INPUT2", "15% GST on Expenses", "15.00", "INPUT", False, True),
        ("ZERORATED", "Zero Rated", "0.00", "NONE", True, True),
        ("EXEMPTOUTPUT", "No GST on Income", "0.00", "EXEMPTOUTPUT", True, False),
        ("EXEMPTINPUT", "No GST on Expenses", "0.00", "EXEMPTINPUT", False, True),
        ("NONE", "No GST", "0.00", "NONE", True, True),
    ],
    "UK": [
        ("OUTPUT2", "20% (VAT on Income)", "20.00", "OUTPUT", True, False),
        ("INPUT2", "20% (VAT on Expenses)", "20.00", "INPUT", False, True),
        ("RROUTPUT", "5% (VAT on Income)", "5.00", "OUTPUT", True, False),
        ("RRINPUT", "5% (VAT on Expenses)", "5.00", "INPUT", False, True),
        ("ZERORATEDOUTPUT", "Zero Rated Income", "0.00", "ZERORATEDOUTPUT", True, False),
        ("ZERORATEDINPUT", "Zero Rated Expenses", "0.00", "ZERORATEDINPUT", False, True),
        ("EXEMPTOUTPUT", "Exempt Income", "0.00", "EXEMPTOUTPUT", True, False),
        ("EXEMPTINPUT", "Exempt Expenses", "0.00", "EXEMPTINPUT", False, True),
        ("NONE", "No VAT", "0.00", "NONE", True, True),
    ],
    "AU": [
        ("OUTPUT", "GST on Income", "10.00", "OUTPUT", True, False),
        ("INPUT", "GST on Expenses", "10.00", "INPUT", False, True),
        ("EXEMPTOUTPUT", "GST Free Income", "0.00", "EXEMPTOUTPUT", True, False),
        ("EXEMPTEXPENSES", "GST Free Expenses", "0.00", "EXEMPTEXPENSES", False, True),
        ("INPUTTAXED", "Input Taxed", "0.00", "INPUTTAXED", True, True),
        ("BASEXCLUDED", "BAS Excluded", "0.00", "BASEXCLUDED", True, True),
    ],
}

# region -> (sales tax, purchase tax, tax account name, currency, country, timezone, version)
REGIONS = {
    "NZ": ("OUTPUT2", "INPUT2", "GST", "NZD", "NZ", "NEWZEALANDSTANDARDTIME", "NZ"),
    "UK": ("OUTPUT2", "INPUT2", "VAT", "GBP", "GB", "GMTSTANDARDTIME", "UK"),
    "AU": ("OUTPUT", "INPUT", "GST", "AUD", "AU", "AUSEASTERNSTANDARDTIME", "AU"),
}

_CURRENCY_NAMES = {"NZD": "New Zealand Dollar", "GBP": "British Pound", "AUD": "Australian Dollar",
                   "USD": "United States Dollar", "EUR": "Euro", "CHF": "Swiss Franc"}


def tax_rates(region: str) -> list[dict]:
    rates = []
    for tax_type, name, rate, report, revenue, expenses in _TAX[region]:
        value = Decimal(rate)
        rates.append({
            "Name": name, "TaxType": tax_type, "Status": "ACTIVE", "ReportTaxType": report,
            "TaxComponents": [{"Name": name.split(" ")[0] if value else "None", "Rate": value,
                               "IsCompound": False, "IsNonRecoverable": False}],
            "CanApplyToAssets": True, "CanApplyToEquity": True, "CanApplyToExpenses": expenses,
            "CanApplyToLiabilities": True, "CanApplyToRevenue": revenue,
            "DisplayTaxRate": value, "EffectiveRate": value,
        })
    return rates


def accounts(region: str) -> list[dict]:
    sales, purchases, tax_name, _currency, *_ = REGIONS[region]
    rows = [
        # Code, Name, Type, Class, TaxType, SystemAccount, EnablePaymentsToAccount
        ("090", "Business Bank Account", "BANK", "ASSET", "NONE", None, False),
        ("091", "Business Savings Account", "BANK", "ASSET", "NONE", None, False),
        ("200", "Sales", "REVENUE", "REVENUE", sales, None, False),
        ("260", "Other Revenue", "REVENUE", "REVENUE", sales, None, False),
        ("270", "Interest Income", "REVENUE", "REVENUE", "NONE", None, False),
        ("310", "Cost of Goods Sold", "DIRECTCOSTS", "EXPENSE", purchases, None, False),
        ("400", "Advertising", "OVERHEADS", "EXPENSE", purchases, None, False),
        ("404", "Bank Fees", "OVERHEADS", "EXPENSE", "NONE", None, False),
        ("429", "General Expenses", "OVERHEADS", "EXPENSE", purchases, None, False),
        ("610", "Accounts Receivable", "CURRENT", "ASSET", "NONE", "DEBTORS", False),
        ("800", "Accounts Payable", "CURRLIAB", "LIABILITY", "NONE", "CREDITORS", False),
        ("820", tax_name, "CURRLIAB", "LIABILITY", "NONE", "GST", False),
        ("880", "Owner A Drawings", "CURRLIAB", "LIABILITY", "NONE", None, True),
    ]
    result = []
    for code, name, type_, class_, tax, system, payments in rows:
        account = {"AccountID": str(uuid.uuid4()), "Code": code, "Name": name, "Type": type_,
                   "Status": "ACTIVE", "Class": class_, "TaxType": tax,
                   "EnablePaymentsToAccount": payments, "ShowInExpenseClaims": False,
                   "ReportingCode": "", "ReportingCodeName": "", "HasAttachments": False,
                   "AddToWatchlist": False}
        if type_ == "BANK":
            account["BankAccountNumber"] = "0201234567890" if code == "090" else "0201234567891"
            account["BankAccountType"] = "BANK"
            account["CurrencyCode"] = _currency
        if system:
            account["SystemAccount"] = system
        result.append(account)
    return result


def currency(code: str) -> dict:
    return {"Code": code, "Description": _CURRENCY_NAMES.get(code, code)}
