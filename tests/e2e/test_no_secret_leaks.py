"""No secret in the logs of an end-to-end run, and no token in the database file.

One run through the sandboxes touches every kind of secret bridge holds: the Bitrix24
portal is installed (application token, OAuth tokens), Xero is connected through its
consent page (OAuth tokens, the signed settings link), an invoice syncs to Xero, a DG1
shop is launched from its admin (signed launch, session token in the page URLs) and an
order becomes a Bexio invoice (the shop's API key and webhook secret, Bexio's tokens).
Every log record the process made, at DEBUG, from every logger (bridge, requests, urllib3,
the HTTP servers' access lines) is then searched for every one of those values, and the
database file is read byte for byte for every token.
"""
from __future__ import annotations

import logging
import os
import re
from urllib.parse import parse_qs, urlsplit

import requests
from sqlalchemy import select

from bridge.connectors.dg1.tenants import find_tenant, secrets_of
from bridge.extensions import db
from bridge.models import Credential
from bridge.vault import vault_for_app
from tests.connectors.dg1.test_live import place_order, wait_delivered
from tests.e2e.test_bitrix24_xero import deliver_events, new_invoice, xero_invoices


def everything_logged(caplog) -> str:
    return "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)


def held_secrets(live, install_reply: dict, dg1_session: str) -> dict[str, str]:
    """Every secret value the run used, by name (only values long enough to be unambiguous)."""
    config = live.app.config
    found = {name: config[name] for name in ("SECRET_KEY", "TOKEN_ENCRYPTION_KEY", "XERO_CLIENT_SECRET",
                                             "XERO_WEBHOOK_KEY", "BITRIX24_CLIENT_SECRET", "BEXIO_CLIENT_SECRET")
             if config.get(name)}
    found["bitrix24 application token"] = install_reply["application_token"]
    found["bitrix24 install AUTH_ID"] = install_reply["auth"]["access_token"]
    found["bitrix24 install REFRESH_ID"] = install_reply["auth"]["refresh_token"]
    found["dg1 admin session"] = dg1_session
    with live.app.app_context():
        vault = vault_for_app(live.app)
        for credential in db.session.scalars(select(Credential)):
            for key, value in vault.read(credential.id).data.items():
                if key in ("access_token", "refresh_token", "id_token") and value:
                    found[f"{credential.system} {key} #{credential.id}"] = str(value)
        shop = secrets_of(find_tenant("demo"))
        found.update({"dg1 api key": shop.api_key, "dg1 webhook secret": shop.webhook_secret,
                      "dg1 launch secret": shop.launch_secret})
    return {name: value for name, value in found.items() if value and len(value) >= 8}


def database_bytes(live) -> bytes:
    url = live.app.config["SQLALCHEMY_DATABASE_URI"]
    with live.app.app_context():
        db.engine.dispose()  # everything written reaches the file
    path = url.removeprefix("sqlite:///")
    return b"".join(open(p, "rb").read() for p in (path, path + "-wal") if os.path.exists(p))


def test_no_secret_reaches_a_log_line_or_the_database_file_in_an_end_to_end_run(portal, shop, caplog):
    live = portal
    caplog.set_level(logging.DEBUG)  # stricter than production's INFO: library debug lines included
    install_reply = live.installed
    # An invoice to Xero, with the events and jobs in between.
    new_invoice(live)
    deliver_events(live)
    assert len(xero_invoices(live)) == 1
    # The DG1 admin opens bridge's pages; an order becomes a Bexio invoice.
    url = live.control("dg1/launch-url?tenant=demo&site=ch&page=orders", method="GET")["url"]
    orders_page = requests.get(url, timeout=30)
    assert orders_page.status_code == 200
    session = parse_qs(urlsplit(orders_page.url).query)["s"][0]
    place_order(live)
    wait_delivered(live, 1)
    live.run_jobs()
    live.run_jobs()

    secrets = held_secrets(live, install_reply, session)
    assert {"bitrix24 application token", "dg1 webhook secret", "SECRET_KEY"} <= set(secrets)
    assert any(name.startswith("xero access_token") for name in secrets)
    assert any(name.startswith("bexio access_token") for name in secrets)
    logged = everything_logged(caplog)
    assert len(caplog.records) > 100 and "/hooks/bitrix24" in logged  # the run was logged, access lines too
    assert [name for name, value in secrets.items() if value in logged] == []
    # Signed links and form tokens are credentials too (hours long): never in an access line.
    assert re.findall(r"[?&](?:sig|s|token)=(?!\[redacted\])[^&\s\"]{20,}", logged) == []

    if live.app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        raw = database_bytes(live)
        tokens = {name: value for name, value in secrets.items()
                  if "token" in name or "secret" in name.lower() or "key" in name.lower() or "REFRESH" in name
                  or "AUTH" in name}
        assert [name for name, value in tokens.items() if value.encode() in raw] == []
