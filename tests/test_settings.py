import pytest

from bridge.extensions import db
from bridge.settings import SettingsError, StaleSettings, get_section, save_section


def test_a_new_installation_gets_working_defaults(installation):
    assert get_section(installation, "general").automatic_sync is True


def test_a_section_saves_whole_or_not_at_all(installation):
    save_section(installation, "general", {"enabled": True, "automatic_sync": False})
    with pytest.raises(SettingsError) as caught:
        save_section(installation, "general", {"enabled": False, "automatic_sync": "sometimes"})
    assert "automatic_sync" in caught.value.errors
    general = get_section(installation, "general")
    assert (general.enabled, general.automatic_sync) == (True, False)


def test_unknown_fields_are_refused_by_name(installation):
    with pytest.raises(SettingsError) as caught:
        save_section(installation, "general", {"enabeld": True})
    assert "enabeld" in caught.value.errors


def test_a_stale_form_is_refused(installation):
    version = installation.settings.version if installation.settings else 1
    save_section(installation, "general", {"enabled": True}, expected_version=version)
    with pytest.raises(StaleSettings):
        save_section(installation, "general", {"enabled": False}, expected_version=version)


@pytest.mark.parametrize("rate", ["1e9999999", "1e999999", "NaN", "-Infinity", "5000"])
def test_a_tax_rate_that_is_no_tax_rate_is_refused_and_nothing_is_saved(installation, rate):
    """"1e9999999" was a 500 (decimal.Overflow got past the validator); "1e999999" was stored
    as a mapping key a million digits long."""
    with pytest.raises(SettingsError):
        save_section(installation, "mapping", {"tax_rates": {"15": "OUTPUT2", rate: "OUTPUT2"}})
    assert get_section(installation, "mapping").tax_rates == {}


def test_tax_rates_are_kept_by_their_normalised_percent(installation):
    save_section(installation, "mapping", {"tax_rates": {"8.10": "UN81", "none": "NONE", "0": "ZERO"}})
    assert get_section(installation, "mapping").tax_rates == {"8.1": "UN81", "none": "NONE", "0": "ZERO"}


# Settings as an installation stored them before the two settings modules became one: every
# section, under its name, in the JSON shape it had. Written to the row as they were.
STORED_BEFORE = {
    "general": {"enabled": False, "automatic_sync": True},
    "invoices": {"numbering": "platform", "due_days": 30, "issue_on_create": True, "create_payment": True,
                 "send_by_email": False, "void_authorised_on_cancel": True, "header_master": "platform",
                 "lines_master": "ledger", "name_master": "platform", "contact_master": "ledger",
                 "address_master": "platform", "sent_when": "approved", "stage_sent": "DT31_1:S",
                 "stage_paid": "DT31_1:P", "stage_failed": None},
    "mapping": {"tax_rates": {"8.1": "UN81", "none": "NONE"}, "tax_none": "NONE", "default_sales_account": "200",
                "sales_account_by_product": {"17": "210"}, "sales_account_by_section": {"3": "220"},
                "shipping_tax": "UN81", "payment_fee_tax": None},
    "daily": {"sync_status": False, "sync_products": True, "sync_stock": True},
    "party_import": {"daily": True, "include_suppliers": True},
    "bexio": {"user_id": 101, "language": "fr", "currency": "CHF", "account_id": 3200, "bank_account_id": 1,
              "email_subject": "Rechnung {number}", "email_message": "Bitte: [Network Link]",
              "article_tax_ids": {"8.1": 28}},
    "bitrix24_stages": {"stage_map": {"DT31_1:N": "draft", "DT31_1:P": "paid"}},
}


def test_settings_stored_by_an_existing_installation_load_unchanged(installation):
    from bridge.models import InstallationSettings

    installation.settings = InstallationSettings(data=STORED_BEFORE, version=7)
    db.session.commit()
    for name, stored in STORED_BEFORE.items():
        loaded = get_section(installation, name).model_dump(mode="json")
        # Every stored value as it was; a field added since has its default.
        assert {key: loaded[key] for key in stored} == stored, name
    # Saving a section writes the same shape back, and leaves the others as they were.
    save_section(installation, "general", get_section(installation, "general").model_dump(mode="json"))
    assert installation.settings.data == STORED_BEFORE and installation.settings.version == 8
