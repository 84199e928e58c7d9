"""Property-based fuzzing of every route of the app: whatever arrives, never a 500, never a
partial write.

Part 1 sweeps every rule of ``app.url_map`` (``static`` aside) anonymously: hypothesis
fills the rule's path arguments, a query string and a form (field names the app really
reads, plus arbitrary ones; values the installed world really holds, plus garbage), and
the answer must be below 500 and, when it refuses, must leave every table as it was.
A route added later fails ``test_every_route_is_swept`` until it is listed in ``SWEPT``.

Part 2 sends garbage with VALID credentials to the two forms that write settings, the
Bitrix24 app's settings (``app_settings.save``) and the DG1 admin's Bexio settings
(``dg1_admin.save_settings``): never a 500; a refusal (4xx, or an htmx 200 showing errors)
leaves the stored settings exactly as they were; an accepted save reads back, section by
section, as exactly what was stored.
"""
from __future__ import annotations

import copy
import hashlib
import re
import time
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
import responses
from hypothesis import HealthCheck, example, given, settings, strategies as st
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from bridge.web.dg1.settings_form import FORM_SECTIONS
from bridge.connectors.dg1.tenants import add_tenant
from bridge.dashboard.models import Operator
from bridge.errors import RetryableError
from bridge.extensions import db
from bridge.models import Installation, InstallationSettings, LedgerConnection, Link, SyncRecord, WorkItem, utcnow
from bridge.settings import SECTIONS, get_section, save_section
from bridge.ports import TaxCode
# Fixtures reused as the suites that own them set them up: clock (DG1's), portal (a confirmed
# Bitrix24 administrator).
from tests.connectors.dg1.conftest import ADMIN_ORIGIN, API_KEY, LAUNCH_SECRET, SITES, WEBHOOK_SECRET
from tests.connectors.dg1.conftest import clock  # noqa: F401
from tests.connectors.dg1.test_web import session_token
from tests.web.conftest import launch, portal  # noqa: F401
from tests.web.test_settings_page import FakeLedger, FakePlatform

