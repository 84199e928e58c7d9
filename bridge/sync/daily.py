"""What the seed's daily jobs share: who takes part, why a run does nothing, and queueing
one run per installation per day.

The day is claimed per installation, in the same transaction that queues its run
(``claim_period(..., commit=False)``): a worker that dies halfway through the loop has
queued and claimed exactly the installations before it, and the next trigger of the day
(the jobs fire hourly) queues the rest, never one twice.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy import select

from ..extensions import db
from ..faults import fault_point
from ..engine import WorkRequest, claim_period, request_work
from ..models import Installation, LedgerConnection
from ..settings import get_section
from ..messages import N_
from .outcome import SWITCHED_OFF
from .registry import LEDGERS

DAY = 86400


def skip_reason(installation: Installation, options: dict, toggle: str, label: str) -> str | None:
    """Why a daily job does nothing for this installation; a run by hand ignores the
    daily switch (the seed's manual actions work whatever the schedule)."""
    if not get_section(installation, "general").enabled:
        return SWITCHED_OFF
    if not options.get("manual") and not getattr(get_section(installation, "daily"), toggle):
        return N_("%(job)s is switched off in the settings.", job=label)
    return None


def daily_installations(toggle: str, pair_takes_part: Callable[[str, str], bool] | None = None) -> list[int]:
    """Active installations with a connected ledger and ``toggle`` on; with
    ``pair_takes_part(platform kind, ledger kind)``, only those whose pair it accepts (what
    the ports declare, e.g. ``polling.follows_status_daily``)."""
    rows = db.session.execute(select(Installation).join(
        LedgerConnection, LedgerConnection.installation_id == Installation.id).where(
        Installation.state == "active", LedgerConnection.active.is_(True))).scalars().unique().all()
    chosen = []
    for installation in rows:
        ledgers = {c.ledger for c in installation.ledger_connections if c.active and c.ledger in LEDGERS}
        if pair_takes_part is not None:
            ledgers = {ledger for ledger in ledgers if pair_takes_part(installation.platform, ledger)}
        if ledgers and get_section(installation, "general").enabled and \
                getattr(get_section(installation, "daily"), toggle):
            chosen.append(installation.id)
    return sorted(chosen)


def request_daily(job: str, day: str, installation_ids: list[int],
                  make_request: Callable[[int], WorkRequest]) -> int:
    """Queue one run per installation not yet claimed for ``day``. Returns how many were
    newly queued (a run still queued or running absorbs the request, and is not counted)."""
    count = 0
    for installation_id in installation_ids:
        if claim_period(f"{job}:{installation_id}", day, commit=False):
            count += bool(request_work(make_request(installation_id)))
        db.session.commit()  # the claim and the queued run together, or neither
        fault_point(f"{job} after installation")
    return count
