"""Tenant isolation over every URL of the app.

Two Bitrix24 portals (acme, globex), each connected to its own Xero organisation, and two
DG1 shops (demo, alpen) are installed through the sandboxes and given data: sync records,
links, work, dashboard rows, settings, orders and products. Every route of the app's
``url_map`` is then called with everything one side holds (its portal launch, its form
tokens, its signed Xero and Bexio links, its DG1 session and launch secret, its webhook
secrets, the operator's cookie) aimed at the other side's objects: its installation ids,
sync record ids, invoice and order ids, product keys, portal domain, member_id and shop
slug. No answer may show the other side's data and, after every queued job has run, none
of the other side's rows, nor its sandbox accounts, may have changed.

A route added later fails ``test_every_route_is_classified`` until it is listed in
``ROUTES`` with the trust it relies on; its arguments fail the sweep until ``guesses``
knows what to put in them, so nothing new escapes the sweep silently.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from bridge.web.bexio.connect import connect_url, disconnect_token
from bridge.connectors.dg1 import signing
from bridge.connectors.dg1.demo import seed_demo_tenants
from bridge.connectors.dg1.tenants import find_tenant, secrets_of
from bridge.web.xero.connect import installation_token
from bridge.dashboard.models import LedgerTransaction, Operator
from bridge.extensions import db
from bridge.models import (Cursor, InboxEvent, Installation, InstallationSettings, LedgerConnection, Link, SyncRecord,
                           WorkItem, utcnow)
from bridge.report_models import ReportRow
from bridge.settings import save_section
from bridge.connectors.bitrix24 import store
from tests.connectors.xero.test_end_to_end import _connect_in_browser

ACME, GLOBEX = "acme.bitrix24.com", "globex.bitrix24.de"

# endpoint -> the trust it relies on. A new route fails the classification test until added.
ROUTES: dict[str, str] = {
    "landing.index": "public page, no tenant data",
    "health.healthz": "public probe, no tenant data",
    "static": "public files",
    "bitrix24.install": "portal launch proven by the portal's OAuth server (REFRESH_ID -> member_id)",
    "bitrix24.main_page": "portal launch: member_id + APPLICATION_TOKEN + AUTH_ID confirmed by the portal",
    "bitrix24.invoice_tab": "portal launch",
    "dashboard.page": "portal launch",
    "bitrix24.repair": "form token (installation, user, 'repair'), administrators only",
    "bitrix24.invoice_panel": "form token naming the invoice",
    "bitrix24.invoice_preview": "form token naming the invoice",
    "bitrix24.invoice_sync_now": "form token naming the invoice",
    "dashboard.results": "form token (installation, 'dashboard')",
    "sync_log.page": "form token (installation, 'app')",
    "sync_log.export_csv": "form token (installation, 'app')",
    "sync_log.retry": "form token (installation, 'app'); the record must be the installation's",
    "sync_log.retry_error": "form token (installation, 'app')",
    "app_settings.page": "form token (installation, 'app')",
    "app_settings.save": "form token (installation, 'app'), administrators only",
    "app_settings.start": "form token (installation, 'app'), administrators only",
    "app_settings.job_progress": "form token (installation, 'app')",
    "bitrix24_hooks.event_callback": "member_id + application_token of the installation",
    "xero_hooks.receive_webhook": "HMAC of the Xero app's webhook key",
    "dg1_hooks.receive": "HMAC of the tenant's webhook secret, within 5 minutes",
    "dg1_admin.launch": "HMAC of the tenant's launch secret, within 5 minutes",
    "dg1_admin.orders": "signed DG1 session (installation, tenant, site, user)",
    "dg1_admin.products": "signed DG1 session",
    "dg1_admin.settings": "signed DG1 session",
    "dg1_admin.sync_order": "signed DG1 session + its CSRF token",
    "dg1_admin.sync_product": "signed DG1 session + its CSRF token; product keys of its tenant only",
    "dg1_admin.sync_stock": "signed DG1 session + its CSRF token; product keys of its tenant only",
    "dg1_admin.save_settings": "signed DG1 session + its CSRF token",
    "dg1_admin.orders_table": "signed DG1 session (htmx fragment of the orders page)",
    "dg1_admin.order_row": "signed DG1 session; orders of its tenant and site only",
    "dg1_admin.order_preview": "signed DG1 session; orders of its tenant and site only (reads, writes nothing)",
    "dg1_admin.status_panel": "signed DG1 session (htmx fragment)",
    "dg1_admin.sync_status": "signed DG1 session + its CSRF token",
    "dg1_admin.products_table": "signed DG1 session (htmx fragment of the products page)",
    "dg1_admin.product_row": "signed DG1 session; product keys of its tenant only",
    "dg1_admin.products_runs": "signed DG1 session (htmx fragment)",
    "xero.settings": "signed installation link (12 h)",
    "xero.connect": "signed installation link",
    "xero.choose": "signed installation link + the organisations pending in this browser",
    "xero.disconnect": "signed installation link",
    "xero.callback": "signed OAuth state bound to this browser's nonce",
    "bexio.connect": "signed installation link (24 h)",
    "bexio.callback": "signed OAuth state bound to this browser's nonce + PKCE",
    "bexio.disconnect_view": "signed disconnect token",
    "operator.login": "operator e-mail and password",
    "operator.logout": "operator cookie + CSRF",
    "operator.installations": "operator cookie",
    "operator.installation": "operator cookie",
    "app_report.page": "form token (installation, 'app')",
    "app_report.progress": "form token (installation, 'app')",
    "app_report.rows": "form token (installation, 'app')",
    "app_report.export_csv": "form token (installation, 'app')",
    "app_report.start": "form token (installation, 'app'), administrators only",
    "app_report.act": "form token (installation, 'app'), administrators only; the row must be the installation's",
    "dg1_admin.report": "signed DG1 session",
    "dg1_admin.report_progress": "signed DG1 session (htmx fragment)",
    "dg1_admin.report_rows": "signed DG1 session (htmx fragment)",
    "dg1_admin.report_csv": "signed DG1 session",
    "dg1_admin.report_start": "signed DG1 session + its CSRF token",
    "dg1_admin.report_act": "signed DG1 session + its CSRF token; the row must be the installation's",
}


@dataclass
class Side:
    """One side's installations, what its users hold, and the data no one else may see."""

    name: str
    portal: str
    org: str
    shop: str
    ids: dict[str, int] = field(default_factory=dict)  # portal, shop -> installation id
    member_id: str = ""
    launch: dict[str, Any] = field(default_factory=dict)  # query, form of a portal launch
    tokens: dict[str, str] = field(default_factory=dict)  # form tokens by object
    dg1: dict[str, str] = field(default_factory=dict)  # s, csrf
    markers: list[str] = field(default_factory=list)
    records: list[int] = field(default_factory=list)
    invoices: list[str] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    report_rows: list[int] = field(default_factory=list)