# 25 examples per route and method keep the sweep under a minute on two cores; the two
# settings forms are cheap, so they get more. Bugs found are pinned as explicit @example.
SWEEP = settings(max_examples=25, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FORMS = settings(max_examples=200, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# --------------------------------------------------------------------------------------
# What the sweep sends
# --------------------------------------------------------------------------------------

# endpoint -> the methods the sweep sends (HEAD and OPTIONS are Flask's own). A new route, or
# a new method of one, fails test_every_route_is_swept until it is listed here.
SWEPT: dict[str, tuple[str, ...]] = {
    "landing.index": ("GET",), "health.healthz": ("GET",),
    "bitrix24.install": ("GET", "POST"), "bitrix24.main_page": ("GET", "POST"),
    "bitrix24.invoice_tab": ("GET", "POST"), "bitrix24.repair": ("POST",),
    "bitrix24.invoice_panel": ("GET",), "bitrix24.invoice_preview": ("GET",), "bitrix24.invoice_sync_now": ("POST",),
    "bitrix24_hooks.event_callback": ("POST",),
    "dashboard.page": ("GET", "POST"), "dashboard.results": ("POST",),
    "sync_log.page": ("GET",), "sync_log.export_csv": ("GET",), "sync_log.retry": ("POST",),
    "sync_log.retry_error": ("POST",),
    "app_settings.page": ("GET",), "app_settings.save": ("POST",), "app_settings.start": ("POST",),
    "app_settings.job_progress": ("GET",),
    "xero_hooks.receive_webhook": ("POST",), "xero.settings": ("GET",), "xero.connect": ("GET",),
    "xero.callback": ("GET",), "xero.choose": ("POST",), "xero.disconnect": ("POST",),
    "bexio.connect": ("GET",), "bexio.callback": ("GET",), "bexio.disconnect_view": ("POST",),
    "dg1_hooks.receive": ("POST",), "dg1_admin.launch": ("GET",),
    "dg1_admin.orders": ("GET",), "dg1_admin.orders_table": ("GET",), "dg1_admin.order_row": ("GET",), "dg1_admin.order_preview": ("GET",),
    "dg1_admin.sync_order": ("POST",), "dg1_admin.status_panel": ("GET",), "dg1_admin.sync_status": ("POST",),
    "dg1_admin.products": ("GET",), "dg1_admin.products_table": ("GET",), "dg1_admin.product_row": ("GET",),
    "dg1_admin.products_runs": ("GET",), "dg1_admin.sync_product": ("POST",), "dg1_admin.sync_stock": ("POST",),
    "dg1_admin.settings": ("GET",), "dg1_admin.save_settings": ("POST",),
    "operator.login": ("GET", "POST"), "operator.logout": ("POST",), "operator.installations": ("GET",),
    "operator.installation": ("GET",),
    "app_report.page": ("GET",), "app_report.progress": ("GET",), "app_report.rows": ("GET",),
    "app_report.export_csv": ("GET",), "app_report.start": ("POST",), "app_report.act": ("POST",),
    "dg1_admin.report": ("GET",), "dg1_admin.report_progress": ("GET",), "dg1_admin.report_rows": ("GET",),
    "dg1_admin.report_csv": ("GET",), "dg1_admin.report_start": ("POST",), "dg1_admin.report_act": ("POST",),
}
NOT_SWEPT = {"static": "files from static/, no view code"}

# Every field name the app reads from a query string or a form: grep request.form /
# request.args / request.values in bridge/, and the readers those are handed to
# (iframe.launch_params, bitrix24 hooks.receive, sync_log Filters.from_args, dashboard
# queries.parse_filters, the settings engine web/settings_form.py and dg1 settings_form.parse). Drawn alongside
# arbitrary keys, so the sweep gets past "field missing" into each parser.
FIELDS = (
    # Bitrix24 launches and the install page
    "DOMAIN", "LANG", "PROTOCOL", "APP_SID", "member_id", "APPLICATION_TOKEN", "AUTH_ID", "AUTH_EXPIRES",
    "REFRESH_ID", "SERVER_ENDPOINT", "PLACEMENT", "PLACEMENT_OPTIONS",
    # Bitrix24 events
    "event", "ts", "auth[member_id]", "auth[application_token]", "auth[refresh_token]", "auth[server_endpoint]",
    "auth[domain]", "data[FIELDS][ID]", "data[FIELDS][ENTITY_TYPE_ID]", "data[CLEAN]", "data[LANGUAGE_ID]",
    # the app's own forms: form tokens, sync log and dashboard filters, jobs
    "token", "loaded", "state", "flow", "since", "until", "page", "error_code", "date_from", "date_to",
    "account", "contact", "status", "kind",
    # the Bitrix24 settings forms
    "enabled", "automatic_sync", "numbering", "header_master", "lines_master", "name_master", "contact_master",
    "address_master", "void_authorised_on_cancel", "stage:DT31_1:N", "tax_rate", "tax_code", "tax_none",
    "default_sales_account", "product_id", "product_account", "section_id", "section_account",
    # the Xero and Bexio connection pages
    "installation", "sig", "message", "code", "error", "error_description", "tenant_id",
    # the operator console
    "email", "password", "csrf",
    # the DG1 admin: launch, session, actions, settings
    "tenant", "site", "user", "s", "key", "name", "was", "version", "general.enabled", "general.automatic_sync",
    "invoices.create_payment", "invoices.send_by_email", "daily.sync_status", "daily.sync_products",
    "daily.sync_stock", "bexio.user_id", "bexio.language", "bexio.currency", "mapping.shipping_tax",
    "mapping.payment_fee_tax", "tax_rate.0", "tax_code.0", "tax_rate.1", "tax_code.1",
)

# Headers the app reads (besides HX-Request, drawn on its own).
HEADERS = ("X-DG1-Timestamp", "X-DG1-Signature", "X-DG1-Signature-Previous", "X-DG1-Delivery-Id", "X-DG1-Topic",
           "x-xero-signature", "Origin")

MEMBER, DOMAIN, SHOP, OPERATOR = "fuzz-member-1", "fuzz.bitrix24.com", "fuzz", "ops@example.test"
NOW = str(int(time.time()))  # inside the DG1 window while the module runs
# Identifiers the world really holds (none of them a secret): the sweep aims at real rows.
KNOWN = (MEMBER, DOMAIN, SHOP, OPERATOR, NOW, "ch", "pro", "admin", "1", "2", "3", "31", "0", "on", "true",
         "general", "invoices", "mapping", "bitrix24_stages", "orders", "products", "settings", "import", "backfill",
         "ONCRMDYNAMICITEMUPDATE", "ONAPPUNINSTALL", "ONAPPINSTALL", "failed", "leak_code", "DEFAULT",
         "CRM_SMART_INVOICE_DETAIL_TAB", '{"ID": "1"}', f"dg1:{SHOP}:1", "https://oauth.bitrix.info/rest/")
# Values that have broken parsers elsewhere: digits str.isdigit() accepts and int() does not,
# more digits than int() reads, exponents Decimal cannot hold, non-finite numbers.
EDGE = ("²", "١٢", "𝟠", "9" * 4400, "1e9999999", "-1e9999999", "1e999", "NaN", "sNaN", "-Infinity", "-0",
        " 8.1 ", "8,1 %", "0x1F", "1_000", "", " ", "\u200b", "%00", "../..", "{}", "[]", "null")
numeric = st.from_regex(r"-?[0-9²١]{0,4}([.,][0-9]{0,3})?([eE][+-]?[0-9]{1,8})?", fullmatch=True)
garbage = st.one_of(st.text(max_size=40), st.sampled_from(EDGE), numeric)
values = st.one_of(garbage, st.sampled_from(KNOWN))

# An anonymous request as close to a real one as it gets without a secret: the world's real
# identifiers, forged tokens and signatures. Each route reads its own fields of it, so with
# a few fields changed or left out it gets past "field missing" to the check of the secret,
# and to whatever parses a value before that check.
PLAUSIBLE = {
    "DOMAIN": DOMAIN, "LANG": "en", "member_id": MEMBER, "APPLICATION_TOKEN": "forged", "AUTH_ID": "forged",
    "REFRESH_ID": "forged", "AUTH_EXPIRES": "3600", "PLACEMENT": "CRM_SMART_INVOICE_DETAIL_TAB",
    "PLACEMENT_OPTIONS": '{"ID": "1"}', "event": "ONCRMDYNAMICITEMUPDATE", "ts": NOW, "auth[member_id]": MEMBER,
    "auth[application_token]": "forged", "data[FIELDS][ID]": "1", "data[FIELDS][ENTITY_TYPE_ID]": "31",
    "token": "forged.token", "loaded": "0" * 16, "state": "failed", "page": "orders", "error_code": "leak_code",
    "installation": "1", "sig": "forged", "code": "forged", "email": OPERATOR, "password": "not the password",
    "csrf": "forged", "tenant": SHOP, "site": "ch", "user": "admin", "s": "forged.session", "key": f"dg1:{SHOP}:1",
    "version": "1",
}
PLAUSIBLE_HEADERS = {"X-DG1-Timestamp": NOW, "X-DG1-Signature": "forged", "X-DG1-Delivery-Id": "delivery-1",
                     "X-DG1-Topic": "order.updated", "x-xero-signature": "forged"}


def _near(base: dict[str, str], keys, value_strategy) -> st.SearchStrategy[dict[str, str]]:
    """``base`` with up to three fields changed (to a known value or garbage) and up to three left out."""
    return st.tuples(st.dictionaries(st.sampled_from(keys), value_strategy, max_size=3),
                     st.lists(st.sampled_from(sorted(base)), max_size=3)).map(
        lambda t: {k: v for k, v in {**base, **t[0]}.items() if k not in t[1]})


# A query string or a form: any of the app's field names and arbitrary ones with any values,
# or the plausible request nearly as it is.
fields = st.one_of(st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=20)), values, max_size=8),
                   _near(PLAUSIBLE, FIELDS, values))
