"""Trust checks that no other test could see broken (each was a surviving mutant of
``catalogue.py``): every test here fails with its check removed. Part of ``make test``."""
from __future__ import annotations

import json
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner
from sqlalchemy import func, select

from bridge.connectors.bitrix24 import store
from bridge.connectors.bitrix24.iframe import FORM_TOKEN_MAX_AGE, Viewer, form_token
from bridge.connectors.bitrix24.models import Bitrix24Viewer
from bridge.web.bitrix24.pages import APP_PAGES
from bridge.connectors.dg1 import signing
from bridge.connectors.dg1 import session as admin_session
from bridge.connectors.dg1.tenants import add_tenant
from bridge.extensions import db
from bridge.models import InboxEvent, Installation, LedgerConnection, Link, SyncRecord, WorkItem, utcnow

FORM = "application/x-www-form-urlencoded"
A, B = "member-a", "member-b"
TOKEN_A, TOKEN_B = "application-token-a", "application-token-b"


def _portal(member: str, token: str, host: str) -> Installation:
    return store.save_oauth(member_id=member, domain=host, application_token=token, tokens={
        "access_token": f"at-{member}", "refresh_token": f"rt-{member}", "expires_in": 3600, "member_id": member,
        "client_endpoint": f"https://{host}/rest/", "server_endpoint": "https://oauth.bitrix.info/rest/"})


@pytest.fixture
def portals(app_ctx):
    return _portal(A, TOKEN_A, "a.bitrix24.com"), _portal(B, TOKEN_B, "b.bitrix24.com")


def _count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def _viewer(installation: Installation, *, admin: bool = True) -> Viewer:
    return Viewer(installation, user_id=1 if admin else 2, is_admin=admin, name="")


# --------------------------------------------------------------------------------------
# Bitrix24: member_id and application_token belong together
# --------------------------------------------------------------------------------------


def test_a_portals_token_opens_no_other_portal(client, portals):
    """Portal A's application token (every user of A's app pages sees it) with B's member_id."""
    event = {"event": "ONCRMDYNAMICITEMUPDATE", "data[FIELDS][ID]": "7", "data[FIELDS][ENTITY_TYPE_ID]": "31",
             "ts": "1723538517", "auth[member_id]": B, "auth[application_token]": TOKEN_A}
    assert client.post("/hooks/bitrix24", data=event).status_code == 401
    assert _count(InboxEvent) == 0
    launch = client.post("/bitrix24/app?DOMAIN=b.bitrix24.com",
                         data={"member_id": B, "APPLICATION_TOKEN": TOKEN_A, "AUTH_ID": "x"})
    assert launch.status_code == 401


@responses.activate
def test_a_portal_user_confirmed_for_one_portal_is_not_one_of_another(client, portals):
    """A's user's AUTH_ID, remembered as confirmed by A, is asked about again at B (who refuses it)."""
    a, b = portals
    db.session.add(Bitrix24Viewer(token_hash=store.hash_token("auth-of-a"), installation_id=a.id, user_id=1,
                                  is_admin=True, name="Ada of A", expires_at=utcnow() + timedelta(hours=1)))
    db.session.commit()
    responses.post("https://b.bitrix24.com/rest/profile", status=401,
                   json={"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"})
    responses.post("https://b.bitrix24.com/rest/profile.json", status=401,
                   json={"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"})
    page = client.post("/bitrix24/app?DOMAIN=b.bitrix24.com",
                       data={"member_id": B, "APPLICATION_TOKEN": TOKEN_B, "AUTH_ID": "auth-of-a"})
    assert page.status_code == 401 and "Ada of A" not in page.get_data(as_text=True)


@responses.activate
def test_the_install_page_keeps_no_tokens_issued_for_another_portal(client, app_ctx):
    """The form claims portal A; the OAuth server says the refresh token is B's (and DOMAIN is B's)."""
    responses.post("https://oauth.bitrix.info/oauth/token/", json={
        "access_token": "at-b", "refresh_token": "rt-b", "expires_in": 3600, "member_id": B,
        "client_endpoint": "https://b.bitrix24.com/rest/", "server_endpoint": "https://oauth.bitrix.info/rest/"})
    page = client.post("/bitrix24/install?DOMAIN=b.bitrix24.com", data={
        "member_id": A, "AUTH_ID": "at-b", "REFRESH_ID": "rt-b", "APPLICATION_TOKEN": TOKEN_A,
        "DOMAIN": "b.bitrix24.com", "SERVER_ENDPOINT": "https://oauth.bitrix.info/rest/"})
    assert page.status_code == 401
    db.session.rollback()
    assert store.find(A) is None


