"""The Bitrix24 app's settings page: connection and its health, numbering, stages, taxes,
sales accounts, conflict rules, automatic sync, and the import and backfill buttons.

Opened from the app's main page with its signed form token (no cookies inside the
iframe, see ``bitrix24/iframe.py``); every form posts that token back. Each form is one
settings section and saves whole or not at all (``save_section`` validates the section
before writing; a page loaded before someone else's save is refused, not merged). Lists
that come from outside — the portal's stages, the ledger's tax codes and accounts — are
read live, after committing, and a failure to read them is shown, not raised.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

from babel.numbers import format_decimal
from flask import Blueprint, Response, current_app, make_response, render_template, request
from flask_babel import get_locale, gettext as _
from jinja2_fragments.flask import render_block
from sqlalchemy import select

from ...messages import N_
from ...connectors.bitrix24.iframe import LaunchRefused, Viewer, check_form_token, form_token, framed
from .pages import APP_PAGES, answer_refusals, ledger_heading
from ...connectors.bitrix24.scopes import missing_scope_error
from ...connectors.bitrix24 import company_theme, store
from ...connectors.bitrix24.settings import SECTION as STAGES
from ...domain import InvoiceStatus
from ...errors import SyncError
from ...extensions import db
from ...installations import active_connection
from ...engine import WorkRequest, request_work
from ...models import Cursor, Installation, WorkItem
from ...ratelimit import limiter_for_app
from ...settings import SettingsError, StaleSettings, get_section, rate_key, save_section
from ...sync.registry import ledger_for, platform_for
from ...ports import ledger_name
from ...sync.tax_check import Mismatch, rate_mismatches
from ..settings_form import SectionForm

bp = Blueprint("app_settings", __name__)
answer_refusals(bp)

TEMPLATE = "bitrix24/settings.html"
SECTIONS = ("general", "invoices", STAGES, "mapping", "document", "party_import", "daily")
BLANK_ROWS = 2  # empty rows under each mapping table for a new entry


# --------------------------------------------------------------------------------------
# What the page shows
# --------------------------------------------------------------------------------------


@dataclass
class Choices:
    """The lists the forms offer, read live; ``problems`` says what could not be read."""

    stages: list[Any] = field(default_factory=list)
    # The old invoices' statuses where the portal has smart invoices too (their own mapping).
    legacy_stages: list[Any] = field(default_factory=list)
    # The portal's VAT rates (crm.vat.list): None when not read, so the form asks for a typed
    # percent instead; ``rates_failed`` says the portal was asked and did not answer.
    portal_rates: list[Any] | None = None
    rates_failed: bool = False
    tax_codes: list[Any] = field(default_factory=list)
    accounts: list[Any] = field(default_factory=list)
    # What shapes the customer's document: category -> options, theme name -> id.
    tracking: dict[str, list[str]] = field(default_factory=dict)
    themes: dict[str, str] = field(default_factory=dict)

    def stage_options(self) -> list[tuple[str, str]]:
        return [(stage.id, stage.name) for stage in self.stages]

    def theme_options(self) -> list[tuple[str, str]]:
        return [(theme_id, name) for name, theme_id in self.themes.items()]

    def tracking_options(self, category: str | None) -> list[str]:
        """The chosen category's options; every category's before one is chosen."""
        if category in self.tracking:
            return self.tracking[category]
        return [option for options in self.tracking.values() for option in options]
    ledger: str = ""  # xero | bexio: names the ledger in the tax mapping's refusals
    problems: list[str] = field(default_factory=list)


def _read(problems: list[str], what: str, read: Callable[[], list]) -> list:
    try:
        return list(read())
    except SyncError as exc:
        problems.append(f"{what}: {exc.message}" + (f" {exc.fix}" if exc.fix else ""))
        return []


def choices_for(installation: Installation) -> Choices:
    db.session.commit()  # hold nothing open while Bitrix24 and the ledger answer
    found = Choices()
    try:
        platform = platform_for(installation)
    except SyncError as exc:
        found.problems.append(exc.message)
        found.rates_failed = True
        return found
    for scope in ((installation.endpoints or {}).get("setup") or {}).get("missing_scopes") or []:
        refused = missing_scope_error(scope)  # named here, not only when an invoice needs it
        found.problems.append(f"{refused.message} {refused.fix}")
    found.stages = _read(found.problems, _("The invoice stages of Bitrix24"), lambda: platform.stages(fresh=True))
    setup = (installation.endpoints or {}).get("setup") or {}
    if setup.get("legacy_invoices") and setup.get("smart_invoices", True):
        found.legacy_stages = _read(found.problems, _("The old invoices' statuses of Bitrix24"), platform.legacy_stages)
    before = len(found.problems)
    rates = _read(found.problems, _("The VAT rates of Bitrix24"), platform.tax_rates)
    if len(found.problems) > before:
        found.rates_failed = True
    else:
        found.portal_rates = rates
    try:
        ledger = ledger_for(installation)[0]
    except SyncError as exc:
        found.problems.append(exc.message + (f" {exc.fix}" if exc.fix else ""))
        return found
    found.ledger = ledger.kind
    found.tax_codes = [t for t in _read(found.problems, _("The tax codes of the ledger"), ledger.tax_codes)
                       if t.active]
    found.accounts = [a for a in _read(found.problems, _("The sales accounts of the ledger"), ledger.sales_accounts)
                      if a.active]
    found.tracking = _read_map(found.problems, _("The tracking categories of the ledger"), ledger.tracking_categories)
    found.themes = _read_map(found.problems, _("The branding themes of the ledger"), ledger.branding_themes)
    return found


def _read_map(problems: list[str], what: str, read: Callable[[], dict]) -> dict:
    try:
        return dict(read())
    except SyncError as exc:
        problems.append(f"{what}: {exc.message}" + (f" {exc.fix}" if exc.fix else ""))
        return {}


def connection_health(installation: Installation) -> dict[str, Any]:
    connection = active_connection(installation)
    health: dict[str, Any] = {"connection": connection, "budget_left": None}
    if connection is not None and connection.ledger == "xero":
        budget = limiter_for_app(current_app).budget(f"xero:{connection.organisation_id}")
        health["budget_left"] = budget.get("remaining_day")
    return health


def progress(installation: Installation) -> dict[str, dict]:
    """The import and backfill cursors (written by the flows after every batch), as of the
    run asked for last: from the moment Start is pressed until the worker picks the run up,
    the cursor still holds the previous run's numbers, so a run queued (or waiting to retry)
    and not yet counting shows as starting at zero, and the page polls until it is done."""
    scope = f"installation:{installation.id}"
    connection = active_connection(installation)
    cursors = {"backfill": _cursor_value(scope, "invoice_backfill"),
               "import": _cursor_value(scope, f"party_import:{connection.id}") if connection else {}}
    pending = set(db.session.scalars(select(WorkItem.flow).where(
        WorkItem.installation_id == installation.id, WorkItem.flow.in_([flow for flow, _key in JOBS.values()]),
        WorkItem.state.in_(("queued", "running", "waiting")))))
    for job, (flow, _key) in JOBS.items():
        if flow in pending and not cursors[job].get("running"):
            cursors[job] = {"running": True, "starting": True, "since": cursors[job].get("since")}
    return cursors


def _cursor_value(scope: str, name: str) -> dict:
    """Read only: a page view never creates the cursor row (the flow does, when it runs)."""
    row = db.session.scalar(select(Cursor).where(Cursor.scope == scope, Cursor.name == name))
    return dict(row.value or {}) if row is not None else {}


def links(installation: Installation) -> dict[str, str]:
    from ..bexio.connect import connect_url
    from ..xero.connect import signed_connect_url, signed_settings_url

    return {"xero_settings": signed_settings_url(installation.id),
            "xero_connect": signed_connect_url(installation.id, back=app_page(installation)),
            "bexio_connect": connect_url(installation.id, return_to=app_page(installation))}


def app_page(installation: Installation) -> str | None:
    """The app's page in the portal, where the connect round trip comes back to (and the
    settings frame, loaded afresh, shows the new connection)."""
    from ...connectors.bitrix24.mapper import portal_url

    endpoint = (installation.endpoints or {}).get("client_endpoint")
    return f"{portal_url(endpoint)}/marketplace/app/" if endpoint else None


def _context(viewer: Viewer, **extra: Any) -> dict[str, Any]:
    installation = viewer.installation
    # The signed connect links act for the installation: administrators only, like Save.
    context = {"viewer": viewer, "token": form_token(viewer, APP_PAGES),
               "links": links(installation) if viewer.is_admin else {},
               "health": connection_health(installation), "progress": progress(installation),
               "digests": {name: section_digest(installation, name) for name in SECTIONS}, "failed": None,
               "statuses": [s.value for s in InvoiceStatus], "errors": {}, "saved": None, "notice": {},
               "bx24_js": current_app.config["BITRIX24_JS_URL"], "choices": Choices(),
               "values": {name: get_section(installation, name) for name in SECTIONS}, "forms": FORMS,
               "ledger": ledger_heading(installation)}
    context.update(extra)
    return context


def _viewer(token: str | None, admin: bool = False) -> Viewer:
    viewer = check_form_token(token, APP_PAGES)
    if admin and not viewer.is_admin:
        raise LaunchRefused(403, N_("Only a Bitrix24 administrator can change the settings."))
    return viewer


def _fragment(block: str, context: dict[str, Any]) -> Response:
    return framed(make_response(render_block(TEMPLATE, block, **context)), context["viewer"].installation)


# --------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------


@bp.get("/bitrix24/app/settings")
def page():
    viewer = _viewer(request.args.get("token"))
    context = _context(viewer, choices=choices_for(viewer.installation))
    response = make_response(render_template(TEMPLATE, **context))
    return framed(response, viewer.installation)


@bp.post("/bitrix24/app/settings/<section>")
def save(section: str):
    if section not in SECTIONS:
        raise LaunchRefused(404, N_("No such settings section."))
    viewer = _viewer(request.form.get("token"), admin=True)
    installation = viewer.installation
    # The lists are read when the form needs them, or when the whole page comes back (no htmx).
    whole_page = not request.headers.get("HX-Request")
    choices = choices_for(installation) if section in (STAGES, "mapping", "invoices", "document") or whole_page \
        else Choices()
    current = get_section(installation, section).model_dump(mode="json")
    form = FORMS[section]
    data = form.read(request.form, current)
    checks = check_mapping(data, current, choices) if section == "mapping" else {}
    if section == "document":
        checks = check_document(data, choices)
    errors = {**form.errors(data), **checks}  # the page's own refusal of a field first
    saved, notice = None, {}
    if not errors:
        try:
            if request.form.get("loaded") != section_digest(installation, section):
                raise StaleSettings(_("These settings were changed meanwhile; reload the page and try again."))
            save_section(installation, section, data)
            db.session.commit()
            saved = section
            if section == "document" and data.get("branding_theme"):
                notice = {"document": company_theme_field(installation)}
        except SettingsError as exc:
            db.session.rollback()
            # "tax_rates.abc" -> shown next to the tax table (the form's field)
            errors = form.named(exc.errors)
        except StaleSettings as exc:
            db.session.rollback()
            errors = {"_form": str(exc)}
    context = _context(viewer, choices=choices, errors=errors, saved=saved, failed=section if errors else None,
                       notice=notice)
    if errors:  # show what was typed, not the stored values
        context["values"] = {**context["values"], section: _Typed(data)}
    if request.headers.get("HX-Request"):
        return _fragment(section, context)
    return framed(make_response(render_template(TEMPLATE, **context), 422 if errors else 200), installation)


def company_theme_field(installation: Installation) -> str | None:
    """The upgrade step of a company's own theme: the companies' field is made the first time
    a theme is chosen here. The words to show when Bitrix24 refused; None: the field is there."""
    try:
        refused = company_theme.ensure_field(store.client_for(installation), installation)
    except SyncError as exc:
        refused = exc
    db.session.commit()
    if refused is None:
        return None
    return _("Bitrix24 did not make the companies' field “%(field)s” (%(reason)s): every invoice takes the theme "
             "chosen here.", field=company_theme.LABEL, reason=refused.message)


class _Typed(dict):
    """A refused form's values, readable like a section model in the template."""

    def __getattr__(self, name: str) -> Any:
        return self.get(name)