# What an HTTP header can carry at all (no control characters).
header_values = st.one_of(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=40),
                          st.sampled_from([v for v in EDGE + KNOWN if v.isprintable()]))
headers = st.one_of(st.dictionaries(st.sampled_from(HEADERS), header_values, max_size=4),
                    _near(PLAUSIBLE_HEADERS, HEADERS, header_values))

ints = st.one_of(st.integers(0, 6).map(str), st.integers(0, 2 ** 70).map(str), st.text(max_size=10))
texts = st.one_of(st.sampled_from(KNOWN), garbage.filter(bool))
# path argument -> what to put in it (quoted). An argument a new route brings fails
# test_every_route_is_swept until it is given here.
PATH_ARGS = {"installation_id": ints, "record_id": ints, "row_id": ints, "invoice_id": texts, "order_id": texts,
             "tenant_id": texts, "section": texts, "job": texts}
paths = st.fixed_dictionaries({arg: strategy.map(lambda v: quote(v, safe="")) for arg, strategy in PATH_ARGS.items()})


def _rule(app, endpoint: str):
    (rule,) = [r for r in app.url_map.iter_rules() if r.endpoint == endpoint]
    return rule


def _fill(rule, drawn: dict[str, str]) -> str:
    return re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", lambda m: drawn[m.group(1)], rule.rule)


# --------------------------------------------------------------------------------------
# The world the sweep aims at, and what "nothing changed" means
# --------------------------------------------------------------------------------------