@responses.activate
def test_a_token_renewal_that_answers_for_another_portal_is_not_kept(app_ctx):
    """The OAuth server's reply names the portal: tokens of another are never stored and used."""
    from bridge.connectors.bitrix24.client import Bitrix24Client, OAuthAuth
    from bridge.errors import NeedsReconnect
    from bridge.vault import vault_for_app

    endpoint = "https://a.bitrix24.com/rest/"
    vault = vault_for_app(app_ctx)
    credential = vault.create("bitrix24", {"access_token": "old", "refresh_token": "r1", "expires_in": 3600,
                                           "client_endpoint": endpoint,
                                           "server_endpoint": "https://oauth.bitrix.info/rest/"})
    db.session.commit()
    auth = OAuthAuth(vault, credential, client_id="cid", client_secret="sec", member_id=A,
                     default_token_url="https://oauth.bitrix.info/oauth/token/")
    responses.post(endpoint + "profile", json={"error": "expired_token", "error_description": "expired"}, status=401)
    responses.post("https://oauth.bitrix.info/oauth/token/", json={
        "access_token": "of-b", "refresh_token": "r-of-b", "expires_in": 3600, "member_id": B,
        "client_endpoint": "https://b.bitrix24.com/rest/", "server_endpoint": "https://oauth.bitrix.info/rest/"})
    with pytest.raises(NeedsReconnect, match="another portal"):
        Bitrix24Client(auth, sleep=lambda s: None).call("profile")
    with pytest.raises(NeedsReconnect):  # the connection asks for a reinstall; B's tokens are nowhere
        vault.read(credential)
    assert not any("of-b" in str(call.request.body or "") for call in responses.calls)


# --------------------------------------------------------------------------------------
# Bitrix24 app pages: the signed form tokens
# --------------------------------------------------------------------------------------


def test_an_old_form_token_is_refused(client, portals, monkeypatch):
    a, _ = portals
    with client.application.test_request_context():
        with monkeypatch.context() as m:
            m.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - FORM_TOKEN_MAX_AGE - 60)
            old = form_token(_viewer(a), APP_PAGES)
    page = client.get("/bitrix24/app/log", query_string={"token": old})
    assert page.status_code == 401 and "open too long" in page.get_data(as_text=True)


def test_only_an_administrator_repairs_the_setup(client, portals):
    a, _ = portals
    with client.application.test_request_context():
        token = form_token(_viewer(a, admin=False), "repair")
    page = client.post("/bitrix24/app/repair", data={"token": token})
    assert page.status_code == 403 and "administrator" in page.get_data(as_text=True)


def test_a_retry_names_only_the_installations_own_records(client, portals):
    a, b = portals
    theirs = SyncRecord(installation_id=b.id, flow="invoice_to_ledger", object_kind="invoice", object_id="9",
                        direction="to_ledger", state="failed", error_code="x", error_message="B's own failure")
    db.session.add(theirs)
    db.session.commit()
    with client.application.test_request_context():
        token = form_token(_viewer(a), APP_PAGES)
    page = client.post(f"/bitrix24/app/log/retry/{theirs.id}", data={"token": token})
    assert page.status_code == 404
    assert _count(WorkItem) == 0


def test_retry_all_with_one_error_retries_only_the_installations_own_records(client, portals):
    """B's failed records are not queued (nor counted) by A's "retry all with this error"."""
    a, b = portals
    for n in range(3):
        db.session.add(SyncRecord(installation_id=b.id, flow="invoice_to_ledger", object_kind="invoice",
                                  object_id=str(n), direction="to_ledger", state="failed", error_code="tax_unmapped"))
    db.session.commit()
    with client.application.test_request_context():
        token = form_token(_viewer(a), APP_PAGES)
    page = client.post("/bitrix24/app/log/retry-error", data={"token": token, "error_code": "tax_unmapped"})
    assert page.status_code == 200 and "3 objects" not in page.get_data(as_text=True)
    assert _count(WorkItem) == 0


# --------------------------------------------------------------------------------------
# Xero and Bexio connect pages
# --------------------------------------------------------------------------------------


def _xero_link(app, installation_id: int) -> dict[str, str]:
    from bridge.web.xero.connect import installation_token
    with app.test_request_context():
        return {"installation": str(installation_id), "sig": installation_token(installation_id)}


