"""PHP bracket-key encoding, the wire format of Bitrix24 forms, query strings and events.

Bitrix24 is PHP: a form field ``fields[TITLE]=x`` arrives as a nested array, ``select[]=a``
appends to a list, and event callbacks are sent the same way (NOTES section 4, "Callback
payload"; section 9, batch ``cmd`` strings). Both directions live here.
"""
from __future__ import annotations

import re
from typing import Any, Iterable
from urllib.parse import parse_qsl, quote

_KEY = re.compile(r"^([^\[\]]*)((?:\[[^\[\]]*\])*)$")


def _listify(node: Any) -> Any:
    """PHP arrays with keys 0..n-1 come back as lists, as json_encode would render them."""
    if isinstance(node, dict):
        node = {k: _listify(v) for k, v in node.items()}
        keys = list(node)
        if keys and all(k.isdigit() for k in keys) and sorted(int(k) for k in keys) == list(range(len(keys))):
            return [node[str(i)] for i in range(len(keys))]
    return node


def unflatten(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """``[("a[b][]", "1"), ("a[b][]", "2")]`` -> ``{"a": {"b": ["1", "2"]}}``."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if not match:
            root[key] = value
            continue
        parts = [match.group(1)] + re.findall(r"\[([^\[\]]*)\]", match.group(2))
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":  # "[]": append, PHP numbers it
                part = str(sum(1 for k in node if k.isdigit()))
            if last:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    return _listify(root)


def parse_query(query: str) -> dict[str, Any]:
    return unflatten(parse_qsl(query, keep_blank_values=True))


def flatten(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    """The inverse of ``unflatten``: nested dicts/lists to bracket keys, as PHP's http_build_query."""
    pairs: list[tuple[str, str]] = []
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, (list, tuple)):
        items = ((str(i), v) for i, v in enumerate(data))
    else:
        return [(prefix, _scalar(data))]
    for key, value in items:
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, (dict, list, tuple)):
            pairs.extend(flatten(value, name))
        else:
            pairs.append((name, _scalar(value)))
    return pairs


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "1"
    if value is False:
        return "0"
    return str(value)


def build_query(data: Any) -> str:
    return "&".join(f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in flatten(data))
