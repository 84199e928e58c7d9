"""The typical connector, for a side-by-side comparison: the official xero-python SDK syncing
one invoice at a time, as most Bitrix24-to-Xero scripts and marketplace apps do:

1. look the customer up by name (``GET /Contacts?where=Name=="..."``);
2. create it if missing (``PUT /Contacts``);
3. ``PUT /Invoices`` with the lines.

It runs against the same sandbox as bridge, on the same invoices, in a fresh organisation of
its own (so it meets the same "new customer first, known customer after" sequence), within
the same limits (a 429 is waited out as its ``Retry-After`` says, as the SDK's users do).
Calls are counted by the sandbox (its 24-hour window for the organisation), the same
counter bridge's figures come from. The time per invoice runs from the moment the peer
starts on it (as if its webhook arrived at once, no queue of its own) to the ``PUT``
answered: a lower bound for any real deployment of it.

The benches import ``Peer``; alone it syncs N generated invoices and prints one JSON line:

    .venv/bin/python bench/peer.py [--invoices 20] [--customers 5]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class SourceInvoice:
    """What a connector reads from the CRM for one invoice (bridge reads the same in the portal)."""

    number: str
    customer: str
    email: str
    description: str
    quantity: int
    unit_price: Decimal
    tax_rate: int = 15


class Peer:
    """One organisation, one SDK client, invoices synced one at a time."""

    def __init__(self, sandbox_url: str, name: str = "Peer connector (NZ)") -> None:
        from xero_python.accounting import AccountingApi
        from xero_python.api_client import ApiClient, Configuration
        from xero_python.api_client.oauth2 import OAuth2Token

        self.sandbox_url = sandbox_url
        org = requests.post(f"{sandbox_url}/_sandbox/xero/orgs", json={"name": name, "region": "NZ"}, timeout=30)
        self.tenant = org.json()["tenantId"]
        minted = requests.post(f"{sandbox_url}/_sandbox/xero/tokens", json={"tenant_ids": [self.tenant]},
                               timeout=30).json()
        token = {**{k: minted[k] for k in ("access_token", "refresh_token", "id_token", "token_type", "expires_in")},
                 "scope": minted["scope"].split(), "expires_at": time.time() + 1700}
        # xero-python uses urllib3, not requests: point its host at the sandbox (VERIFIED.md).
        configuration = Configuration(oauth2_token=OAuth2Token(client_id="bridge-demo",
                                                               client_secret="bridge-demo-secret"))
        client = ApiClient(configuration, pool_threads=1)
        client.oauth2_token_getter(lambda: token)
        client.oauth2_token_saver(lambda new: token.update(new))
        self.api = AccountingApi(client, base_url=f"{sandbox_url}/api.xero.com/api.xro/2.0")
        self.waited_for_limits = 0.0

    def calls(self) -> int:
        """Xero API calls made for the peer's organisation, as the sandbox counts them."""
        day = requests.get(f"{self.sandbox_url}/_sandbox/xero/limits", timeout=30).json()["day"]
        return sum(n for key, n in day.items() if key.endswith(f"/{self.tenant}"))

    def _call(self, method, *args, **kwargs):
        from xero_python.exceptions import RateLimitException

        while True:
            try:
                return method(self.tenant, *args, **kwargs)
            except RateLimitException as limited:
                pause = float((limited.headers or {}).get("Retry-After", 1))
                self.waited_for_limits += pause
                time.sleep(pause)

    def sync(self, invoice: SourceInvoice) -> float:
        """Sync one invoice; returns the seconds from starting on it to the ``PUT`` answered."""
        from xero_python.accounting import Contact, Contacts, Invoice, Invoices, LineItem

        started = time.monotonic()
        found = self._call(self.api.get_contacts, where=f'Name=="{invoice.customer}"').contacts
        if found:
            contact_id = found[0].contact_id
        else:
            made = self._call(self.api.create_contacts, Contacts(contacts=[
                Contact(name=invoice.customer, email_address=invoice.email)]))
            contact_id = made.contacts[0].contact_id
        line = LineItem(description=invoice.description, quantity=invoice.quantity,
                        unit_amount=float(invoice.unit_price), account_code="200", tax_type="OUTPUT2")
        self._call(self.api.create_invoices, Invoices(invoices=[Invoice(
            type="ACCREC", contact=Contact(contact_id=contact_id), reference=invoice.number,
            due_date=date(2026, 12, 15), line_items=[line])]), summarize_errors=False)
        return time.monotonic() - started


def generated(count: int, customers: int, prefix: str = "PEER") -> list[SourceInvoice]:
    """``count`` invoices over ``customers`` companies, customer after customer."""
    return [SourceInvoice(number=f"{prefix}-{n:05d}", customer=f"Customer {n % customers:03d} Ltd",
                          email=f"ap{n % customers}@customer.test", description="Consulting hour",
                          quantity=1 + n % 3, unit_price=Decimal("115.00")) for n in range(count)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=20)
    parser.add_argument("--customers", type=int, default=5)
    args = parser.parse_args()
    from deployment import LATENCY_MS, percentile, seconds
    from tests.support.servers import sandbox_in_process

    with tempfile.TemporaryDirectory():
        import os
        os.environ["SANDBOX_LATENCY_MS"] = str(LATENCY_MS)
        sandbox = sandbox_in_process("http://localhost:5000")
        try:
            peer = Peer(sandbox.url)
            times = [peer.sync(invoice) for invoice in generated(args.invoices, args.customers)]
            calls = peer.calls()
        finally:
            sandbox.stop()
    print(json.dumps({"invoices": args.invoices, "customers": args.customers, "latency_ms": LATENCY_MS,
                      "xero_calls": calls, "xero_calls_per_invoice": round(calls / args.invoices, 2),
                      "p50_seconds": seconds(percentile(times, 0.5)), "p95_seconds": seconds(percentile(times, 0.95))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