@responses.activate
def test_a_xero_state_for_another_installation_is_refused(client, portals):
    """This browser's own nonce, in a state naming another installation but not signed by bridge."""
    a, b = portals
    started = client.get("/oauth/xero/connect", query_string=_xero_link(client.application, a.id))
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    nonce = URLSafeTimedSerializer("any").loads_unsafe(state)[1]["n"]
    forged = URLSafeTimedSerializer("guessed", salt="bridge.xero.oauth-state").dumps({"i": b.id, "n": nonce})
    assert client.get("/oauth/xero/callback", query_string={"code": "c", "state": forged}).status_code == 400
    assert _count(LedgerConnection) == 0


def test_organisations_authorised_for_one_installation_are_not_attached_to_another(client, portals):
    from bridge.web.xero.connect import PENDING

    a, b = portals
    with client.session_transaction() as session:
        session[PENDING] = {"installation": a.id, "credential": 1,
                            "organisations": [{"id": "c-1", "tenant_id": "org-1", "name": "A's organisation"}]}
    chosen = client.post("/oauth/xero/choose", data={**_xero_link(client.application, b.id), "tenant_id": "org-1"})
    assert chosen.status_code == 400
    assert _count(LedgerConnection) == 0


@responses.activate
def test_a_bexio_state_from_another_connect_is_refused(client, portals):
    """Two connects in one browser: only the answer to the latest is taken."""
    from bridge.web.bexio.connect import connect_url

    a, _ = portals
    with client.application.test_request_context():
        link = urlsplit(connect_url(a.id))
    states = []
    for _ in range(2):
        started = client.get(link.path, query_string=link.query)
        assert started.status_code == 302
        states.append(parse_qs(urlsplit(started.headers["Location"]).query)["state"][0])
    answer = client.get("/oauth/bexio/callback", query_string={"code": "c", "state": states[0]})
    assert answer.status_code == 400 and "does not belong" in answer.get_data(as_text=True)
    assert _count(LedgerConnection) == 0


def test_a_bexio_link_of_one_installation_opens_no_other(client, portals):
    from bridge.web.bexio.connect import connect_url

    a, b = portals
    with client.application.test_request_context():
        link = urlsplit(connect_url(a.id))
    query = link.query.replace(f"installation={a.id}", f"installation={b.id}")
    assert client.get(link.path, query_string=query).status_code == 403


@pytest.mark.parametrize("key", ["", None])
def test_without_a_webhook_key_no_xero_webhook_is_accepted(app, client, key):
    import base64
    import hashlib
    import hmac

    app.config["XERO_WEBHOOK_KEY"] = key
    body = b'{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"X"}'
    empty_key = base64.b64encode(hmac.new(b"", body, hashlib.sha256).digest()).decode()
    answer = client.post("/hooks/xero", data=body, headers={"x-xero-signature": empty_key},
                         content_type="application/json")
    assert answer.status_code == 401


# --------------------------------------------------------------------------------------
# DG1: tenant scoping
# --------------------------------------------------------------------------------------


@pytest.fixture
def shops(app):
    app.config["DG1_CLOCK"] = lambda: 1746093610
    with app.app_context():
        yield (add_tenant("shop-a", api_key="key-a", webhook_secret="whs-a", launch_secret="ls-a",
                          admin_origin="https://admin.dg1.ch"),
               add_tenant("shop-b", api_key="key-b", webhook_secret="whs-b", launch_secret="ls-b",
                          admin_origin="https://admin.dg1.ch"))


def _dg1_session(client, shop: Installation, site: str = "ch") -> admin_session.AdminSession:
    with client.application.test_request_context():
        return admin_session.start(shop.id, shop.account_id, site, "admin")


def test_a_dg1_session_syncs_no_product_of_another_shop(client, shops):
    a, b = shops
    current = _dg1_session(client, a)
    with client.application.test_request_context():
        csrf = current.csrf
    answer = client.post("/dg1/products/sync", data={"s": current.token, "csrf": csrf, "key": "dg1:shop-b:100004"})
    assert answer.status_code == 400
    assert _count(WorkItem) == 0


