"""End to end against the sandbox portal: a forged uninstall is refused, a real one is
confirmed, and a re-install within the grace period gets the data back."""
from __future__ import annotations

import requests
from sqlalchemy import select

from bridge.connectors.bitrix24 import store
from bridge.extensions import db
from bridge.models import Credential, Link, SyncRecord, utcnow

from .conftest import ACME

FLOW = "confirm_uninstall"  # bridge/connectors/bitrix24/uninstall.py (not imported: the tests run on any version)


def add_link(live, member_id: str) -> None:
    with live.app.app_context():
        installation = store.find(member_id)
        db.session.add(Link(installation_id=installation.id, kind="invoice", platform_id="1", ledger="xero",
                            ledger_org="org-1", ledger_id="inv-1"))
        db.session.commit()


def test_a_forged_uninstall_with_the_token_any_app_page_shows_is_refused_and_sync_goes_on(
        live, installed, placeholder_flows):
    """Issue 15's attack: APPLICATION_TOKEN from the iframe POST every user's app page gets."""
    member_id = installed["auth"]["member_id"]
    forged = {"event": "ONAPPUNINSTALL", "data[CLEAN]": "1", "data[LANGUAGE_ID]": "en", "ts": "1723538600",
              "auth[domain]": ACME, "auth[member_id]": member_id,
              "auth[application_token]": installed["form"]["APPLICATION_TOKEN"]}
    for _ in range(5):
        assert requests.post(f"{live.app_url}/hooks/bitrix24", data=forged, timeout=10).status_code == 200
    live.run_jobs()
    with live.app.app_context():
        installation = store.find(member_id)
        assert installation.state == "active" and db.session.get(Credential, installation.credential_id)
        records = db.session.scalars(select(SyncRecord).where(SyncRecord.flow == FLOW)).all()
        assert [(r.state, r.error_code) for r in records] == [("skipped", "uninstall_refused")]
    assert live.control(f"bitrix24/portals/{ACME}/state", method="GET")["installation"]["installed"] is True
    # The portal's next change still reaches the sync.
    runs, _ = placeholder_flows
    item = live.control(f"bitrix24/portals/{ACME}/invoices", json={"fields": {"title": "After"}})["item"]
    live.control("bitrix24/events/wait", json={"timeout": 5})
    live.run_jobs()
    assert ("invoice_to_ledger", f"invoice:{item['id']}") in runs


def test_a_real_uninstall_with_clean_is_confirmed_and_a_reinstall_in_the_grace_period_restores(live, installed):
    member_id = installed["auth"]["member_id"]
    add_link(live, member_id)
    live.control(f"bitrix24/portals/{ACME}/uninstall", json={"clean": True})
    live.control("bitrix24/events/wait", json={"timeout": 5})
    with live.app.app_context():
        assert store.find(member_id).state == "active"  # the event alone changes nothing
    live.run_jobs()
    with live.app.app_context():
        installation = store.find(member_id)
        first_id = installation.id
        assert installation.state == "uninstalled" and installation.credential_id is None
        assert installation.purge_after > utcnow() and db.session.scalar(select(Link)) is not None
    # Installed again (the real install page) within the grace period: the same installation.
    reply = live.control(f"bitrix24/portals/{ACME}/install", json={"mode": "page"})
    assert reply["page_status"] == 200
    live.control("bitrix24/events/wait", json={"timeout": 5})
    live.run_jobs()
    with live.app.app_context():
        installation = store.find(member_id)
        assert (installation.id, installation.state, installation.purge_after) == (first_id, "active", None)
        assert db.session.scalar(select(Link.installation_id)) == first_id
        assert store.verify(member_id, reply["application_token"]) is not None


def test_a_real_uninstall_without_clean_is_confirmed_and_keeps_the_data_for_good(live, installed):
    live.control(f"bitrix24/portals/{ACME}/uninstall", json={"clean": False})
    live.control("bitrix24/events/wait", json={"timeout": 5})
    live.run_jobs()
    with live.app.app_context():
        installation = store.find(installed["auth"]["member_id"])
        assert installation.state == "uninstalled" and installation.credential_id is None
        assert installation.purge_after is None
