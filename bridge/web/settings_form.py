"""One settings engine for both platforms' settings pages: the Bitrix24 app's and the DG1 admin's.

A page's form shows some fields of some sections (``bridge.settings``); each field names its
widget there (``hint``). The engine reads a posted form into a section's data by each
field's widget and validates it, and every error comes back under the form name of its
field, so the one macro set (``templates/_settings_macros.html``) shows it next to that
field with the same words and markup on both platforms. What a page checks beyond the
section (the portal's VAT rates, a Bexio tax's percentage, each shop site's currency) it
adds to the same errors, by the same form names.

Form names: the Bitrix24 app posts a field by its own name (``numbering``), the DG1 admin
with its section (``bexio.currency``); a field's ``form_name`` hint renames it
(``import_daily``). A table of rows posts its two columns as repeated names
(``tax_rate``, ``tax_code``) or numbered ones (``tax_rate.0``, ``tax_code.0``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, get_args

from pydantic import ValidationError

from ..numbers import whole_number
from ..settings import SECTIONS

ON = "on"  # what a browser posts for a checked box without a value (the only "checked")
FORM_ERROR = "_form"  # an error about the whole form (stale, or the lists could not be read)


def widget(section: str, field: str) -> dict[str, Any]:
    """The field's hint: ``{"widget": "checkbox", ...}`` (every form field has one)."""
    extra = SECTIONS[section].model_fields[field].json_schema_extra
    if not isinstance(extra, dict) or "widget" not in extra:
        raise LookupError(f"{section}.{field} has no widget hint")
    return extra


@dataclass(frozen=True)
class Row:
    """One row of a table as posted: its position (errors are shown on it) and two cells."""

    index: int
    key: str
    value: str


def rows(form, left: str, right: str) -> Iterator[Row]:
    """The rows of a two-column table, in order, blank ones included."""
    if left in form or right in form:
        for index, (key, value) in enumerate(zip(form.getlist(left), form.getlist(right))):
            yield Row(index, key, value)
        return
    index = 0
    while f"{left}.{index}" in form or f"{right}.{index}" in form:
        yield Row(index, form.get(f"{left}.{index}", ""), form.get(f"{right}.{index}", ""))
        index += 1


@dataclass(frozen=True)
class SectionForm:
    """The fields of one section one form shows; ``qualified``: form names carry the section."""

    section: str
    fields: tuple[str, ...]
    qualified: bool = False

    def name(self, field: str) -> str:
        own = widget(self.section, field).get("form_name", field)
        return f"{self.section}.{own}" if self.qualified else own

    def kind(self, field: str) -> str:
        """The widget the page draws the field with (the ``field`` macro)."""
        return widget(self.section, field)["widget"]

    def read(self, form, current: dict[str, Any]) -> dict[str, Any]:
        """The section's data: ``current`` with this form's fields as posted."""
        data = dict(current)
        for field in self.fields:
            data[field] = self._read(form, field, current.get(field))
        return data

    def _read(self, form, field: str, current: Any) -> Any:
        hint, name = widget(self.section, field), self.name(field)
        kind = hint["widget"]
        if kind == "checkbox":  # an unchecked box posts nothing
            return form.get(name) == ON
        if kind == "rows":  # blank rows are the table's spare rows, not entries
            return {row.key.strip(): row.value for row in rows(form, *hint["columns"])
                    if row.key.strip() and row.value}
        if kind == "keyed":  # one select per key the page listed; "" is "automatic"
            return {key[len(name):]: value for key, value in form.items() if key.startswith(name) and value}
        raw = form.get(name)
        if raw is None:  # not on the posted form: unchanged
            return current
        if hint.get("whole_number") or kind == "number":
            return whole_number(raw)
        return None if raw == "" and _optional(self.section, field) else raw

    def errors(self, data: dict[str, Any]) -> dict[str, str]:
        """The section's own refusals, by form name (empty: it validates)."""
        try:
            SECTIONS[self.section].model_validate(data)
        except ValidationError as exc:
            return self.named({".".join(str(p) for p in error["loc"]): error["msg"] for error in exc.errors()})
        return {}

    def named(self, errors: dict[str, str]) -> dict[str, str]:
        """Errors keyed by a section path (``tax_rates.abc``, as ``SettingsError`` has them) ->
        by the form name of their field; the first message per field is kept."""
        named: dict[str, str] = {}
        for path, message in errors.items():
            field = path.split(".")[0]
            name = self.name(field) if field in SECTIONS[self.section].model_fields else FORM_ERROR
            named.setdefault(name, message)
        return named


def _optional(section: str, field: str) -> bool:
    """Whether None is a value of the field (an empty select means "none")."""
    return type(None) in get_args(SECTIONS[section].model_fields[field].annotation)

