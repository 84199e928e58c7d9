import pytest

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