@pytest.fixture
def world(app_ctx):
    """A Bitrix24 portal connected to Xero, a DG1 shop connected to Bexio, sync records, work,
    a link, settings and an operator: rows a forged request could change."""
    from bridge.connectors.bitrix24 import store

    portal_row = store.save_oauth(member_id=MEMBER, domain=DOMAIN, application_token="fuzz-application-token",
                                  tokens={"access_token": "at-fuzz", "refresh_token": "rt-fuzz", "expires_in": 3600,
                                          "member_id": MEMBER, "client_endpoint": f"https://{DOMAIN}/rest/",
                                          "server_endpoint": "https://oauth.bitrix.info/rest/"})
    shop = add_tenant(SHOP, api_key="k" * 20, webhook_secret="dg1-webhook-secret", launch_secret="dg1-launch-secret")
    db.session.add_all([
        LedgerConnection(installation_id=portal_row.id, ledger="xero", organisation_id="tenant-fuzz"),
        LedgerConnection(installation_id=shop.id, ledger="bexio", organisation_id="company-fuzz"),
        Operator(email=OPERATOR, password_hash=generate_password_hash("a long password 1", "pbkdf2:sha256:1000")),
    ])
    for installation, kind, object_id in ((portal_row, "invoice", "1"), (shop, "order", "ch:1")):
        item = WorkItem(installation_id=installation.id, flow="invoice_to_ledger", object_key=f"{kind}:{object_id}")
        db.session.add(item)
        db.session.flush()
        db.session.add(SyncRecord(installation_id=installation.id, work_item_id=item.id, flow="invoice_to_ledger",
                                  object_kind=kind, object_id=object_id, direction="to_ledger", state="failed",
                                  error_code="leak_code", error_message="failed", finished_at=utcnow()))
        db.session.add(Link(installation_id=installation.id, kind="invoice", platform_id=object_id, ledger="xero",
                            ledger_org="org", ledger_id=f"L-{installation.id}"))
        save_section(installation, "general", {"enabled": True, "automatic_sync": True})
    db.session.commit()
    # Nothing leaves the process: an outbound call (the install page's token refresh, say)
    # fails as an unreachable server would, which the app must answer without a 500.
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        yield app_ctx


def snapshot() -> dict[str, tuple[int, str]]:
    """Per table: how many rows, and a digest of all of them (the world is small, so every
    column of every row is read: an UPDATE shows, not only an INSERT or a DELETE).

    Sign-in attempts of the operator console are the one write a refusal must make: they
    are its throttle (``operator-login:<address>`` rows of ``rate_budgets``)."""
    db.session.rollback()  # read what is committed, not this session's view of it
    state = {}
    for table in db.metadata.sorted_tables:
        rows = db.session.execute(select(table)).all()
        if table.name == "rate_budgets":
            rows = [row for row in rows if not row.key.startswith("operator-login:")]
        state[table.name] = (len(rows), hashlib.sha256("\n".join(sorted(map(repr, rows))).encode()).hexdigest())
    db.session.rollback()
    return state


# --------------------------------------------------------------------------------------
# Part 1: every route, anonymously
# --------------------------------------------------------------------------------------


def test_every_route_is_swept(app):
    """A route (or a method of one) added later is swept, or this fails."""
    found = {rule.endpoint: tuple(sorted(rule.methods - {"HEAD", "OPTIONS"})) for rule in app.url_map.iter_rules()}
    assert sorted(set(found) - set(SWEPT) - set(NOT_SWEPT)) == [], "add the new routes to SWEPT"
    assert sorted(set(SWEPT) - set(found)) == [], "SWEPT lists routes that no longer exist"
    assert {e: m for e, m in found.items() if e in SWEPT} == {e: tuple(sorted(m)) for e, m in SWEPT.items()}
    arguments = {arg for rule in app.url_map.iter_rules() if rule.endpoint in SWEPT for arg in rule.arguments}
    assert sorted(arguments - set(PATH_ARGS)) == [], "say in PATH_ARGS what to put in the new path arguments"


def _with(base: dict[str, str], names, value: str) -> dict[str, str]:
    return {**base, **{name: value for name in names}}


REAL_PATH = {"tenant_id": SHOP, "section": "general", "job": "import"}  # the rest: "1", real ids
NUMBERS = ("ts", "AUTH_EXPIRES", "data[FIELDS][ID]", "data[FIELDS][ENTITY_TYPE_ID]", "installation", "version")


@pytest.mark.parametrize("endpoint,method", [(e, m) for e, methods in SWEPT.items() for m in methods],
                         ids=[f"{m} {e}" for e, methods in SWEPT.items() for m in methods])
