"""The Bexio settings section, as the DG1 seed lists them (user, language, currency) plus
what invoices and e-mails need. Tax mapping lives in the shared ``mapping`` section."""
from __future__ import annotations

from pydantic import Field, field_validator

from ...settings import SettingsModel, hint, register_section


@register_section("bexio")
class BexioSettings(SettingsModel):
    # documents are attributed to this Bexio user (None: the user who connected)
    user_id: int | None = Field(None, json_schema_extra=hint("select", whole_number=True))
    language: str = Field("de", json_schema_extra=hint("select"))  # iso 639-1 of the invoice language
    currency: str = Field("CHF", json_schema_extra=hint("select"))  # must equal every site's currency
    # revenue account for lines without one
    account_id: int | None = Field(None, json_schema_extra=hint("number"))
    bank_account_id: int | None = Field(None, json_schema_extra=hint("number"))  # where payments are booked
    # "{number}" is replaced; default per language
    email_subject: str | None = Field(None, json_schema_extra=hint("text"))
    email_message: str | None = Field(None, json_schema_extra=hint("text"))  # must contain [Network Link]
    # rate ("8.1") -> tax id, for articles
    article_tax_ids: dict[str, int] = Field({}, json_schema_extra=hint("rows", columns=("article_rate", "article_tax")))

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
