"""Xero's online invoice link, end to end over real HTTP: fetched once when the approval is
first seen, then on the invoice tab and in a Bitrix24 field that an existing installation
gets without a reinstall."""
from __future__ import annotations

from tests.e2e.conftest import ACME
from tests.e2e.test_bitrix24_xero import deliver_events, new_invoice, portal_invoice, xero_invoices
from tests.e2e.test_bitrix24_xero_invoices import xero_flush
from tests.e2e.test_bitrix24_xero_parties import invoice_tab

FIELD = "UF_CRM_SMART_INVOICE_ONLINE_LINK"


def online_calls(live, since: int) -> int:
    calls = live.control(f"requests?since={since}", method="GET")["requests"]
    return sum(1 for c in calls if "onlineinvoice" in str(c.get("path", "")).lower())


def test_the_online_link_reaches_the_tab_and_a_field_made_by_an_upgrade_step(portal):
    live = portal
    state = live.control(f"bitrix24/portals/{ACME}/state", method="GET")
    # an installation from before this release: no such field on the portal
    assert FIELD not in [u["fieldName"] for u in state["userfields"]]
    item = new_invoice(live)
    deliver_events(live)
    (invoice,) = xero_invoices(live)
    since = live.control("requests", method="GET")["next"]
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/approve")
    xero_flush(live)
    deliver_events(live)
    url = portal_invoice(live, item["id"])["ufCrmSmartInvoiceOnlineLink"]
    assert url.startswith("https://in.xero.com/")
    fields = live.control(f"bitrix24/portals/{ACME}/state", method="GET")["userfields"]
    assert [u["fieldName"] for u in fields].count(FIELD) == 1
    assert url in invoice_tab(live, item["id"])
    # paid later: the link is not fetched again
    live.control(f"xero/orgs/{live.tenant}/invoices/{invoice['InvoiceID']}/pay", json={})
    xero_flush(live)
    assert online_calls(live, since) == 1