def _mark(side: Side, what: str) -> str:
    marker = f"leak{side.name}{what}"
    side.markers.append(marker)
    return marker


def _install_portal(live, side: Side) -> None:
    reply = live.control(f"bitrix24/portals/{side.portal}/install", json={"mode": "page"})
    assert reply["page_status"] == 200
    side.member_id = reply["auth"]["member_id"]
    with live.app.app_context():
        side.ids["portal"] = store.find(side.member_id).id
    _connect_in_browser(live, side.ids["portal"], side.org)
    side.launch = {"query": reply["query"], "form": reply["form"]}
    for title in ("one", "two"):
        invoice = live.control(f"bitrix24/portals/{side.portal}/invoices", json={"fields": {
            "title": _mark(side, f"invoice{title}"), "currencyId": "NZD"}})["item"]
        side.invoices.append(str(invoice["id"]))
    live.control("bitrix24/events/wait", json={"timeout": 10})


def _portal_launch(live, side: Side, path: str, options: dict | None = None) -> requests.Response:
    pair = live.control(f"bitrix24/portals/{side.portal}/tokens", json={"user_id": 1})
    form = dict(side.launch["form"], AUTH_ID=pair["access_token"], REFRESH_ID=pair["refresh_token"],
                PLACEMENT="CRM_SMART_INVOICE_DETAIL_TAB" if options else "DEFAULT",
                PLACEMENT_OPTIONS=json.dumps(options or {}))
    return requests.post(f"{live.app_url}{path}", params=side.launch["query"], data=form, timeout=30)


def _token_in(page: requests.Response) -> str:
    assert page.status_code == 200, page.text[:500]
    return re.search(r'name="token" value="([^"]+)"', page.text).group(1)