# Once 500s, kept as fixed examples (sent to every route): the plausible request with digits
# str.isdigit() accepts and int() does not read, a superscript and more than 4,300 digits, in
# every number it carries (the DG1 launch's ts, the DG1 webhook's X-DG1-Timestamp).
@example(path=REAL_PATH, query=_with(PLAUSIBLE, NUMBERS, "²"), form=_with(PLAUSIBLE, NUMBERS, "²"),
         headers={**PLAUSIBLE_HEADERS, "X-DG1-Timestamp": "²"}, htmx=False)
@example(path=REAL_PATH, query=_with(PLAUSIBLE, NUMBERS, "9" * 4400), form=_with(PLAUSIBLE, NUMBERS, "9" * 4400),
         headers={**PLAUSIBLE_HEADERS, "X-DG1-Timestamp": "9" * 4400}, htmx=True)
@SWEEP
@given(path=paths, query=fields, form=fields, headers=headers, htmx=st.booleans())
def test_no_anonymous_request_gets_a_500_or_changes_a_row(world, endpoint, method, path, query, form, headers, htmx):
    """Whatever an anonymous caller sends to a route, the answer is not a server error, and
    a refusal leaves every row of every table as it was (nothing half-done before the
    check that refused)."""
    rule = _rule(world, endpoint)
    url = _fill(rule, {**{arg: "1" for arg in PATH_ARGS}, **path})
    headers = {**headers, **({"HX-Request": "true"} if htmx else {})}
    body = form if method == "POST" else None
    before = snapshot()
    response = world.test_client().open(url, method=method, query_string=query, data=body, headers=headers)
    what = f"{method} {url} query={query} form={body} headers={headers}: {response.status_code}"
    text = response.get_data(as_text=True)
    assert response.status_code < 500, what + "\n" + text[:2000]
    if response.status_code >= 400:
        after = snapshot()
        assert [t for t in before if before[t] != after[t]] == [], "a refused request changed rows: " + what


# --------------------------------------------------------------------------------------
# Part 2a: the Bitrix24 app's settings forms, as an administrator
# --------------------------------------------------------------------------------------


class UnreachablePlatform(FakePlatform):
    """The portal does not answer: the rates are typed, and reach save_section unchecked."""

    def stages(self, fresh=False):
        raise RetryableError("Bitrix24 did not answer.", code="timeout")

    tax_rates = stages


def _stored(installation_id: int) -> tuple[dict | None, int | None]:
    """The installation's settings row as committed: (data, version), copied, so a change
    made in place later cannot change this value too."""
    db.session.rollback()
    row = db.session.get(InstallationSettings, installation_id)
    return (None, None) if row is None else (copy.deepcopy(row.data), row.version)


def _assert_reads_back(installation: Installation, sections) -> None:
    """What is stored is what the app reads: every section validates as stored, exactly
    (``get_section`` silently defaults what does not, which would hide a bad write)."""
    db.session.expire_all()
    data = installation.settings.data
    for name in sections:
        if name in data:
            assert SECTIONS[name].model_validate(data[name]).model_dump(mode="json") == data[name], name
        assert get_section(installation, name).model_dump(mode="json") == \
            SECTIONS[name].model_validate(data.get(name, {})).model_dump(mode="json"), name


def one_of_or_garbage(*valid: str) -> st.SearchStrategy[str]:
    """A value the form offers, or garbage (half and half)."""
    return st.one_of(st.sampled_from(valid), garbage)


CHECKBOX = one_of_or_garbage("on", "true", "1", "", "off")
MASTER = one_of_or_garbage("ledger", "platform")
RATE = one_of_or_garbage("15", "12.5", "15.00", "none", "")
CODE = one_of_or_garbage("OUTPUT2", "NONE", "OLD", "")
ACCOUNT = one_of_or_garbage("200", "260", "")
STATUS = one_of_or_garbage("draft", "submitted", "authorised", "partially_paid", "paid", "voided", "")