def section_digest(installation: Installation, section: str) -> str:
    """What the form was loaded with: per section, so saving one form leaves the others
    on the page valid, while a section someone else saved meanwhile is refused."""
    stored = ((installation.settings.data if installation.settings else None) or {}).get(section, {})
    return hashlib.sha256(json.dumps(stored, sort_keys=True, default=str).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------
# Form -> section data: each form's fields, read by the one settings engine
# --------------------------------------------------------------------------------------


FORMS = {"general": SectionForm("general", ("enabled", "automatic_sync")),
         "invoices": SectionForm("invoices", ("numbering", "sent_when", "header_master", "lines_master", "name_master",
                                              "contact_master", "address_master", "void_authorised_on_cancel",
                                              "stage_refunded")),
         STAGES: SectionForm(STAGES, ("stage_map", "legacy_status_map")),
         "mapping": SectionForm("mapping", ("tax_rates", "tax_none", "default_sales_account",
                                            "sales_account_by_product", "sales_account_by_section")),
         "document": SectionForm("document", ("reference_template", "tracking_category", "tracking_source",
                                              "tracking_field", "tracking_options", "branding_theme",
                                              "title_template", "header_template", "footer_template")),
         "party_import": SectionForm("party_import", ("daily", "include_suppliers")),
         "daily": SectionForm("daily", ("reconciliation_report",))}


def check_document(data: dict, choices: Choices) -> dict[str, str]:
    """The tracking options and theme against the ledger's, read live; and the themes kept
    for a company's choice by name (``known_themes``: no call per invoice)."""
    errors: dict[str, str] = {}
    if choices.themes:
        data["known_themes"] = dict(choices.themes)
        if data.get("branding_theme") and data["branding_theme"] not in choices.themes.values():
            errors["branding_theme"] = _("Not a branding theme of the ledger.")
    if choices.tracking and data.get("tracking_category"):
        options = choices.tracking.get(data["tracking_category"])
        if options is None:
            errors["tracking_category"] = _("Not an active tracking category of the ledger.")
        else:
            bad = sorted({o for o in data.get("tracking_options", {}).values() if o not in options})
            if bad:
                errors["tracking_options"] = _("Not an option of %(category)s: %(options)s.",
                                               category=data["tracking_category"], options=", ".join(bad))
    if data.get("tracking_source") == "field" and not (data.get("tracking_field") or "").strip():
        errors["tracking_field"] = _("Name the Bitrix24 field whose value chooses the option.")
    return errors


def check_mapping(data: dict, current: dict, choices: Choices) -> dict[str, str]:
    """The mapping against the lists read live: the portal's VAT rates, the ledger's active
    tax codes (of the same percentage) and sales accounts. By form name, like the section's
    own errors."""
    errors: dict[str, str] = {}
    if choices.portal_rates is not None:  # read live: only the portal's rates (or ones mapped before)
        offered = {r.key for r in choices.portal_rates} | set(current.get("tax_rates") or {})
        unknown = sorted({rate for rate in data["tax_rates"] if _rate_key_or_none(rate) not in offered})
        if unknown:
            errors["tax_rates"] = _("Not a VAT rate of this Bitrix24 portal: %(rates)s.", rates=", ".join(unknown))
    codes = {t.code for t in choices.tax_codes}
    accounts = {a.code for a in choices.accounts}
    if codes:
        bad = sorted({c for c in [*data["tax_rates"].values(), data["tax_none"]] if c and c not in codes})
        if bad:
            errors["tax_rates"] = _("Not an active tax code in the ledger: %(codes)s.", codes=", ".join(bad))
        mismatched = rate_mismatches({_rate_key_or_none(r) or r: c for r, c in data["tax_rates"].items()},
                                     choices.tax_codes, none_code=data["tax_none"])
        if mismatched and "tax_rates" not in errors:
            errors["tax_rates"] = " ".join(_rate_refusal(m, ledger_name(choices.ledger))
                                           for m in mismatched)
    if accounts:
        chosen = [data["default_sales_account"], *data["sales_account_by_product"].values(),
                  *data["sales_account_by_section"].values()]
        bad = sorted({a for a in chosen if a and a not in accounts})
        if bad:
            errors["default_sales_account"] = _("Not an active sales account in the ledger: %(codes)s.",
                                                codes=", ".join(bad))
    return errors


def _rate_number(value: Decimal) -> str:
    """A rate in percent as the page's language writes it, every decimal kept: 8.1 -> "8,1" in German."""
    return format_decimal(value if value else Decimal(0), locale=str(get_locale() or "en"), decimal_quantization=False)


def _rate_refusal(mismatch: Mismatch, ledger: str) -> str:
    """A rate mapped to a ledger tax of another percentage books other money than the
    invoice shows (``bridge/sync/tax_check.py``): refused, naming both rates, written the
    page language's way (8,1 % on a German page)."""
    if mismatch.rate is None:
        return _("Lines without tax are mapped to %(ledger)s's %(code)s, which is %(theirs)s %%: choose a "
                 "%(ledger)s tax rate of 0 %%.", ledger=ledger, code=mismatch.code,
                 theirs=_rate_number(mismatch.ledger_rate))
    return _("Bitrix24 rate %(ours)s %% is mapped to %(ledger)s's %(code)s, which is %(theirs)s %%: choose a "
             "%(ledger)s tax rate of %(ours)s %%.", ours=_rate_number(mismatch.rate), ledger=ledger,
             code=mismatch.code, theirs=_rate_number(mismatch.ledger_rate))


def _rate_key_or_none(rate: str) -> str | None:
    try:
        return rate_key(rate) if rate != "none" else "none"
    except ValueError:
        return None  # refused by the section's own validation


# --------------------------------------------------------------------------------------
# Import and backfill
# --------------------------------------------------------------------------------------

JOBS = {"import": ("party_import", "import:parties"), "backfill": ("invoice_backfill", "backfill:invoices")}


@bp.post("/bitrix24/app/settings/start/<job>")
def start(job: str):
    if job not in JOBS:
        raise LaunchRefused(404, N_("No such job."))
    viewer = _viewer(request.form.get("token"), admin=True)
    flow, key = JOBS[job]
    options: dict[str, Any] = {"manual": True}
    if job == "backfill" and request.form.get("since"):
        options["since"] = request.form["since"]
    queued = request_work(WorkRequest(viewer.installation.id, flow, key, options))
    db.session.commit()
    notice = _("Started.") if queued else _("Already running.")
    return _fragment("jobs", _context(viewer, notice={job: notice}))


@bp.get("/bitrix24/app/settings/progress")
def job_progress():
    return _fragment("jobs", _context(_viewer(request.args.get("token"))))
