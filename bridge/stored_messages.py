"""A message stored in the database: its English text in the column it always had, and its id
and parameters in a JSON column beside it (``<column>_i18n``), so a page renders it in the
viewer's language.

Why two columns: the English text keeps working for everything that reads text (logs, the
operator's searches, the retry-by-error button, records written before messages had ids),
while the id is what translates. Assigning a ``Message`` to a tracked column fills its
``_i18n`` twin by itself (an attribute event), so a flow just writes
``record.warning = N_(...)``; assigning plain text clears the twin. Bulk ``UPDATE``s bypass
events: they spread ``columns(...)`` into their values.
"""
from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import event

from .messages import Message, from_json, to_json

SUFFIX = "_i18n"


def key_of(value: Any) -> dict[str, Any] | None:
    """What the ``_i18n`` twin of a column holding ``value`` stores."""
    return to_json(value) if isinstance(value, Message) else None


def track(model: type, *names: str) -> None:
    """Keep ``<name>_i18n`` in step with each text column ``name`` of ``model``."""
    for name in names:
        def keep(target: Any, value: Any, _old: Any, _initiator: Any, twin: str = name + SUFFIX) -> None:
            setattr(target, twin, key_of(value))

        event.listen(getattr(model, name), "set", keep)


def columns(**values: Any) -> dict[str, Any]:
    """``columns(error_message=m)`` -> ``{"error_message": m, "error_message_i18n": {...}}``,
    for a bulk update's ``values``."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        out[name], out[name + SUFFIX] = value, key_of(value)
    return out


def to_stored(value: Any) -> Any:
    """A value for a JSON column (a conflict's choices): a ``Message`` as its id and
    parameters, anything else as it is. ``from_stored`` reads it back."""
    return {"$message": to_json(value)} if isinstance(value, Message) else value


def from_stored(value: Any) -> Any:
    if isinstance(value, dict) and "$message" in value:
        try:
            return from_json(value["$message"])
        except (KeyError, TypeError, ValueError):
            return ""
    return value


def stored(row: Any, name: str) -> str | None:
    """The column's message as stored: a ``Message`` when it has an id, else its text (rows
    written before messages had ids, or text that is no sentence of bridge's). ``row`` may
    be a dict kept in a JSON column the same way (``{name: text, name + "_i18n": key}``)."""
    if isinstance(row, Mapping):
        text, key = row.get(name), row.get(name + SUFFIX)
    else:
        text, key = getattr(row, name, None), getattr(row, name + SUFFIX, None)
    if text is None or not key:
        return text
    try:
        return from_json(key)
    except (KeyError, TypeError, ValueError):  # a damaged key: the English text still reads
        return text
