"""Validated settings per installation, in named sections.

Each feature declares its section as a pydantic model with defaults (``register_section``),
so a new installation works with no setup and a form saves whole or not at all: the data
is validated as a whole section before anything is written, and the errors name the
fields. Stored as JSON in ``installation_settings`` with a version counter (a form posted
from a stale page can be refused instead of silently overwriting a newer save).
"""
from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from .extensions import db
from .models import Installation, InstallationSettings

Section = TypeVar("Section", bound=BaseModel)

SECTIONS: dict[str, type[BaseModel]] = {}


class SettingsModel(BaseModel):
    """Base for sections: unknown fields are refused, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def register_section(name: str):
    def register(model: type[Section]) -> type[Section]:
        SECTIONS[name] = model
        return model
    return register


class SettingsError(ValueError):
    """A section did not validate; ``errors`` maps field names to messages."""

    def __init__(self, section: str, errors: dict[str, str]) -> None:
        super().__init__(f"settings section {section!r} is invalid: {errors}")
        self.section = section
        self.errors = errors


class StaleSettings(ValueError):
    """Someone saved these settings after this form was loaded."""


@register_section("general")
class GeneralSettings(SettingsModel):
    enabled: bool = True
    automatic_sync: bool = True


def _row(installation: Installation) -> InstallationSettings:
    if installation.settings is None:
        installation.settings = InstallationSettings(data={}, version=1)
        db.session.flush()
    return installation.settings


def get_section(installation: Installation, name: str) -> BaseModel:
    """The section with defaults filled in. Never writes: flows read settings between
    calls to external systems and must not hold a write transaction while they do."""
    model = SECTIONS[name]
    stored = ((installation.settings.data if installation.settings else None) or {}).get(name, {})
    try:
        return model.model_validate(stored)
    except ValidationError:
        # A section saved by an older version that no longer validates: keep what still
        # does, default the rest, so the app keeps working and the form shows the defaults.
        valid = {k: v for k, v in stored.items() if k in model.model_fields}
        cleaned: dict[str, Any] = {}
        for key, value in valid.items():
            try:
                model.model_validate({**cleaned, key: value})
                cleaned[key] = value
            except ValidationError:
                continue
        return model.model_validate(cleaned)


def save_section(installation: Installation, name: str, data: dict[str, Any],
                 expected_version: int | None = None) -> BaseModel:
    """Validate the whole section, then store it; nothing is written on any error."""
    model = SECTIONS[name]
    try:
        validated = model.model_validate(data)
    except ValidationError as exc:
        errors = {".".join(str(p) for p in error["loc"]) or name: error["msg"] for error in exc.errors()}
        raise SettingsError(name, errors) from None
    row = _row(installation)
    if expected_version is not None and row.version != expected_version:
        raise StaleSettings("These settings were changed meanwhile; reload the page and try again.")
    row.data = {**(row.data or {}), name: validated.model_dump(mode="json")}
    row.version = (row.version or 0) + 1
    return validated