def _collect_portal_tokens(live, side: Side) -> None:
    main = _portal_launch(live, side, "/bitrix24/app")
    side.tokens["repair"] = _token_in(main)
    side.tokens["app"] = re.search(r'/bitrix24/app/log\?token=([A-Za-z0-9_.\-]+)', main.text).group(1)
    side.tokens["dashboard"] = _token_in(_portal_launch(live, side, "/bitrix24/dashboard"))
    side.tokens["invoice"] = _token_in(_portal_launch(live, side, "/bitrix24/placement/invoice",
                                                      {"ID": side.invoices[0]}))


def _install_shop(live, side: Side) -> None:
    with live.app.app_context():
        side.ids["shop"] = find_tenant(side.shop).id
    product = live.control(f"dg1/tenants/{side.shop}/products", json={
        "site": "ch", "sku": f"SKU-{side.name}", "name": _mark(side, "product"), "price": "10.00",
        "tax_rate": "8.10", "stock_quantity": 3})["products"][0]
    side.products.append(f"dg1:{side.shop}:{product['id']}")
    order = live.control(f"dg1/tenants/{side.shop}/orders", json={
        "site": "ch", "items": [{"sku": f"SKU-{side.name}", "quantity": 1}],
        "customer": {"company": _mark(side, "customer")}})
    side.orders.append(str(order["id"]))
    url = live.control(f"dg1/launch-url?tenant={side.shop}&site=ch&page=orders", method="GET")["url"]
    launched = requests.get(url, allow_redirects=False, timeout=10)
    assert launched.status_code == 302, launched.text
    side.dg1["s"] = parse_qs(urlsplit(launched.headers["Location"]).query)["s"][0]
    with live.app.test_request_context():
        from bridge.connectors.dg1.session import csrf_for
        side.dg1["csrf"] = csrf_for(side.dg1["s"])


def _give_data(live, side: Side) -> None:
    """Rows a user of this side sees in the sync log, the tabs, the dashboard and the console."""
    with live.app.app_context():
        for key, installation_id in side.ids.items():
            installation = db.session.get(Installation, installation_id)
            kind, object_id = ("invoice", side.invoices[0]) if key == "portal" else ("order", f"ch:{side.orders[0]}")
            item = db.session.scalar(select(WorkItem).where(
                WorkItem.installation_id == installation_id, WorkItem.object_key == f"{kind}:{object_id}"))
            if item is None:
                item = WorkItem(installation_id=installation_id, flow="invoice_to_ledger",
                                object_key=f"{kind}:{object_id}", state="idle")
                db.session.add(item)
                db.session.flush()
            for n in range(3):
                record = SyncRecord(installation_id=installation_id, work_item_id=item.id, flow="invoice_to_ledger",
                                    object_kind=kind, object_id=object_id, direction="to_ledger",
                                    state="failed", error_code="leak_code", error_message=_mark(side, f"{key}err{n}"),
                                    error_fix=_mark(side, f"{key}fix{n}"), finished_at=utcnow())
                db.session.add(record)
                db.session.flush()
                side.records.append(record.id)
            db.session.add(Link(installation_id=installation_id, kind="invoice", platform_id=object_id,
                                ledger="xero", ledger_org="org", ledger_id=f"L-{side.name}-{key}",
                                ledger_number=_mark(side, f"{key}number")))
            save_section(installation, "invoices", {"create_payment": True})
            row = ReportRow(installation_id=installation_id, kind="amounts", platform_id=object_id,
                            ledger_id=f"L-{side.name}-{key}", ledger_number=_mark(side, f"{key}reportnumber"),
                            what=_mark(side, f"{key}reportwhat"), actions=["sync_again", "ignore"])
            db.session.add(row)
            db.session.flush()
            side.report_rows.append(row.id)
        connection = db.session.scalars(select(LedgerConnection).where(
            LedgerConnection.installation_id == side.ids["portal"], LedgerConnection.active.is_(True))).one()
        connection.organisation_name = f"{side.org} {_mark(side, 'org')}"
        db.session.add(LedgerTransaction(connection_id=connection.id, installation_id=side.ids["portal"],
                                         kind="bank_transaction", ledger_id=f"BT-{side.name}", type="RECEIVE",
                                         direction="in", date=utcnow().date(), status="AUTHORISED",
                                         contact_name=_mark(side, "payer"), reference=_mark(side, "reference"),
                                         currency="NZD", amount_e4=int(Decimal("123.45") * 10000)))
        db.session.commit()


