"""The DG1 admin's settings page: sites, Bexio connection, numbering, tax and account mapping.

Same blueprint, session and framing as the other admin pages (``admin.py``); the form is
read and written by ``settings_form.py`` beside it, with the one settings engine both
platforms' settings pages use (``bridge/web/settings_form.py``).
"""
from __future__ import annotations

from typing import Any

from flask import current_app, redirect, request, url_for
from sqlalchemy import select

from ...connectors.dg1 import session as admin_session
from ...connectors.dg1.tenants import admin_page_url, client_for
from ...errors import SyncError
from ...extensions import db
from ...installations import active_connection
from ...models import Installation, LedgerConnection
from ...numbers import whole_number
from ...settings import StaleSettings
from ...sync.registry import ledger_for
from ..bexio.connect import connect_url as bexio_connect_url, last_outcome as bexio_outcome
from . import settings_form
from ..settings_form import FORM_ERROR
from ...messages import N_
from .admin import _checked_form, _fragment, _htmx, _render, _session, bp, notice


def _settings_context(installation: Installation, current: admin_session.AdminSession) -> dict[str, Any]:
    error, sites, everything = None, [], []
    try:
        client = client_for(installation)
        sites = client.sites()
        for site in sites:
            everything.extend(client.products(site["id"]))
    except SyncError as exc:
        error = exc
    connections = db.session.scalars(select(LedgerConnection).where(
        LedgerConnection.installation_id == installation.id)).all()
    connection = active_connection(installation)
    ledger = None
    if connection is not None and connection.ledger == "bexio" and connection.health == "ok":
        try:
            ledger = ledger_for(installation)[0]
        except SyncError as exc:
            error = error or exc
    choices = settings_form.load_choices(ledger)
    # Bexio's sign-in refuses to be framed: the whole admin tab goes there, and comes back
    # to this page inside DG1 (its outcome shown here).
    return_to = admin_page_url(installation, "settings", current.site)
    return {"sites": sites, "products": everything, "connections": connections, "choices": choices,
            "error": error or choices.error, "connect_url": bexio_connect_url(installation.id, return_to),
            "outcome": bexio_outcome(installation.id),
            "webhook_url": f"{current_app.config['PUBLIC_URL']}/hooks/dg1/{installation.account_id}",
            "version": installation.settings.version if installation.settings else None,
            "tax_label": settings_form.tax_label, "shown": settings_form.shown(),
            "forms": settings_form.FORMS}


@bp.get("/settings")
def settings():
    current, installation = _session()
    context = _settings_context(installation, current)
    values = settings_form.current(installation)
    rates = settings_form.shop_rates(context["products"], values["mapping"]["tax_rates"])
    return _render("settings", current, values=values, rates=rates, errors={},
                   message=notice(), **context)


@bp.post("/settings")
def save_settings():
    current, installation = _checked_form()
    context = _settings_context(installation, current)
    data, errors = settings_form.parse(request.form, installation, context["sites"], context["choices"])
    version = request.form.get("version", "")
    if not errors and context["error"] is None:
        try:
            settings_form.save(installation, data, whole_number(version))
        except StaleSettings as exc:
            errors = {FORM_ERROR: str(exc)}
        else:
            if _htmx():
                values = settings_form.current(installation)
                context.update(version=installation.settings.version if installation.settings else None)
                return _fragment("settings", "form", current, values=values, errors={}, saved=True,
                                 rates=settings_form.shop_rates(context["products"], values["mapping"]["tax_rates"]),
                                 **context)
            return redirect(url_for(".settings", s=current.token, message="Settings saved."))
    elif context["error"] is not None:
        errors = {FORM_ERROR: N_("The settings were not saved: the shop or Bexio could not be read to check them.")}
    db.session.rollback()
    rates = [request.form.get(f"tax_rate.{i}", "") for i in range(len(request.form)) if f"tax_rate.{i}" in request.form]
    if _htmx():  # htmx swaps 2xx answers only: the refused form comes back as content
        return _fragment("settings", "form", current, values=data, rates=rates, errors=errors,
                         submitted=request.form, **context)
    return _render("settings", current, values=data, rates=rates, errors=errors, submitted=request.form,
                   **context), 422
