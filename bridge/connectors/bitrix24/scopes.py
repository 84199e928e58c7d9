"""Every Bitrix24 scope bridge calls, and the error that names a missing one.

A portal set up without one of these answers ``insufficient_scope`` for its methods
(https://apidocs.bitrix24.com/error-codes.html); bridge then says which scope is missing,
at install (``missing``, from the ``scope`` method:
https://dev.1c-bitrix.ru/rest_help/general/scope.php, the same for an inbound
webhook: https://dev.1c-bitrix.ru/rest_help/rest_sum/premissions_scope.php) and on the sync record
of the invoice that needed it, and never falls back quietly (e.g. to the default sales
account when the catalogue cannot be read).
"""
from __future__ import annotations

from typing import Iterable

from ...errors import PermanentError
from ...messages import N_

# scope -> what bridge calls with it
APP_SCOPES: dict[str, str] = {
    "crm": "crm.item.*, crm.invoice.*, crm.contact.*, crm.company.*, crm.status.list, crm.vat.list",
    "catalog": "catalog.product.get, catalog.section.list (a product's section picks its sales account)",
    "userfieldconfig": "userfieldconfig.* (the smart invoices' sync field)",
    "placement": "placement.bind (the invoice tab, the left menu, the analytics menu)",
    "im": "im.notify (alerts to the installing administrator)",
    "user_brief": "user.current (who opens the app)",
}
# An inbound webhook binds no placement and notifies no one (event.bind, placement.bind and the
# app's own notifications need an application: docs/bitrix24.md "Webhook mode").
WEBHOOK_SCOPES: tuple[str, ...] = ("crm", "catalog", "userfieldconfig")


def required(mode: str) -> tuple[str, ...]:
    return WEBHOOK_SCOPES if mode == "webhook" else tuple(APP_SCOPES)


def missing(granted: Iterable[str], mode: str = "oauth") -> list[str]:
    have = {str(s).strip().lower() for s in granted}
    return [scope for scope in required(mode) if scope not in have]


def missing_scope_error(scope: str) -> PermanentError:
    return PermanentError(
        N_("Bitrix24 refused bridge the %(scope)s scope, which this needs.", scope=scope), code="insufficient_scope",
        fix=N_("Add the scope %(scope)s to the app (or the inbound webhook) in Bitrix24 under Developer resources, "
               "then install it again.", scope=scope))


def is_scope_error(error) -> bool:
    return error is not None and str(error.code).lower() == "insufficient_scope"