@pytest.fixture
def world(live):
    # Needs no Xero specs: nothing here checks traffic against them, so a clone without
    # ../shared/specs runs the sweep too (it skipped there, and a broken check went unseen).
    live.control("bitrix24/settings", json={"allow_insecure_handlers": True})
    live.app.config["DG1_CLOCK"] = live.sandbox.clock.time
    with live.app.app_context():
        list(seed_demo_tenants())
    sides = (Side("one", ACME, "Bridge Demo (NZ)", "demo"), Side("two", GLOBEX, "Bridge Demo (UK)", "alpen"))
    for side in sides:
        _install_portal(live, side)
        _install_shop(live, side)
    live.run_jobs()
    for side in sides:
        _give_data(live, side)
        _collect_portal_tokens(live, side)
    live.run_jobs()  # what the installs and launches queued (the dashboard's first refresh) is done
    live.sides = sides
    yield live
    live.sandbox.systems["dg1"].reset()


# --------------------------------------------------------------------------------------
# What is "the other side's state": its rows and its accounts in the sandboxes
# --------------------------------------------------------------------------------------


def _rows(model, *where) -> list[tuple]:
    columns = [c for c in model.__table__.columns if c.name not in ("updated_at", "fetched_at")]
    return sorted(tuple(str(getattr(row, c.key)) for c in columns)
                  for row in db.session.scalars(select(model).where(*where)))


def fingerprint(live, side: Side) -> dict[str, Any]:
    """Everything that belongs to one side; equal before and after means nothing was written."""
    ids = list(side.ids.values())
    with live.app.app_context():
        db.session.expire_all()
        credentials = [c.credential_id for c in db.session.scalars(
            select(LedgerConnection).where(LedgerConnection.installation_id.in_(ids)))]
        from bridge.models import Credential
        state = {
            "installations": _rows(Installation, Installation.id.in_(ids)),
            "settings": _rows(InstallationSettings, InstallationSettings.installation_id.in_(ids)),
            "connections": _rows(LedgerConnection, LedgerConnection.installation_id.in_(ids)),
            "credentials": _rows(Credential, Credential.id.in_([c for c in credentials if c])),
            "links": _rows(Link, Link.installation_id.in_(ids)),
            "work": _rows(WorkItem, WorkItem.installation_id.in_(ids)),
            "records": _rows(SyncRecord, SyncRecord.installation_id.in_(ids)),
            "inbox": _rows(InboxEvent, InboxEvent.installation_id.in_(ids)),
            "cursors": _rows(Cursor, Cursor.scope.in_([f"installation:{i}" for i in ids])),
            "transactions": _rows(LedgerTransaction, LedgerTransaction.installation_id.in_(ids)),
            "report": _rows(ReportRow, ReportRow.installation_id.in_(ids)),
        }
        db.session.rollback()
    portal = live.control(f"bitrix24/portals/{side.portal}/state", method="GET")
    org = next(o["tenantId"] for o in live.control("xero/orgs", method="GET") if o["name"] == side.org)
    state["portal"] = json.dumps(portal, sort_keys=True, default=str)
    state["xero"] = json.dumps(live.control(f"xero/orgs/{org}/state", method="GET"), sort_keys=True, default=str)
    state["shop"] = json.dumps(live.control(f"dg1/tenants/{side.shop}/state", method="GET"), sort_keys=True,
                               default=str)
    return state


# --------------------------------------------------------------------------------------
# The requests: every route x everything the attacker holds x the victim's guessed ids
# --------------------------------------------------------------------------------------


def guesses(arg: str, victim: Side) -> list[str]:
    """Values to put in a URL argument: the victim's ids (sequential ids guessed around them)."""
    if arg in ("record_id",):
        return [str(i) for i in victim.records] + [str(max(victim.records) + 1)]
    if arg == "installation_id":
        return [str(i) for i in victim.ids.values()]
    if arg == "invoice_id":
        return victim.invoices
    if arg == "order_id":
        return victim.orders
    if arg == "tenant_id":
        return [victim.shop]
    if arg == "row_id":
        return [str(i) for i in victim.report_rows]
    if arg == "section":
        return ["general", "invoices", "stages", "mapping"]
    if arg == "job":
        return ["import", "backfill"]
    if arg == "filename":
        return ["../instance/secret_key.secret", "app.css"]
    raise AssertionError(f"the isolation sweep does not know what to put in <{arg}>: add it to guesses()")