BITRIX24_FORMS = {
    "general": st.fixed_dictionaries({}, optional={"enabled": CHECKBOX, "automatic_sync": CHECKBOX}),
    "invoices": st.fixed_dictionaries({}, optional={
        "numbering": one_of_or_garbage("ledger", "platform"), "header_master": MASTER, "lines_master": MASTER,
        "name_master": MASTER, "contact_master": MASTER, "address_master": MASTER,
        "void_authorised_on_cancel": CHECKBOX}),
    "bitrix24_stages": st.dictionaries(st.one_of(st.sampled_from(["stage:DT31_1:N", "stage:DT31_1:P"]),
                                                 garbage.map(lambda v: "stage:" + v)), STATUS, max_size=3),
    "mapping": st.fixed_dictionaries({}, optional={
        "tax_rate": st.lists(RATE, max_size=3), "tax_code": st.lists(CODE, max_size=3), "tax_none": CODE,
        "default_sales_account": ACCOUNT, "product_id": st.lists(one_of_or_garbage("17", "18"), max_size=2),
        "product_account": st.lists(ACCOUNT, max_size=2), "section_id": st.lists(one_of_or_garbage("5"), max_size=2),
        "section_account": st.lists(ACCOUNT, max_size=2)}),
}
# (section, form): a section's own fields, or a section that does not exist with any fields.
BITRIX24_POSTS = st.one_of(*[st.tuples(st.just(name), form) for name, form in BITRIX24_FORMS.items()],
                           st.tuples(garbage.filter(bool).map(lambda v: quote(v, safe="")), fields))


@pytest.fixture
def bitrix24_settings(client, portal, monkeypatch):
    """The settings page opened by a portal administrator (its signed form token), with the
    portal's and the Xero organisation's lists read from fakes; ``answers`` picks the portal."""
    connection = LedgerConnection(installation_id=portal.id, ledger="xero", organisation_id="tenant-1",
                                  organisation_name="Demo Company (NZ)")
    db.session.add(connection)
    db.session.commit()
    answers: dict[str, Any] = {"platform": FakePlatform()}
    monkeypatch.setattr("bridge.web.bitrix24.settings.ledger_for", lambda installation: (FakeLedger(), connection))
    monkeypatch.setattr("bridge.web.bitrix24.settings.platform_for", lambda installation: answers["platform"])
    main = launch(client, "/bitrix24/app").get_data(as_text=True)
    token = main.split("/bitrix24/app/settings?token=")[1].split('"')[0]
    assert client.get("/bitrix24/app/settings", query_string={"token": token}).status_code == 200
    return portal, token, answers


def test_garbage_in_the_bitrix24_settings_forms_is_saved_whole_or_not_at_all(client, bitrix24_settings):
    """An administrator's form with any values: never a 500; a refusal says so and leaves
    the stored settings (data and version) exactly as they were; a save stores what reads
    back as stored, and only in its own section."""
    from bridge.web.bitrix24.settings import section_digest

    installation, token, answers = bitrix24_settings
    outcomes: set[str] = set()

    # Once 500s, kept as fixed examples: a rate whose exponent Decimal cannot hold, against
    # the portal's list of rates and typed while the portal does not answer.
    @example(post=("mapping", {"tax_rate": ["1e9999999"], "tax_code": ["OUTPUT2"]}), extra={}, stale=False,
             htmx=True, portal_answers=True)
    @example(post=("mapping", {"tax_rate": ["1e9999999"], "tax_code": ["OUTPUT2"]}), extra={}, stale=False,
             htmx=False, portal_answers=False)
    @FORMS
    @given(post=BITRIX24_POSTS, extra=st.dictionaries(st.text(max_size=20), garbage, max_size=3),
           stale=st.booleans(), htmx=st.booleans(), portal_answers=st.booleans())
    def post(post, extra, stale, htmx, portal_answers):
        section, form = post
        answers["platform"] = FakePlatform() if portal_answers else UnreachablePlatform()
        db.session.rollback()
        loaded = "stale" if stale or section not in BITRIX24_FORMS else section_digest(installation, section)
        before = _stored(installation.id)
        response = client.post(f"/bitrix24/app/settings/{section}", headers={"HX-Request": "true"} if htmx else {},
                               data={**extra, **form, "token": token, "loaded": loaded})
        body = response.get_data(as_text=True)
        what = f"{section} {form} {extra} (stale={stale}, htmx={htmx}, portal answers={portal_answers})"
        assert response.status_code < 500, what + "\n" + body[:2000]
        after = _stored(installation.id)
        if response.status_code == 200 and "Saved." in body:
            outcomes.add("saved")
            assert after[1] > (before[1] or 0), what
            others = [name for name in SECTIONS if name != section]
            assert {k: v for k, v in (after[0] or {}).items() if k in others} == \
                   {k: v for k, v in (before[0] or {}).items() if k in others}, "another section changed: " + what
            _assert_reads_back(installation, SECTIONS)
        else:
            outcomes.add("refused")
            # 4xx: refused outright (no such section, a NUL character); otherwise the form
            # comes back saying that nothing was saved, never silently dropped.
            assert 400 <= response.status_code < 500 or "Nothing was saved" in body, what
            assert after == before, "a refused form changed the stored settings: " + what

    post()
    assert outcomes == {"saved", "refused"}, outcomes


