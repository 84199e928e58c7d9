"""Languages of the pages: the portal's LANG, English when bridge has no translation.

Bitrix24 names the user's language in every launch (``LANG`` in the query string,
NOTES s2); the iframe trust (``bitrix24/iframe.py``) keeps it in the request (``g``) and
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
from flask_babel import lazy_gettext as _l

from ..config import PROJECT_ROOT

LANGUAGES = ("en", "de")

# The states and health words the pages show (sync records, installations, connections);
# ``state_word`` in templates, unknown values as they are.
STATE_WORDS = {
    "running": _l("running"), "succeeded": _l("succeeded"), "retrying": _l("retrying"), "failed": _l("failed"),
    "conflict": _l("conflict"), "amounts_differ": _l("amounts differ"), "skipped": _l("skipped"),
    "active": _l("active"), "uninstalled": _l("uninstalled"),
    "ok": _l("ok"), "error": _l("error"), "needs_reconnect": _l("needs reconnect"), "paused": _l("paused"),
}
# The invoice statuses a platform stage can mean (``InvoiceStatus``, the settings' stage
# mapping); ``status_word`` in templates.
STATUS_WORDS = {
    "draft": _l("draft"), "submitted": _l("submitted"), "authorised": _l("authorised"),
    "partially_paid": _l("partially paid"), "paid": _l("paid"), "voided": _l("voided"), "deleted": _l("deleted"),
}
# The flows a sync record names (the sync log, the operator console); ``flow_word``.
FLOW_WORDS = {
    "invoice_to_ledger": _l("invoice to ledger"), "invoice_backfill": _l("invoice backfill"),
    "invoice_cancel": _l("invoice cancel"), "invoice_sent_sweep": _l("invoice sent sweep"),
    "ledger_invoice_changed": _l("ledger invoice changed"), "ledger_party_changed": _l("ledger party changed"),
    "party_to_ledger": _l("party to ledger"), "party_import": _l("party import"),
    "product_to_ledger": _l("product to ledger"), "status_from_ledger": _l("status from ledger"),
    "stock_from_ledger": _l("stock from ledger"), "confirm_uninstall": _l("confirm uninstall"),
    "xero_transactions_refresh": _l("xero transactions refresh"),
}


def _word(words: dict, value: str | None) -> str:
    """``value``'s word in the page's language; a value without one as it is, "_" as spaces."""
    value = value or ""
    word = words.get(value)
    return str(word) if word is not None else value.replace("_", " ")


def portal_language(raw: str | None) -> str:
    """``de``, ``de_DE``, ``DE`` -> ``de``; anything bridge does not speak -> ``en``."""
    code = (raw or "").replace("-", "_").split("_")[0].lower()
    return code if code in LANGUAGES else "en"


def select_locale() -> str:
    if request.blueprint == "operator":
        return request.accept_languages.best_match(LANGUAGES) or "en"
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
        return _word(STATE_WORDS, value)

    @app.template_filter("status_word")
    def status_word(value: str | None) -> str:
        return _word(STATUS_WORDS, value)

    @app.template_filter("flow_word")
    def flow_word(value: str | None) -> str:
        return _word(FLOW_WORDS, value)

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