def credentials(live, attacker: Side, victim: Side) -> Iterator[tuple[str, dict[str, str]]]:
    """What one side holds, each alone and mixed with the victim's identifiers."""
    pair = live.control(f"bitrix24/portals/{attacker.portal}/tokens", json={"user_id": 1})
    launch = {**attacker.launch["query"], **attacker.launch["form"], "AUTH_ID": pair["access_token"],
              "REFRESH_ID": pair["refresh_token"]}
    victim_ids = {"installation": str(victim.ids["portal"]), "member_id": victim.member_id, "DOMAIN": victim.portal,
                  "tenant": victim.shop}
    yield "nothing, the victim's ids", dict(victim_ids)
    yield "own launch, the victim's invoice", dict(launch, PLACEMENT="CRM_SMART_INVOICE_DETAIL_TAB",
                                                   PLACEMENT_OPTIONS=json.dumps({"ID": victim.invoices[0]}))
    yield "own launch as the victim's member_id", dict(launch, member_id=victim.member_id, DOMAIN=victim.portal)
    yield "own launch with the victim's domain", dict(launch, DOMAIN=victim.portal)
    for name, token in attacker.tokens.items():
        for installation in victim.ids.values():
            yield f"own {name} form token", {"token": token, "installation": str(installation),
                                             "member_id": victim.member_id, "error_code": "leak_code",
                                             "action": "ignore"}
    with live.app.test_request_context():
        for installation in victim.ids.values():
            for own in attacker.ids.values():
                yield "own Xero link, the victim's installation", {"installation": str(installation),
                                                                   "sig": installation_token(own)}
                bexio = parse_qs(urlsplit(connect_url(own)).query)["sig"][0]
                yield "own Bexio link, the victim's installation", {"installation": str(installation), "sig": bexio,
                                                                    "token": disconnect_token(own)}
    yield "own DG1 session, the victim's products", {**attacker.dg1, "key": victim.products[0], "site": "ch",
                                                     "tenant": victim.shop, "action": "ignore"}
    with live.app.app_context():
        secret = secrets_of(find_tenant(attacker.shop)).launch_secret
    ts = str(int(live.sandbox.clock.time()))
    for page in ("orders", "products", "settings"):
        yield f"DG1 launch of the victim signed with own secret ({page})", {
            "tenant": victim.shop, "site": "ch", "user": "admin", "ts": ts, "page": page,
            "sig": signing.launch_signature(secret, victim.shop, "ch", "admin", ts, page)}
    hook = {"event": "ONCRMDYNAMICITEMUPDATE", "auth[member_id]": victim.member_id,
            "auth[application_token]": attacker.launch["form"]["APPLICATION_TOKEN"], "ts": ts,
            "data[FIELDS][ID]": victim.invoices[0], "data[FIELDS][ENTITY_TYPE_ID]": "31"}
    yield "own application token, the victim's member_id (event)", hook
    yield "own application token, the victim's member_id (uninstall)", dict(hook, event="ONAPPUNINSTALL",
                                                                           **{"data[CLEAN]": "1"})


def dg1_webhooks(live, attacker: Side, victim: Side) -> Iterator[tuple[str, str, bytes, dict[str, str]]]:
    with live.app.app_context():
        secret = secrets_of(find_tenant(attacker.shop)).webhook_secret
    ts = str(int(live.sandbox.clock.time()))
    # Signed with the attacker's own secret: for the victim's URL; for its own URL naming the
    # victim in the body; for its own URL naming the victim's order only (stored for the
    # attacker, whose DG1 key cannot read that order: the sweep's run_jobs proves it).
    for url_tenant, body_tenant in ((victim.shop, victim.shop), (attacker.shop, victim.shop), (attacker.shop, None)):
        event = {"event_id": f"forged-{url_tenant}-{body_tenant}", "topic": "order.updated", "site_id": "ch",
                 "data": {"order_id": victim.orders[0]}}
        body = json.dumps({**event, "tenant_id": body_tenant} if body_tenant else event).encode()
        headers = {"X-DG1-Timestamp": ts, "X-DG1-Signature": signing.webhook_signature(secret, ts, body),
                   "X-DG1-Delivery-Id": f"forged-{url_tenant}-{body_tenant}", "X-DG1-Topic": "order.updated",
                   "Content-Type": "application/json"}
        yield f"own webhook secret, /hooks/dg1/{url_tenant}, body for {body_tenant}", url_tenant, body, headers


