"""Languages of the pages: the portal's LANG, English when bridge has no translation.

Bitrix24 names the user's language in every launch (``LANG`` in the query string,
https://apidocs.bitrix24.com/settings/app-installation/installation-finish.html); the iframe trust (``bitrix24/iframe.py``) keeps it in the request (``g``) and
in the signed form tokens, so htmx requests after the launch stay in that language.
The operator console is outside any portal: it follows the browser's Accept-Language.
Numbers, dates and money go through Babel's formatters (``format_decimal``,
``format_currency``; in templates the filters ``decimalformat``, ``currencyformat``, ``percent``,
``when``), never ``strftime`` or ``str.format``.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from babel.numbers import format_percent
from flask import Flask, g, request
from flask_babel import Babel, format_datetime, get_locale

from ..config import PROJECT_ROOT
from ..messages import FLOW_WORDS, STATE_WORDS, STATUS_WORDS, render, subject, word  # noqa: F401  (re-exported)
from ..stored_messages import stored

LANGUAGES = ("en", "de")
# The DG1 admin and the Bexio connection pages serve Swiss shops, which work in German and
# French: their words are translated to both (tests/web/test_translations.py).
SHOP_LANGUAGES = ("en", "de", "fr")
SHOP_BLUEPRINTS = ("dg1_admin", "bexio")

# The words of states, invoice statuses and flows live with the messages that use them as
# parameters (bridge/messages.py); the pages show them with ``state_word``, ``status_word``
# and ``flow_word``.


def portal_language(raw: str | None, languages: tuple[str, ...] = LANGUAGES) -> str:
    """``de``, ``de_DE``, ``DE`` -> ``de``; anything bridge does not speak -> ``en``."""
    code = (raw or "").replace("-", "_").split("_")[0].lower()
    return code if code in languages else "en"


def select_locale() -> str:
    if request.blueprint == "operator":
        return request.accept_languages.best_match(LANGUAGES) or "en"
    if request.blueprint in SHOP_BLUEPRINTS:
        # DG1's signed launch names the admin's language (docs/dg1.md section 6); a link
        # without one, and the Bexio pages opened in a window of their own, follow the browser.
        chosen = g.get("bridge_lang") or request.args.get("lang")
        if chosen:
            return portal_language(chosen, SHOP_LANGUAGES)
        return request.accept_languages.best_match(SHOP_LANGUAGES) or "en"
    chosen = g.get("bridge_lang")
    if chosen:
        return portal_language(chosen)
    return portal_language(request.args.get("LANG") or request.form.get("LANG"))


def init_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(PROJECT_ROOT / "translations"))
    Babel(app, locale_selector=select_locale)

    @app.template_filter("percent")
    def percent(value: Decimal | int | str) -> str:
        """A tax rate given in percent, the locale's way and with its decimals: 8.1 -> "8.1%" / "8,1 %"."""
        return format_percent(Decimal(str(value)) / 100, locale=str(get_locale() or "en"), decimal_quantization=False)

    @app.template_filter("state_word")
    def state_word(value: str | None) -> str:
        return word("state", value)

    @app.template_filter("subject")
    def record_subject(record) -> str:
        """``record|subject``: what a sync record is about ("invoice 12", "contact import")."""
        return subject(record.object_kind, record.object_id)

    @app.template_filter("status_word")
    def status_word(value: str | None) -> str:
        return word("status", value)

    @app.template_filter("flow_word")
    def flow_word(value: str | None) -> str:
        return word("flow", value)

    @app.template_filter("message")
    def message(value: object, name: str | None = None) -> str:
        """What a user reads, in the page's language: ``record|message`` (its problem, else its
        warning), ``record|message("error_fix")``, or ``text|message`` for a ``Message`` or
        plain text passed along. Text stored before messages had ids reads as it was stored."""
        if name is not None:
            value = stored(value, name)
        elif value is not None and not isinstance(value, str):
            value = stored(value, "error_message") or stored(value, "warning")
        return render(value if isinstance(value, str) else None, str(get_locale() or "en"))

    @app.template_filter("when")
    def when(value: datetime | str | None, width: str = "short") -> str:
        """A moment (a datetime, or ISO text such as a cursor's ``finished_at``) the locale's
        way, saying its zone: bridge does not know the viewer's, so it shows UTC as UTC."""
        if not value:
            return ""
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return f"{format_datetime(moment, width)} UTC"

    @app.context_processor
    def page_language() -> dict[str, str]:
        return {"lang": str(get_locale() or "en")}  # <html lang>; a page may still pass its own