# --------------------------------------------------------------------------------------
# Part 2b: the DG1 admin's Bexio settings form, in a signed DG1 session
# --------------------------------------------------------------------------------------

TAXES = [TaxCode("16", "UN81", Decimal("8.1"), valid_from=date(2024, 1, 1)),
         TaxCode("3", "UN77", Decimal("7.7"), valid_to=date(2023, 12, 31)),
         TaxCode("17", "UR26", Decimal("2.6")), TaxCode("9", "OLD", Decimal("8.0"), active=False)]
PRODUCTS = [{"id": "1", "site_id": "ch", "sku": "TEA-100", "tax_rate": "2.60"},
            {"id": "2", "site_id": "ch", "sku": "MUG-01", "tax_rate": "8.10"},
            {"id": "3", "site_id": "pro", "sku": "ODD", "tax_rate": "not a rate"}]


class FakeShop:
    """The DG1 API of the shop: its sites (both CHF) and products; ``down`` when it does not answer."""

    def __init__(self, down: bool = False) -> None:
        self.down = down

    def sites(self):
        if self.down:
            raise RetryableError("DG1 did not answer.", code="timeout")
        return SITES

    def products(self, site):
        return [p for p in PRODUCTS if p["site_id"] == site]


class FakeBexio:
    """The Bexio company's users, languages, currencies and taxes; ``down`` when it does not answer."""

    def __init__(self, down: bool = False) -> None:
        self.down = down

    def users(self):
        return [(101, "Ada Admin <ada@example.ch>"), (102, "Bob <bob@example.ch>")]

    def languages(self):
        return [("de", "Deutsch"), ("fr", "Français")]

    def currencies(self):
        return ["CHF", "EUR"]

    def tax_codes(self):
        if self.down:
            raise RetryableError("Bexio did not answer.", code="timeout")
        return TAXES


DG1_VALID = {"general.enabled": "on", "general.automatic_sync": "on", "invoices.create_payment": "on",
             "invoices.send_by_email": "on", "daily.sync_status": "on", "daily.sync_products": "on",
             "daily.sync_stock": "on", "bexio.user_id": "101", "bexio.language": "de", "bexio.currency": "CHF",
             "mapping.shipping_tax": "16", "mapping.payment_fee_tax": "16", "tax_rate.0": "8.10", "tax_code.0": "16",
             "tax_rate.1": "7.7", "tax_code.1": "3", "tax_rate.2": "", "tax_code.2": ""}
DG1_VALUES = {
    "general.enabled": CHECKBOX, "general.automatic_sync": CHECKBOX, "invoices.create_payment": CHECKBOX,
    "invoices.send_by_email": CHECKBOX, "daily.sync_status": CHECKBOX, "daily.sync_products": CHECKBOX,
    "daily.sync_stock": CHECKBOX, "bexio.user_id": one_of_or_garbage("101", "102", "", "999"),
    "bexio.language": one_of_or_garbage("de", "fr", "it"), "bexio.currency": one_of_or_garbage("CHF", "chf", "EUR"),
    "mapping.shipping_tax": one_of_or_garbage("16", "3", "17", "9", ""),
    "mapping.payment_fee_tax": one_of_or_garbage("16", "3", "17", ""),
    **{f"tax_rate.{i}": one_of_or_garbage("8.10", "8.1", "7.7", "2,6", "2.6 %", "8.0", "") for i in range(4)},
    **{f"tax_code.{i}": one_of_or_garbage("16", "3", "17", "9", "") for i in range(4)},
}
# Up to four fields of the valid form given another value, valid or garbage.
DG1_CHANGES = st.lists(st.one_of(*[st.tuples(st.just(name), value) for name, value in DG1_VALUES.items()]),
                       max_size=4).map(dict)