def _path(rule, values: dict[str, str]) -> str:
    path = rule.rule
    for arg, value in values.items():
        path = re.sub(rf"<(?:[a-z]+:)?{arg}>", value, path)
    return path


def _fillings(live, rule, victim: Side) -> list[dict[str, str]]:
    fills: list[dict[str, str]] = [{}]
    for arg in sorted(rule.arguments):
        fills = [dict(f, **{arg: value}) for f in fills for value in guesses(arg, victim)]
    return fills


@dataclass
class Answer:
    what: str
    status: int
    body: str
    headers: dict[str, str]


def sweep(live, attacker: Side, victim: Side) -> list[Answer]:
    """Call every route with everything the attacker holds, aimed at the victim."""
    http = requests.Session()
    answers: list[Answer] = []
    held = list(credentials(live, attacker, victim))
    for rule in live.app.url_map.iter_rules():
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        for values in _fillings(live, rule, victim):
            url = live.app_url + _path(rule, values)
            for method in methods:
                for what, params in held:
                    if method == "GET":
                        response = http.get(url, params=params, allow_redirects=False, timeout=60)
                    else:
                        response = http.post(url, data=params, allow_redirects=False, timeout=60,
                                             headers={"HX-Request": "true"} if "token" in params else {})
                    answers.append(Answer(f"{method} {rule.rule} {values} with {what}", response.status_code,
                                          response.text, dict(response.headers)))
                    if response.is_redirect and response.headers["Location"].startswith(live.app_url) \
                            or response.headers.get("Location", "").startswith("/"):
                        location = response.headers["Location"]
                        target = location if location.startswith("http") else live.app_url + location
                        followed = http.get(target, allow_redirects=False, timeout=60)
                        answers.append(Answer(f"{method} {rule.rule} {values} with {what} -> {location}",
                                              followed.status_code, followed.text, dict(followed.headers)))
    for what, tenant, body, headers in dg1_webhooks(live, attacker, victim):
        response = http.post(f"{live.app_url}/hooks/dg1/{tenant}", data=body, headers=headers, timeout=30)
        answers.append(Answer(what, response.status_code, response.text, dict(response.headers)))
    return answers


def leaks(answers: list[Answer], victim: Side) -> list[str]:
    found = []
    for answer in answers:
        shown = [m for m in victim.markers if m in answer.body]
        if shown:
            found.append(f"{answer.what}: {answer.status} shows {shown[:3]}")
        if answer.status >= 500:
            found.append(f"{answer.what}: {answer.status}")
    return found


def shows(answers: list[Answer], side: Side) -> set[str]:
    """The routes whose answers showed this side's data."""
    return {a.what.split(" ")[1] for a in answers if any(m in a.body for m in side.markers)}


def unframed(answers: list[Answer]) -> list[str]:
    """HTML pages any site could frame (clickjacking of their buttons)."""
    return sorted({a.what.split(" with ")[0] for a in answers
                   if a.headers.get("Content-Type", "").startswith("text/html")
                   and "frame-ancestors" not in a.headers.get("Content-Security-Policy", "")})


# --------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------


