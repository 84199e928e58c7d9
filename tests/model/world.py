"""The world a model history runs in: bridge and the sandbox on real ports, reset cheaply
between histories, driven step by step by the test.

One ``World`` per test module (starting servers per history is too slow). ``reset()``
gives each history a fresh sandbox (frozen clock), a fresh database, the Bitrix24 app
installed and Xero connected. Nothing happens on its own afterwards: Bitrix24 events and
Xero webhooks are held until a rule releases, duplicates or drops them, the queue runs
only when the test drains it, and time moves only when the test moves the sandbox clock
(bridge's rate limiter reads that clock too, and its waits move it instead of sleeping).
So a history is the same every time its seed is replayed.

Every user action goes through ``World.act``, which records it as a step; the sandbox
tags every request bridge makes with the step it was at and the work that caused it
(``X-Bridge-Cause``), which is how an invariant names the step that broke it.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from bridge.connectors.bitrix24 import store
from bridge.extensions import db, huey
from bridge.engine import WorkRequest, request_work, run_work
from bridge.models import WorkItem, utcnow
from bridge.ratelimit import DatabaseLimiter
from bridge.settings import save_section
from tests.support.live import Live, start_live
from tests.support.schema import fresh_schema

ACME = "acme.bitrix24.com"
ORG = "Bridge Demo (NZ)"
MAX_DRAIN_ROUNDS = 40


@dataclass
class Step:
    number: int
    text: str
    keys: tuple[str, ...] = ()  # the objects (work keys) a user changed in this step


@dataclass
class History:
    steps: list[Step] = field(default_factory=list)
    # object key -> numbers of the steps in which a user changed it (on either side)
    changed: dict[str, list[int]] = field(default_factory=dict)

    def describe(self, number: int | None) -> str:
        if number is None or number < 1 or number > len(self.steps):
            return "setup (before the first step)"
        return f"step {number}: {self.steps[number - 1].text}"

    def last_touching(self, *keys: str) -> int | None:
        found = [n for k in keys for n in self.changed.get(k, [])]
        return max(found) if found else None


class World:
    def __init__(self, tmp_path, database_url: str) -> None:
        self.live: Live = start_live(tmp_path, database_url)
        self.app = self.live.app
        self.sandbox = self.live.sandbox
        self.history = History()
        self.tenant = ""
        self.shop = False
        self.shop_installation_id = 0
        self.member_id = ""
        self.installation_id = 0

    # -- set-up ------------------------------------------------------------------------
    def reset(self, shop: bool = False) -> None:
        """A fresh history: sandbox, database, queue, limiter; the app installed and Xero
        connected (the e2e ``portal`` fixture's steps), with ``shop`` also the DG1 tenant
        ``demo`` connected to Bexio (the ``shop`` fixture's), then every delivery held."""
        live = self.live
        with self.app.app_context():
            fresh_schema()
        huey.flush()
        self.app.extensions.pop("bitrix24_stage_cache", None)
        self.app.extensions.pop("bitrix24_section_cache", None)  # a fresh portal's catalogue
        self.sandbox.reset()
        # Frozen at bridge's "now": Bitrix24's modified times are read against bridge's own
        # (the reconcile cursor starts at the installation), so the two must agree at the start.
        self.sandbox.clock.freeze(float(math.ceil(time.time())))
        clock = self.sandbox.clock
        with self.app.app_context():
            # bridge's own pacing on the sandbox's clock: a wait moves the clock, no sleep
            self.app.extensions["bridge_limiter"] = DatabaseLimiter(db.engine, clock=clock.time, sleep=clock.advance)
        live.control("xero/settings", json={"webhooks_enabled": False})
        live.control("bitrix24/settings", json={"allow_insecure_handlers": True})
        live.control(f"bitrix24/portals/{ACME}/settings", json={"invoices": "both"})  # smart and old invoices
        installed = live.control(f"bitrix24/portals/{ACME}/install", json={"mode": "page"})
        live.control("bitrix24/events/wait", json={"timeout": 10})
        self.member_id = installed["auth"]["member_id"]
        with self.app.app_context():
            self.installation_id = store.find(self.member_id).id
        from tests.connectors.xero.test_end_to_end import _connect_in_browser, _org
        _connect_in_browser(live, self.installation_id, ORG)
        self.tenant = _org(live, ORG)
        from bridge.sandbox.xero import seed
        org = self.sandbox.systems["xero"].orgs[self.tenant]
        # enabled in the organisation (USD: the old invoices' portal currency); GBP is not
        org.currencies += [seed.currency("AUD"), seed.currency("USD")]
        self.settings("mapping", {"tax_rates": {"15": "OUTPUT2", "0": "NONE"}, "default_sales_account": "200"})
        self.shop = shop
        if shop:
            self._connect_shop()
        live.control("bitrix24/events/auto", json={"on": False})
        live.control("xero/webhooks/drop")  # the connection's own set-up is not a user's change
        self.drain()
        self.history = History()
        live.control("requests/mark", json={"mark": 0})
        self.request_seq = live.control("requests", method="GET")["next"]

    def _connect_shop(self) -> None:
        from bridge.connectors.dg1.demo import seed_demo_tenant
        from bridge.connectors.dg1.tenants import find_tenant
        from tests.connectors.bexio.live_support import approve_page, ledger as bexio_ledger, submit
        from tests.e2e.conftest import Connected

        self.app.config["DG1_CLOCK"] = self.sandbox.clock.time
        with self.app.app_context():
            list(seed_demo_tenant())
            installation_id = find_tenant("demo").id
        browser, page = approve_page(self.live, installation_id)
        assert submit(self.live, browser, page, "seeland:101").status_code == 200
        with self.app.app_context():
            installation = find_tenant("demo")
            connection = installation.ledger_connections[0]
            taxes = bexio_ledger(self.live, Connected(installation.id, connection.id)).tax_codes()
            by_rate = {str(t.rate.normalize()): t.code for t in taxes}
            save_section(installation, "mapping", {"tax_rates": by_rate, "shipping_tax": by_rate["8.1"],
                                                   "payment_fee_tax": by_rate["8.1"]})
            save_section(installation, "invoices", {"create_payment": True, "send_by_email": True})
            save_section(installation, "bexio", {"language": "de", "currency": "CHF",
                                                 "email_message": "Ihre Rechnung: [Network Link]"})
            db.session.commit()
            self.shop_installation_id = installation.id
        self.dg1_release_seeded()
        self.control("dg1/tenants/demo/webhooks", json={"enabled": False})

    def dg1_release_seeded(self) -> None:
        """The demo shop's own orders are synced before the history starts."""
        for _ in range(200):
            self.control("dg1/deliveries/run")
            states = [d["status"] for d in self.control("dg1/deliveries?tenant=demo", method="GET")["deliveries"]]
            if not any(s in ("pending", "retrying") for s in states):
                break
            time.sleep(0.02)
        self.drain()

    def dg1_release(self) -> None:
        """Send the DG1 webhooks held so far (each as the admin panel's "resend" would),
        and wait until each has been answered."""
        held = [d for d in self.control("dg1/deliveries?tenant=demo", method="GET")["deliveries"]
                if d["status"] == "disabled"]
        for delivery in held:
            self.control(f"dg1/deliveries/{delivery['delivery_id']}/resend")
        for _ in range(200):
            self.control("dg1/deliveries/run")
            states = [d["status"] for d in self.control("dg1/deliveries?tenant=demo", method="GET")["deliveries"]]
            if not any(s in ("pending", "retrying") for s in states):
                return
            time.sleep(0.02)  # the sandbox's sender thread has one in flight: let it answer

    def bexio(self) -> dict:
        return self.control("bexio/companies/seeland/state", method="GET")

    def dg1(self) -> dict:
        return self.control("dg1/tenants/demo/state", method="GET")

    def stop(self) -> None:
        self.live.stop()

    # -- steps -------------------------------------------------------------------------
    def step(self, text: str, *keys: str) -> int:
        """Open a step: what the user does next, and which objects it changes."""
        number = len(self.history.steps) + 1
        self.history.steps.append(Step(number, text, tuple(keys)))
        for key in keys:
            self.history.changed.setdefault(key, []).append(number)
        self.live.control("requests/mark", json={"mark": number})
        return number

    def control(self, path: str, method: str = "POST", **kwargs) -> Any:
        return self.live.control(path, method, **kwargs)

    def settings(self, section: str, values: dict) -> None:
        with self.app.app_context():
            save_section(store.find(self.member_id), section, values)
            db.session.commit()

    def ask(self, flow: str, object_key: str, **options: Any) -> None:
        """What Sync now / Retry / Import from Xero / Backfill do: request the work."""
        with self.app.app_context():
            request_work(WorkRequest(self.installation_id, flow, object_key, options))
            db.session.commit()

    # -- the other side's deliveries -----------------------------------------------------
    def b24_release(self, count: int | None = None, duplicate: bool = False) -> None:
        self.control("bitrix24/events/release", json={"count": count, "duplicate": duplicate})
        self.control("bitrix24/events/wait", json={"timeout": 10})

    def b24_discard(self, count: int | None = None) -> None:
        self.control("bitrix24/events/discard", json={"count": count})

    def xero_release(self, count: int | None = None, duplicate: bool = False) -> None:
        self.control("xero/webhooks/release", json={"count": count, "duplicate": duplicate})

    def xero_drop(self, count: int | None = None) -> None:
        self.control("xero/webhooks/drop", json={"count": count})

    def held(self) -> tuple[int, int]:
        b24 = len(self.control("bitrix24/events/held", method="GET"))
        xero = len(self.control("xero/webhooks/pending", method="GET")["pending"])
        return b24, xero

    # -- the worker, driven by the test ------------------------------------------------------
    def drain(self) -> int:
        """Run the queue until nothing is ready. Work waiting for a retry (an outage, a
        limit) is made due by moving the sandbox clock past its wait and running it, the
        way the worker's scheduler would once that time has passed."""
        ran = 0
        for _ in range(MAX_DRAIN_ROUNDS):
            ran += self.live.run_jobs()
            with self.app.app_context():
                waiting = db.session.execute(select(WorkItem.id, WorkItem.next_attempt_at).where(
                    WorkItem.state.in_(("waiting", "queued")))).all()
                if not waiting:
                    return ran
                now = utcnow()
                later = max([(w.next_attempt_at - now).total_seconds() for w in waiting if w.next_attempt_at] or [0])
                self.sandbox.clock.advance(max(math.ceil(later), 0) + 1)
                db.session.execute(update(WorkItem).where(WorkItem.id.in_([w.id for w in waiting]),
                                                          WorkItem.state == "waiting")
                                   .values(next_attempt_at=now - timedelta(seconds=1)))
                db.session.commit()
            for w in waiting:
                run_work(w.id)
        raise AssertionError(f"the queue did not come to rest in {MAX_DRAIN_ROUNDS} rounds (work retried for ever)")

    def quiesce(self) -> None:
        """Everything delivered, the periodic passes run, the queue drained: what the world
        looks like once every pending thing has happened."""
        from bridge.connectors.bitrix24.reconcile import reconcile_all
        from bridge.sync.polling import poll_all

        for _ in range(6):
            self.b24_release()
            self.xero_release()
            if self.shop:
                self.dg1_release()
            self.drain()
            self.sandbox.clock.advance(600)
            with self.app.app_context():
                reconcile_all()
                poll_all()
            self.drain()
            if self.held() == (0, 0):
                return

    def reread(self) -> None:
        """Everything read again, nothing changed: every Bitrix24 event delivered once more,
        the reconcile and the ledger poll from their beginning (cursors forgotten). What this
        makes bridge write is an echo or a re-read writing (invariant b)."""
        from bridge.connectors.bitrix24.reconcile import reconcile_all
        from bridge.models import Cursor
        from bridge.sync.polling import poll_all

        self.control("bitrix24/events/replay")
        self.control("bitrix24/events/wait", json={"timeout": 10})
        self.drain()
        with self.app.app_context():
            db.session.execute(Cursor.__table__.delete().where(Cursor.name != "party_import"))
            db.session.commit()
            reconcile_all()
            poll_all()
        self.drain()
        self.b24_release()
        self.xero_release()
        self.drain()

    # -- reading both sides ------------------------------------------------------------------
    def portal(self) -> dict:
        return self.control(f"bitrix24/portals/{ACME}/state", method="GET")

    def xero(self) -> dict:
        return self.control(f"xero/orgs/{self.tenant}/state", method="GET")

    def requests_since(self, seq: int = 0) -> list[dict]:
        return self.control(f"requests?since={seq}", method="GET")["requests"]


def money(value: Any) -> Decimal:
    return Decimal(str(value if value not in (None, "") else 0))

