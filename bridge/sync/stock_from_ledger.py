"""Flow ``stock_from_ledger``: the ledger's stock overrides the platform's (Bexio -> DG1).

Object keys: ``stock:all`` (the daily job, the products page's "sync all stock") or
``stock:<product key>`` (the products page's "Sync stock from Bexio").

Only synced products take part: the product links ``product_to_ledger`` wrote are the
list. The figure is absolute, never a delta, so repeating a batch after a crash sets the
same numbers again and cannot double anything. A SKU's figure goes to every site with that
SKU (the seed's multi-site rule: one article, the same stock on all its sites); a product
without SKU is set on its own site only (its key names the site).

The cursor remembers the last product key of the last batch written, so a run that
crashed halfway resumes after it.
"""
from __future__ import annotations

from huey import crontab
from sqlalchemy import select

from ..domain import StockLevel
from ..errors import PermanentError
from ..extensions import db
from ..faults import fault_point
from ..engine import WorkContext, WorkRequest, flow, period_key, periodic
from ..models import Installation, LedgerConnection, Link, utcnow
from ..messages import N_, joined
from .daily import DAY, daily_installations, request_daily, skip_reason
from .outcome import finish as _finish
from .polling import cursor
from .registry import ledger_for, platform_for

FLOW = "stock_from_ledger"
ALL = "stock:all"
BATCH = 100  # DG1 takes at most 100 stock items per call (docs/dg1.md section 4.6)


def stock_request(installation_id: int, product_key: str | None = None, *, manual: bool = False) -> WorkRequest:
    key = f"stock:{product_key}" if product_key else ALL
    return WorkRequest(installation_id, FLOW, key, {"manual": True} if manual else {})


def level_for(product_key: str, quantity) -> StockLevel:
    """The platform-side figure: by SKU for a SKU key (every site with it), by product key
    otherwise. The ledger's own code is not used: for products without SKU it is ours
    (``dg1-<site>-<id>``), not a SKU the platform knows."""
    head, sep, sku = product_key.partition(":sku:")
    if sep and head.count(":") == 1:  # "<platform>:<account>:sku:<sku>"
        return StockLevel(quantity=quantity, sku=sku)
    return StockLevel(quantity=quantity, product_key=product_key)


@flow(FLOW)
def import_stock(ctx: WorkContext) -> None:
    installation = db.session.get(Installation, ctx.installation_id)
    only = ctx.object_key.partition(":")[2] if ctx.object_key != ALL else None
    record = ctx.record(object_kind="stock", object_id=only or "all", direction="to_platform")
    skipped = skip_reason(installation, ctx.options, "sync_stock", N_("Stock sync"))
    if skipped:
        return _finish(record, "skipped", skipped)
    ledger, connection = ledger_for(installation)
    links = synced_products(installation.id, connection, only)
    if only is not None and not links:
        return _finish(record, "skipped", N_("This product is not synced to the accounting system yet: "
                                             "sync the product first, then its stock."))
    position = cursor(f"installation:{installation.id}", f"{FLOW}:{connection.id}") if only is None else None
    progress = _resume(position)
    links = [l for l in links if not progress["after"] or l.platform_id > progress["after"]]
    db.session.commit()
    platform = platform_for(installation)
    warnings: list[str] = []
    for start in range(0, len(links), BATCH):
        batch = links[start:start + BATCH]
        _set_batch(ledger, platform, batch, progress, warnings)
        progress["after"] = batch[-1].platform_id
        if position is not None:
            position.value = dict(progress)
        db.session.commit()
        fault_point("stock sync after batch")
    if position is not None:
        position.value = {**progress, "running": False, "after": None, "finished_at": utcnow().isoformat()}
    record.received = {k: progress[k] for k in ("done", "set", "not_stock")}
    if only is not None and progress.get("quantity") is not None:
        record.received["quantity"] = progress["quantity"]
    if warnings:
        shown = joined(warnings[:20], "; ")
        record.warning = N_("%(warnings)s (and %(more)s more)", warnings=shown, more=len(warnings) - 20) \
            if len(warnings) > 20 else shown
    if progress["errors"]:
        raise PermanentError(joined(progress["errors"][:5], "; "), code="stock_refused",
                             fix=N_("Check the SKUs in the shop and in the accounting system."))
    _finish(record, "succeeded", None)


def synced_products(installation_id: int, connection: LedgerConnection, only: str | None) -> list[Link]:
    query = select(Link).where(Link.installation_id == installation_id, Link.kind == "product",
                               Link.ledger == connection.ledger, Link.ledger_org == connection.organisation_id,
                               Link.ledger_id.is_not(None))
    if only is not None:
        query = query.where(Link.platform_id == only)
    return list(db.session.scalars(query.order_by(Link.platform_id)).all())


def _resume(position) -> dict:
    previous = dict(position.value or {}) if position is not None else {}
    if previous.get("running") and previous.get("after"):
        return {**previous, "errors": []}
    progress = {"running": True, "after": None, "done": 0, "set": 0, "not_stock": 0, "errors": [],
                "started_at": utcnow().isoformat()}
    if position is not None:
        position.value = dict(progress)
    return progress


def _set_batch(ledger, platform, links: list[Link], progress: dict, warnings: list[str]) -> None:
    levels_by_id = ledger.stock_levels([l.ledger_id for l in links])
    levels: list[StockLevel] = []
    for link in links:
        level = levels_by_id.get(link.ledger_id)
        if level is None:  # the article keeps no stock in the ledger: nothing to override with
            progress["not_stock"] += 1
            continue
        levels.append(level_for(link.platform_id, level.quantity))
    progress["done"] += len(links)
    if not levels:
        return
    results = platform.set_stock(levels)
    for level, result in zip(levels, results):
        if result.ok:
            progress["set"] += 1
            progress["quantity"] = str(level.quantity)
            warnings.extend(result.warnings)
        else:
            progress["errors"].append(result.error.message if result.error else "refused")


def request_daily_stock(day: str | None = None) -> int:
    return request_daily("daily_stock", day or period_key(DAY), daily_installations("sync_stock"), stock_request)


# After the product sync, so that products new today already have their article; hourly
# after 03:10 so that a crash halfway resumes the same day (claims are per installation).
@periodic(crontab(hour="3-23", minute="10"), DAY, name="daily_stock", per_item=True)
def daily_stock(day: str) -> int:
    return request_daily_stock(day)