@pytest.fixture
def dg1_settings(app_ctx, client, clock, monkeypatch):
    """The DG1 tenant ``demo``, connected to Bexio, its settings page opened through a
    signed launch (the session token and the form's CSRF token); ``answers`` picks whether
    the shop and Bexio answer."""
    shop = add_tenant("demo", api_key=API_KEY, webhook_secret=WEBHOOK_SECRET, launch_secret=LAUNCH_SECRET,
                      admin_origin=ADMIN_ORIGIN)
    connection = LedgerConnection(installation_id=shop.id, ledger="bexio", organisation_id="c1",
                                  organisation_name="Alpen AG")
    db.session.add(connection)
    db.session.commit()
    answers = {"shop": FakeShop(), "bexio": FakeBexio()}
    monkeypatch.setattr("bridge.web.dg1.admin.client_for", lambda installation: answers["shop"])
    monkeypatch.setattr("bridge.web.dg1.settings.client_for", lambda installation: answers["shop"])
    monkeypatch.setattr("bridge.web.dg1.settings.ledger_for", lambda installation: (answers["bexio"], connection))
    token = session_token(client, "settings")
    page = client.get("/dg1/settings", query_string={"s": token})
    assert page.status_code == 200 and "UN81" in page.text
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    return shop, token, csrf, answers


def test_garbage_in_the_dg1_settings_form_is_saved_whole_or_not_at_all(client, dg1_settings):
    """The DG1 admin's settings form (five sections in one) with any values, in a valid
    session with its CSRF token: never a 500; a refusal shows an error and leaves the
    stored settings (data and version) exactly as they were; a save stores all five
    sections as the form said, each reading back exactly as stored."""
    shop, token, csrf, answers = dg1_settings
    outcomes: set[str] = set()

    # Once 500s, kept as fixed examples: digits str.isdigit() accepts and int() does not read
    # (a superscript, more than 4,300 digits) as the Bexio user and as the form's version, and a
    # rate whose exponent Decimal cannot hold.
    @example(changes={"bexio.user_id": "²"}, dropped=[], extra={}, version="current", htmx=False, shop_down=False,
             bexio_down=False)
    @example(changes={"bexio.user_id": "9" * 4400}, dropped=[], extra={}, version="current", htmx=True,
             shop_down=False, bexio_down=False)
    @example(changes={}, dropped=[], extra={}, version="²", htmx=False, shop_down=False, bexio_down=False)
    @example(changes={}, dropped=[], extra={}, version="9" * 4400, htmx=True, shop_down=False, bexio_down=False)
    @example(changes={"tax_rate.0": "1e9999999"}, dropped=[], extra={}, version="current", htmx=False,
             shop_down=False, bexio_down=False)
    @FORMS
    @given(changes=DG1_CHANGES, dropped=st.lists(st.sampled_from(sorted(DG1_VALID)), unique=True, max_size=2),
           extra=st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=20)), garbage, max_size=3),
           version=st.one_of(st.sampled_from(["current", "current", "stale", ""]), garbage), htmx=st.booleans(),
           shop_down=st.booleans(), bexio_down=st.booleans())
    def post(changes, dropped, extra, version, htmx, shop_down, bexio_down):
        # A valid form, some fields changed to another value (valid or garbage), some left out.
        form = {**extra, **DG1_VALID, **changes}
        for name in dropped:
            form.pop(name, None)
        answers["shop"], answers["bexio"] = FakeShop(down=shop_down), FakeBexio(down=bexio_down)
        before = _stored(shop.id)
        # "current": the version the page was loaded with; "stale": one before it.
        form["version"] = {"current": str(before[1] or ""), "stale": str((before[1] or 1) - 1)}.get(version, version)
        form.update(s=token, csrf=csrf)
        response = client.post("/dg1/settings", data=form, headers={"HX-Request": "true"} if htmx else {})
        body = response.get_data(as_text=True)
        what = f"{form} (htmx={htmx}, shop down={shop_down}, bexio down={bexio_down})"
        assert response.status_code < 500, what + "\n" + body[:2000]
        after = _stored(shop.id)
        if response.status_code == 302 or (htmx and response.status_code == 200 and "Settings saved." in body):
            outcomes.add("saved")
            assert after[1] > (before[1] or 0), what
            stored = after[0]
            for section, names in {"general": ("enabled", "automatic_sync"),
                                   "invoices": ("create_payment", "send_by_email"),
                                   "daily": ("sync_status", "sync_products", "sync_stock")}.items():
                for name in names:
                    assert stored[section][name] is (form.get(f"{section}.{name}") == "on"), (section, name, what)
            assert stored["bexio"]["currency"] == "CHF", what
            _assert_reads_back(shop, FORM_SECTIONS)
        else:
            outcomes.add("refused")
            if response.status_code != 400:  # 400: a NUL character, refused before any view
                assert response.status_code == (200 if htmx else 422), what
                assert 'class="error"' in body, "a refused form must show why: " + what
            assert after == before, "a refused form changed the stored settings: " + what

    post()
    assert outcomes == {"saved", "refused"}, outcomes