def test_every_route_is_classified(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert sorted(endpoints - set(ROUTES)) == [], "classify the new routes in ROUTES and check the sweep covers them"
    assert sorted(set(ROUTES) - endpoints) == [], "ROUTES lists routes that no longer exist"


def test_no_installation_reads_or_changes_anothers_data_through_any_url(world):
    live = world
    one, two = live.sides
    for attacker, victim in ((one, two), (two, one)):
        before = fingerprint(live, victim)
        answers = sweep(live, attacker, victim)
        assert len(answers) > 1000
        assert leaks(answers, victim) == []
        # The attacker's credentials did work, on its own data: the refusals above are isolation,
        # not malformed requests.
        assert {"/bitrix24/app/log", "/bitrix24/app/log.csv", "/bitrix24/dashboard/results", "/bitrix24/app",
                "/dg1/orders", "/dg1/products"} - shows(answers, attacker) == set()
        assert unframed(answers) == [], "\n".join(unframed(answers))
        live.run_jobs()  # whatever the requests queued has run, against whichever system it named
        after = fingerprint(live, victim)
        assert [k for k in before if before[k] != after[k]] == [], f"{attacker.name} changed {victim.name}'s data"


def test_each_side_sees_its_own_data_so_the_sweep_can_see_a_leak(world):
    """The markers are on the pages: a sweep that saw none of them would prove nothing."""
    live = world
    for side in live.sides:
        log = requests.get(f"{live.app_url}/bitrix24/app/log", params={"token": side.tokens["app"]}, timeout=30)
        assert f"leak{side.name}portalerr0" in log.text
        dashboard = requests.post(f"{live.app_url}/bitrix24/dashboard/results", timeout=30,
                                  data={"token": side.tokens["dashboard"]})
        assert f"leak{side.name}payer" in dashboard.text, dashboard.text[:2000]
        orders = requests.get(f"{live.app_url}/dg1/orders", params={"s": side.dg1["s"]}, timeout=30)
        assert f"leak{side.name}customer" in orders.text and f"leak{side.name}shoperr" in orders.text
        products = requests.get(f"{live.app_url}/dg1/products", params={"s": side.dg1["s"]}, timeout=30)
        assert f"leak{side.name}product" in products.text
        report = requests.get(f"{live.app_url}/bitrix24/app/report", params={"token": side.tokens["app"]}, timeout=30)
        assert f"leak{side.name}portalreportnumber" in report.text, report.text[:2000]
        shop_report = requests.get(f"{live.app_url}/dg1/report", params={"s": side.dg1["s"]}, timeout=30)
        assert f"leak{side.name}shopreportnumber" in shop_report.text, shop_report.text[:2000]


def _operator_session(live) -> requests.Session:
    with live.app.app_context():
        db.session.add(Operator(email="ops@example.test", password_hash=generate_password_hash("a long password 1")))
        db.session.commit()
    browser = requests.Session()
    signed_in = browser.post(f"{live.app_url}/operator/login", allow_redirects=False, timeout=30,
                             data={"email": "ops@example.test", "password": "a long password 1"})
    assert signed_in.status_code == 302
    cookie = signed_in.headers["Set-Cookie"]
    assert "Path=/operator" in cookie and "SameSite=Strict" in cookie and "HttpOnly" in cookie
    return browser


def test_the_operator_console_needs_its_sign_in_and_opens_no_portal_page(world):
    live = world
    one, two = live.sides
    # Everything a portal or shop holds opens nothing in the console.
    console = [r for r in live.app.url_map.iter_rules() if r.endpoint.startswith("operator.")
               and r.endpoint != "operator.login"]
    for side in (one, two):
        for rule in console:
            for values in _fillings(live, rule, side):
                for what, params in credentials(live, side, side):
                    for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                        response = requests.request(method, live.app_url + _path(rule, values), timeout=30,
                                                    allow_redirects=False,
                                                    **({"params": params} if method == "GET" else {"data": params}))
                        assert response.status_code in (302, 400), (rule.rule, what, response.status_code)
                        assert response.status_code == 400 or response.headers["Location"].endswith("/operator/login")
                        assert not any(m in response.text for s in (one, two) for m in s.markers)
    # The console's own cookie opens no portal or shop page: a sweep with it and without
    # any portal's trust shows nothing of either side.
    browser = _operator_session(live)
    assert "leakoneportalerr0" not in browser.get(f"{live.app_url}/operator/", timeout=30).text  # lists, no log
    for victim in (one, two):
        answers = list(sweep_without_credentials(live, victim, browser))
        assert leaks(answers, one) == [] and leaks(answers, two) == []


def sweep_without_credentials(live, victim: Side, browser: requests.Session) -> Iterator[Answer]:
    for rule in live.app.url_map.iter_rules():
        if rule.endpoint.startswith("operator."):
            continue
        for values in _fillings(live, rule, victim):
            url = live.app_url + _path(rule, values)
            guessed = {"installation": str(victim.ids["portal"]), "member_id": victim.member_id,
                       "DOMAIN": victim.portal, "tenant": victim.shop}
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = browser.request(method, url, timeout=30, allow_redirects=False,
                                           **({"params": guessed} if method == "GET" else {"data": guessed}))
                yield Answer(f"{method} {rule.rule} {values} with the operator cookie", response.status_code,
                             response.text, dict(response.headers))
