"""One rule for every address we render or keep that came from outside.

DG1 order references, the ledgers' invoice links, Bitrix24 fields and configured base URLs
are all text someone else chose. Rendered as ``href`` or ``src`` unchecked, a value such as
``javascript:alert(document.domain)`` runs in our pages (Jinja escapes quotes, not
schemes). So only two shapes become a link:

- an absolute ``http``/``https`` URL with a host;
- our own relative path (``/dg1/orders``), never ``//host`` or ``/\\host``, which a
  browser reads as another site.

Anything else is shown as text. The check runs where a link is rendered (the
``safe_href`` filter and the ``outside_link`` macro, both registered for every template)
and where bridge stores an address it will render later (``keepable``).
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

LINK_SCHEMES = ("http", "https")
MACROS = "_links.html"


def safe_href(value: Any) -> str:
    """``value`` if it may become a link, else ``""`` (so a template shows text instead).

    Browsers drop tabs and newlines inside a URL and read a backslash as a slash, so a
    value holding any control character, whitespace or backslash is refused whole
    rather than cleaned: ``java\\tscript:`` must not slip past a scheme check.
    """
    if not isinstance(value, str):
        return ""
    url = value.strip()
    if not url or "\\" in url or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7f for ch in url):
        return ""
    if url.startswith("/"):
        return "" if url.startswith("//") else url
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return ""
    if parts.scheme.lower() in LINK_SCHEMES and parts.netloc:
        return url
    return ""


def keepable(value: Any, max_length: int | None = None) -> str | None:
    """An outside address as bridge stores it: a linkable absolute URL, or ``None``.

    A URL cut to fit a column would open the wrong page, so one longer than
    ``max_length`` is not kept either."""
    url = safe_href(value)
    if not url or url.startswith("/") or (max_length is not None and len(url) > max_length):
        return None
    return url


def init_safe_urls(app) -> None:
    """Register the filter and the macro for every template (blocks rendered alone by
    htmx fragments included: globals reach them where a template's own imports do not)."""
    app.jinja_env.filters["safe_href"] = safe_href
    app.jinja_env.globals["outside_link"] = _macro(app, "outside_link")


def _macro(app, name: str):
    def call(*args: Any, **kwargs: Any):
        # Loaded on first use (templates may change while developing; the loader caches).
        return getattr(app.jinja_env.get_template(MACROS).module, name)(*args, **kwargs)

    return call
