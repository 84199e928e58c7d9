"""Keep the local copy of a ledger's bank transactions and payments fresh, incrementally.

The ledgers whose port has them (``Ledger.has_transactions``, ``Ledger.transactions``: Xero)
have no webhooks for either (https://developer.xero.com/documentation/webhooks/overview), so
a periodic job asks every healthy such connection for a refresh; the refresh is a flow (one
work item per connection,
so runs coalesce, retry with backoff and leave a sync record when they fail) that reads only
what changed since its cursor with If-Modified-Since. The first run reads everything once.

Never a write transaction across a call to Xero: rows are written and committed page by
page (the client yields a page, we write it, commit, then ask for the next), and the cursor
moves only after a whole stream was read, so a crash repeats at most one window.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Iterator

from huey import crontab
from sqlalchemy import select

from ..errors import PermanentError
from ..extensions import db
from ..engine import WorkContext, WorkRequest, flow, periodic, request_work
from ..messages import N_
from ..models import Installation, LedgerConnection, utcnow
from ..ports import Ledger, ledger_class, ledger_name
from ..sync.polling import OVERLAP, cursor
from ..sync.registry import LEDGERS, ledger_for
from .mapper import bank_transaction_row, payment_row
from .models import LedgerTransaction

log = logging.getLogger(__name__)
FLOW = "xero_transactions_refresh"  # the name queued work carries: never renamed
CHUNK = 1000  # the Xero client's page size: one commit per page read
STREAMS: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    # cursor name -> (the ledger's stream, mapper; the rows as Xero, the one such ledger, sends them)
    "dashboard_bank_transactions": ("bank_transactions", bank_transaction_row),
    "dashboard_payments": ("payments", payment_row),
}


def object_key(connection_id: int) -> str:
    return f"connection:{connection_id}"


def request_refresh(connection: LedgerConnection) -> int | None:
    """Ask for one refresh of a connection's copy (coalesces with one already queued)."""
    return request_work(WorkRequest(connection.installation_id, FLOW, object_key(connection.id)))


def _chunks(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def upsert(connection: LedgerConnection, rows: list[dict[str, Any]]) -> int:
    """Insert or update rows by (connection, kind, ledger id); commits."""
    rows = [r for r in rows if r["ledger_id"] and r["date"] is not None]
    if not rows:
        return 0
    by_key = {(r["kind"], r["ledger_id"]): r for r in rows}
    existing = {(t.kind, t.ledger_id): t for t in db.session.scalars(select(LedgerTransaction).where(
        LedgerTransaction.connection_id == connection.id,
        LedgerTransaction.ledger_id.in_([key[1] for key in by_key])))}
    for key, values in by_key.items():
        row = existing.get(key)
        if row is None:
            row = LedgerTransaction(connection_id=connection.id, installation_id=connection.installation_id)
            db.session.add(row)
        for name, value in values.items():
            setattr(row, name, value)
    db.session.commit()
    return len(by_key)


def refresh_connection(connection: LedgerConnection, ledger: Ledger) -> dict[str, int]:
    """Read both streams since their cursors into the copy. Returns rows written per stream."""
    written: dict[str, int] = {}
    for name, (stream, to_row) in STREAMS.items():
        position = cursor(f"ledger:{connection.id}", name)
        since = datetime.fromisoformat(position.value["since"]) if position.value.get("since") else None
        started = utcnow()
        count = 0
        for chunk in _chunks(ledger.transactions(stream, since), CHUNK):
            count += upsert(connection, [to_row(item) for item in chunk])
        position = cursor(f"ledger:{connection.id}", name)
        position.value = {"since": (started - OVERLAP).isoformat(), "last_run": started.isoformat(),
                          "full": since is None or bool(position.value.get("full"))}
        db.session.commit()
        written[name] = count
    return written


def last_refreshed(connection: LedgerConnection) -> datetime | None:
    """When the copy was last brought up to date (the older of the two streams)."""
    times = []
    for name in STREAMS:
        value = cursor(f"ledger:{connection.id}", name).value.get("last_run")
        if not value:
            return None
        times.append(datetime.fromisoformat(value))
    return min(times)


def transaction_ledgers() -> list[str]:
    """The ledger kinds whose port has transactions for the dashboard."""
    return [kind for kind in LEDGERS if ledger_class(kind).has_transactions]


@flow(FLOW)
def run_refresh(ctx: WorkContext) -> None:
    connection_id = int(ctx.object_key.partition(":")[2])
    connection = db.session.get(LedgerConnection, connection_id)
    if connection is None or not connection.active or connection.ledger not in transaction_ledgers():
        return  # disconnected since: nothing to refresh
    installation = db.session.get(Installation, connection.installation_id)
    if installation is None or installation.state != "active":
        return
    if connection.health == "needs_reconnect":
        name = ledger_name(connection.ledger)
        raise PermanentError(N_("The connection to %(name)s must be renewed before its transactions can be read.",
                                name=name),
                             code="needs_reconnect", fix=N_("Open Settings and reconnect %(name)s.", name=name))
    ledger, active = ledger_for(installation)  # the adapter, as every flow gets one
    if active.id != connection.id:
        return  # the installation books in another connection now
    written = refresh_connection(connection, ledger)
    log.info("dashboard copy of connection %s refreshed: %s", connection_id, written)


def request_all() -> int:
    """Queue a refresh of every healthy, active connection of an active installation to a
    ledger with transactions."""
    rows = db.session.scalars(select(LedgerConnection).join(
        Installation, Installation.id == LedgerConnection.installation_id).where(
        Installation.state == "active", LedgerConnection.active.is_(True),
        LedgerConnection.ledger.in_(transaction_ledgers()),
        LedgerConnection.health.in_(("ok", "error")))).all()
    requested = sum(1 for connection in rows if request_refresh(connection))
    db.session.commit()
    return requested


REFRESH_EVERY = timedelta(minutes=15)


@periodic(crontab(minute="*/15"), int(REFRESH_EVERY.total_seconds()), name="dashboard_refresh")
def refresh_all() -> int:
    return request_all()
