"""The Bexio settings section, as the DG1 seed lists them (user, language, currency) plus
what invoices and e-mails need. Tax mapping lives in the shared ``mapping`` section."""
from __future__ import annotations

from pydantic import field_validator

from ...settings import SettingsModel, register_section


@register_section("bexio")
class BexioSettings(SettingsModel):
    user_id: int | None = None  # documents are attributed to this Bexio user
    language: str = "de"  # iso 639-1 of the invoice language
    currency: str = "CHF"  # must equal every site's currency
    account_id: int | None = None  # revenue account for lines without one
    bank_account_id: int | None = None  # where payments are booked
    email_subject: str | None = None  # "{number}" is replaced; default per language
    email_message: str | None = None  # must contain [Network Link]
    article_tax_ids: dict[str, int] = {}  # rate ("8.1") -> tax id, for articles

    @field_validator("email_message")
    @classmethod
    def needs_network_link(cls, value: str | None) -> str | None:
        # Bexio refuses a send without the placeholder (https://docs.bexio.com/, sending an invoice).
        if value and "[Network Link]" not in value:
            raise ValueError("must contain [Network Link], where Bexio puts the link to the invoice")
        return value

    @field_validator("currency")
    @classmethod
    def iso_currency(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha():
            raise ValueError("must be a three-letter currency code such as CHF")
        return value.upper()
