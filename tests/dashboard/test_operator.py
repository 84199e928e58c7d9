"""The operator console: created by CLI, signed in by its own cookie, read-only, unframeable,
and no key to a portal's pages."""
from __future__ import annotations

import re

import pytest

from bridge.extensions import db
from bridge.models import Installation, LedgerConnection, RateBudget, SyncRecord

PASSWORD = "correct horse battery"


@pytest.fixture
def operator(app, runner):
    result = runner.invoke(args=["operator", "create", "Ops@Partner.example", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    return "ops@partner.example"


@pytest.fixture
def two_installations(app_ctx):
    acme = Installation(platform="bitrix24", account_id="member-acme", domain="acme.bitrix24.com")
    shop = Installation(platform="dg1", account_id="tenant-7", domain="shop.example")
    db.session.add_all([acme, shop])
    db.session.flush()
    db.session.add(LedgerConnection(installation_id=acme.id, ledger="xero", organisation_id="org-1",
                                    organisation_name="Acme NZ", health="needs_reconnect",
                                    health_message="Xero refused the refresh token."))
    db.session.add(RateBudget(key="xero:org-1", remaining_day=4321))
    db.session.add(RateBudget(key="b24:member-acme", remaining_minute=40))
    db.session.add(SyncRecord(installation_id=acme.id, flow="invoice_to_ledger", object_kind="invoice",
                              object_id="12", direction="to_ledger", state="failed",
                              error_message="Xero refused the invoice: the account code is archived."))
    db.session.commit()
    return acme.id, shop.id


def sign_in(client, email, password=PASSWORD):
    return client.post("/operator/login", data={"email": email, "password": password})


def test_the_cli_stores_a_hash_never_the_password(app_ctx, operator):
    from bridge.dashboard.models import Operator

    row = db.session.query(Operator).one()
    assert row.email == operator and PASSWORD not in row.password_hash and row.password_hash.startswith(("scrypt", "pbkdf2"))


def test_a_short_password_is_refused(runner):
    result = runner.invoke(args=["operator", "create", "a@b.example", "--password", "short"])
    assert result.exit_code != 0 and "12 characters" in result.output


def test_signs_in_and_shows_every_installation_with_its_health(client, operator, two_installations):
    assert client.get("/operator/").status_code == 302  # not signed in
    wrong = sign_in(client, operator, "wrong password!")
    assert wrong.status_code == 401 and "not right" in wrong.text
    response = sign_in(client, operator)
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "SameSite=Strict" in cookie and "HttpOnly" in cookie and "Path=/operator" in cookie
    page = client.get("/operator/")
    assert page.status_code == 200
    assert "2 installations" in page.text
    assert "acme.bitrix24.com" in page.text and "shop.example" in page.text
    assert "needs reconnect" in page.text and "xero: 4,321" in page.text and "bitrix24: no daily figure" in page.text
    assert page.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    acme_id, _ = two_installations
    detail = client.get(f"/operator/installations/{acme_id}")
    assert "the account code is archived" in detail.text and "Xero refused the refresh token." in detail.text


def test_an_alert_sent_reads_as_the_admin_read_it_with_its_cause_beside(client, operator, two_installations):
    """The console says what the alert told the administrator, not only its cause's code."""
    from bridge.dashboard.models import SentAlert
    from bridge.messages import N_
    from bridge.stored_messages import columns

    acme_id, _ = two_installations
    db.session.add(SentAlert(installation_id=acme_id, cause="failed:invoice_to_ledger:unmapped_tax_rate",
                             day="2026-12-06", channels="bitrix24",
                             **columns(message=N_("A sync failed and will not be retried by itself: %(reason)s",
                                                  reason="The tax rate 9 % is not mapped."))))
    db.session.commit()
    sign_in(client, operator)
    detail = client.get(f"/operator/installations/{acme_id}").text
    assert "A sync failed and will not be retried by itself: The tax rate 9 % is not mapped." in detail
    assert "(failed:invoice_to_ledger:unmapped_tax_rate)</span> via bitrix24" in detail


def test_an_id_or_page_past_what_a_database_holds_is_a_404_or_the_first_page(client, operator, two_installations):
    """Past 64 bits PostgreSQL refuses the number ("bigint out of range"): both were 500s there."""
    sign_in(client, operator)
    acme_id, _ = two_installations
    assert client.get(f"/operator/installations/{2**64}").status_code == 404
    for page in ("10" * 20, "²"):
        detail = client.get(f"/operator/installations/{acme_id}", query_string={"page": page})
        assert detail.status_code == 200 and "the account code is archived" in detail.text


def test_sign_out_needs_the_csrf_token(client, operator, two_installations):
    sign_in(client, operator)
    assert client.post("/operator/logout", data={}).status_code == 400
    page = client.get("/operator/").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert client.post("/operator/logout", data={"csrf": csrf}).status_code == 302
    assert client.get("/operator/").status_code == 302


def test_a_login_posted_from_another_site_is_refused(client, operator):
    response = client.post("/operator/login", data={"email": operator, "password": PASSWORD},
                           headers={"Origin": "https://evil.example"})
    assert response.status_code == 400


def test_the_operator_cookie_opens_no_portal_page(client, operator, two_installations):
    sign_in(client, operator)
    assert client.post("/bitrix24/dashboard/results", data={}).status_code == 400
    assert client.post("/bitrix24/dashboard", data={}).status_code == 400


def test_a_changed_password_ends_old_sessions(client, runner, operator):
    sign_in(client, operator)
    assert client.get("/operator/").status_code == 200
    runner.invoke(args=["operator", "create", operator, "--password", "another long password"])
    assert client.get("/operator/").status_code == 302


def test_guessing_passwords_is_slowed_down(client, operator):
    answers = [sign_in(client, operator, f"guess {i}").status_code for i in range(11)]
    assert answers[:10] == [401] * 10 and answers[10] == 429
    assert sign_in(client, operator).status_code == 429  # even the right password waits now


def test_the_console_speaks_the_browsers_language(client, operator, two_installations):
    from flask_babel import refresh

    def ask(method, path, language, **kwargs):
        refresh()  # these tests share one app context; a real request has its own locale
        return getattr(client, method)(path, headers={"Accept-Language": language}, **kwargs)

    german = "de-CH,de;q=0.9,en;q=0.5"
    login = ask("get", "/operator/login", german)
    assert '<html lang="de">' in login.text and "Anmelden" in login.text and "Passwort" in login.text
    wrong = ask("post", "/operator/login", german, data={"email": operator, "password": "wrong password!"})
    assert "Die E-Mail-Adresse oder das Passwort ist nicht richtig." in wrong.text
    ask("post", "/operator/login", german, data={"email": operator, "password": PASSWORD})
    page = ask("get", "/operator/", german)
    assert "2 Installationen." in page.text and "muss neu verbunden werden" in page.text
    assert "xero: 4.321" in page.text  # German digit grouping
    assert "Accept-Language" in page.headers["Vary"]
    acme_id, _ = two_installations
    detail = ask("get", f"/operator/installations/{acme_id}", german).text
    assert "1 Fehler in 24 h" in detail and "fehlgeschlagen" in detail
    english = ask("get", "/operator/", "fr-FR,en;q=0.8").text
    assert '<html lang="en">' in english and "2 installations." in english  # no French: English
