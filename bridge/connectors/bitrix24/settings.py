"""The Bitrix24 settings section the settings page edits: which invoice stage means which status.

Declared here (not in ``bridge.settings``) because stage ids are a Bitrix24 notion:
``DT31_1:P`` names a stage of one smart-invoice pipeline of one portal.
"""
from __future__ import annotations

from pydantic import Field, field_validator

from ...domain import InvoiceStatus
from ...settings import SettingsModel, hint, register_section

SECTION = "bitrix24_stages"


@register_section(SECTION)
class StageSettings(SettingsModel):
    # stage id (or the code after the colon) -> InvoiceStatus value; a stage left out is
    # read by its semantics (success = paid, failure = voided, first stage = draft).
    stage_map: dict[str, InvoiceStatus] = Field({}, json_schema_extra=hint("keyed", form_name="stage:"))
    # The old invoices' statuses (crm.invoice.*, STATUS_ID) on a portal that has both kinds: their
    # codes ("S", "P", "D") are another list than the smart invoices' stages, so they get their own
    # mapping (on a portal with old invoices only, ``stage_map`` lists them already).
    legacy_status_map: dict[str, InvoiceStatus] = Field({}, json_schema_extra=hint("keyed", form_name="legacy:"))

    @field_validator("stage_map", "legacy_status_map")
    @classmethod
    def no_blank_stage(cls, value: dict[str, InvoiceStatus]) -> dict[str, InvoiceStatus]:
        if any(not key.strip() for key in value):
            raise ValueError("a stage id is empty")
        return value