@responses.activate
def test_a_dg1_shop_sees_no_ledger_link_of_another_shop_with_the_same_order_number(client, shops):
    """DG1 numbers orders per tenant: two shops both have order ch:5; only A's link is A's to see."""
    a, b = shops
    order = {"id": "5", "number": "1005", "site_id": "ch", "status": "PLACED", "currency": "CHF",
             "placed_at": "2025-05-01T09:00:00Z", "customer": {"company": "Someone"}, "line_items": [],
             "external_refs": {}, "totals": {"grand_total": "1.00"}}
    responses.get(f"{client.application.config['DG1_API_URL']}/sites/ch/orders",
                  json={"data": [order], "next_cursor": None})
    db.session.add(Link(installation_id=b.id, kind="invoice", platform_id="ch:5", ledger="bexio", ledger_org="c",
                        ledger_id="77", ledger_number="SHOP-B-INVOICE"))
    db.session.commit()
    page = client.get("/dg1/orders", query_string={"s": _dg1_session(client, a).token})
    assert page.status_code == 200 and "Someone" in page.get_data(as_text=True)
    assert "SHOP-B-INVOICE" not in page.get_data(as_text=True)


def test_a_dg1_event_naming_another_tenant_is_refused(client, shops):
    """Signed with shop A's own secret, to A's URL, for shop B."""
    body = json.dumps({"event_id": "e-1", "topic": "order.placed", "tenant_id": "shop-b", "site_id": "ch",
                       "data": {"order_id": "5"}}).encode()
    ts = "1746093610"
    answer = client.post("/hooks/dg1/shop-a", data=body, content_type="application/json", headers={
        "X-DG1-Timestamp": ts, "X-DG1-Signature": signing.webhook_signature("whs-a", ts, body),
        "X-DG1-Delivery-Id": "d-1", "X-DG1-Topic": "order.placed"})
    assert answer.status_code == 400
    assert _count(InboxEvent) == 0


def test_a_removed_dg1_shop_takes_no_webhook_and_no_launch(client, shops):
    a, _ = shops
    a.state = "uninstalled"
    db.session.commit()
    body = json.dumps({"event_id": "e-1", "topic": "order.placed", "site_id": "ch", "data": {"order_id": "5"}}).encode()
    ts = "1746093610"
    hook = client.post("/hooks/dg1/shop-a", data=body, content_type="application/json", headers={
        "X-DG1-Timestamp": ts, "X-DG1-Signature": signing.webhook_signature("whs-a", ts, body),
        "X-DG1-Delivery-Id": "d-1"})
    assert hook.status_code == 404 and _count(InboxEvent) == 0
    args = {"tenant": "shop-a", "site": "ch", "user": "admin", "ts": ts, "page": "orders"}
    args["sig"] = signing.launch_signature("ls-a", *args.values())
    assert client.get("/dg1/launch", query_string=args).status_code == 404


# --------------------------------------------------------------------------------------
# What an uninstalled installation and a forged console cookie open: nothing
# --------------------------------------------------------------------------------------


def test_an_uninstalled_portals_token_opens_nothing(client, portals):
    """Whatever else an uninstall clears, an installation that is not active opens nothing."""
    a, _ = portals
    with client.application.test_request_context():
        token = form_token(_viewer(a), APP_PAGES)
    a.state = "uninstalled"
    db.session.commit()
    event = {"event": "ONCRMDYNAMICITEMUPDATE", "data[FIELDS][ID]": "7", "data[FIELDS][ENTITY_TYPE_ID]": "31",
             "ts": "1723538517", "auth[member_id]": A, "auth[application_token]": TOKEN_A}
    assert client.post("/hooks/bitrix24", data=event).status_code == 401
    assert _count(InboxEvent) == 0
    launch = client.post("/bitrix24/app?DOMAIN=a.bitrix24.com",
                         data={"member_id": A, "APPLICATION_TOKEN": TOKEN_A, "AUTH_ID": "x"})
    assert launch.status_code == 401
    assert client.get("/bitrix24/app/log", query_string={"token": token}).status_code == 401


def test_a_forged_operator_cookie_opens_nothing(client, app_ctx):
    from werkzeug.security import generate_password_hash

    from bridge.dashboard.models import Operator
    from bridge.web.operator.console import COOKIE

    operator = Operator(email="ops@example.test", password_hash=generate_password_hash("a long password 1"))
    db.session.add(operator)
    db.session.commit()
    forged = URLSafeTimedSerializer("guessed", salt="operator-session").dumps(
        {"o": operator.id, "h": operator.password_hash[-16:], "c": "x"})
    client.set_cookie(COOKIE, forged, path="/operator")
    answer = client.get("/operator/")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/operator/login")
