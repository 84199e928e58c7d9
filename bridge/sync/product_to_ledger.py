"""Flow ``product_to_ledger``: platform products become ledger articles (DG1 -> Bexio).

Object keys: ``products:all`` (the daily job and the products page's "sync all") or
``product:<product key>`` (the products page's "Sync product to Bexio").

The multi-site rules of the seed live in the product keys the platform gives: one SKU on
several sites is one key (``dg1:<tenant>:sku:<sku>``), so it becomes ONE article; a product
without SKU is keyed by its site and id, so a shared product without SKU becomes one
article per site. One link per product key.

Read top to bottom:

1. list the platform's products and group them by key, sorted (a stable order to resume);
2. a key whose content is unchanged since its link was written is skipped;
3. in batches: look up the link, write (the ledger looks the article up by its code
   before creating one, so a crash between its answer and our link never makes a
   second article), bind the link, then move the cursor past the batch;
4. a run that crashed resumes after the last batch its cursor recorded.
"""
from __future__ import annotations

from huey import crontab

from ..domain import Product
from ..errors import PermanentError, RetryableError, SyncError
from ..extensions import db
from ..faults import fault_point
from ..engine import WorkContext, WorkRequest, flow, period_key, periodic
from ..models import Installation, LedgerConnection, SyncRecord, utcnow
from ..messages import N_
from .daily import DAY, daily_installations, request_daily, skip_reason
from .outcome import finish as _finish
from .links import bind, content_hash, find_link, jsonable
from .polling import cursor
from .registry import ledger_for, platform_for

FLOW = "product_to_ledger"
ALL = "products:all"
BATCH = 20  # articles per checkpoint: Bexio writes them one by one, so a crash repeats few


def product_request(installation_id: int, product_key: str | None = None, *, manual: bool = False) -> WorkRequest:
    """The work request for all products (daily) or one (by hand)."""
    key = f"product:{product_key}" if product_key else ALL
    return WorkRequest(installation_id, FLOW, key, {"manual": True} if manual else {})


@flow(FLOW)
def export_products(ctx: WorkContext) -> None:
    installation = db.session.get(Installation, ctx.installation_id)
    only = ctx.object_key.partition(":")[2] if ctx.object_key != ALL else None
    record = ctx.record(object_kind="product" if only else "products", object_id=only or "all",
                        direction="to_ledger")
    skipped = skip_reason(installation, ctx.options, "sync_products", N_("Product sync"))
    if skipped:
        return _finish(record, "skipped", skipped)
    ledger, connection = ledger_for(installation)
    platform = platform_for(installation)
    groups = group_products(platform.changed_products(None), ledger.product_currency)
    if only is not None:
        if only not in groups:
            raise PermanentError(N_("The product %(product)s is no longer in the shop.", product=only),
                                 code="unknown_product")
        groups = {only: groups[only]}
    position = cursor(f"installation:{installation.id}", f"{FLOW}:{connection.id}") if only is None else None
    progress = _resume(position)
    keys = [k for k in sorted(groups) if not progress["after"] or k > progress["after"]]
    for start in range(0, len(keys), BATCH):
        batch = keys[start:start + BATCH]
        _write_batch(installation, connection, ledger, groups, batch, progress, ctx)
        progress["after"] = batch[-1]
        if position is not None:
            position.value = dict(progress)
        db.session.commit()
        fault_point("product sync after batch")
    if position is not None:
        position.value = {**progress, "running": False, "after": None, "finished_at": utcnow().isoformat()}
    record.received = {k: progress[k] for k in ("done", "written", "unchanged", "failed")}
    if only is not None:
        link = find_link(installation.id, "product", only)
        if link and link.ledger_id:
            record.received.update(ledger_id=link.ledger_id, number=link.ledger_number,
                                   url=(link.extra or {}).get("url", ""))
    if progress["failed"]:
        record.warning = N_("%(count)s product(s) could not be synced: see their own records.",
                            count=progress["failed"])
    if only is not None and progress["failed"]:
        raise PermanentError(progress["last_error"] or N_("The product could not be synced."))
    _finish(record, "succeeded", None)


def group_products(products, currency: str | None = None) -> dict[str, list[Product]]:
    """Products by key. The first of a group (sites sorted, the ledger's currency first)
    is what the article is written from: one SKU on two sites is one article."""
    groups: dict[str, list[Product]] = {}
    for product in products:
        groups.setdefault(product.key, []).append(product)
    for members in groups.values():
        members.sort(key=lambda p: (bool(currency) and p.currency != currency, p.site_id or ""))
    return groups


def _resume(position) -> dict:
    previous = dict(position.value or {}) if position is not None else {}
    if previous.get("running") and previous.get("after"):
        return {**previous, "resumed": True}
    progress = {"running": True, "after": None, "done": 0, "written": 0, "unchanged": 0, "failed": 0,
                "last_error": None, "started_at": utcnow().isoformat()}
    if position is not None:
        position.value = dict(progress)
        db.session.commit()
    return progress


def _write_batch(installation: Installation, connection: LedgerConnection, ledger, groups: dict[str, list[Product]],
                 keys: list[str], progress: dict, ctx: WorkContext) -> None:
    """Write the changed products of ``keys``; commit their links before returning."""
    todo: list[tuple[str, Product, str | None, str]] = []
    for key in keys:
        product = groups[key][0]
        digest = content_hash({"product": product, "sites": sorted(p.site_id or "" for p in groups[key])})
        link = find_link(installation.id, "product", key)
        if link and link.ledger_id and link.content_hash == digest:
            progress["unchanged"] += 1
            continue
        todo.append((key, product, link.ledger_id if link else None, digest))
    progress["done"] += len(keys)
    if not todo:
        return
    db.session.commit()  # hold no write transaction across the ledger calls
    idempotency_key = f"bridge-{installation.id}-products-{content_hash([t[3] for t in todo])[:16]}-{ctx.item.attempts + 1}"
    results = ledger.save_products([(product, ledger_id) for _, product, ledger_id, _ in todo], idempotency_key)
    fault_point("product sync before link write")
    retry: SyncError | None = None
    for (key, product, _, digest), result in zip(todo, results):
        sites = sorted(p.site_id or "" for p in groups[key])
        if result.ok:
            bind(installation.id, connection, "product", key, ledger_id=result.ledger_id, ledger_number=result.number,
                 content_hash=digest, extra={"url": result.url, "sites": sites, "synced_at": utcnow().isoformat()})
            progress["written"] += 1
            _product_record(ctx, key, "succeeded", result=result)
        elif isinstance(result.error, RetryableError):
            retry = retry or result.error
        else:
            progress["failed"] += 1
            progress["last_error"] = result.error.message if result.error else None
            _product_record(ctx, key, "failed", error=result.error)
    db.session.commit()
    if retry is not None:
        # The links of this batch are kept; the cursor is not moved, so the retry starts
        # with this batch again and skips what was just written (their links match).
        raise retry


def _product_record(ctx: WorkContext, key: str, state: str, *, result=None, error: SyncError | None = None) -> None:
    """One record per product written or refused: the log shows each, with its link."""
    record = SyncRecord(installation_id=ctx.installation_id, work_item_id=ctx.item.id, flow=FLOW,
                        object_kind="product", object_id=key, direction="to_ledger", state=state,
                        attempt=ctx.item.attempts + 1, finished_at=utcnow())
    if result is not None:
        record.sent = jsonable(result.sent) if result.sent else None
        record.received = {"ledger_id": result.ledger_id, "number": result.number, "url": result.url}
    if error is not None:
        record.error_code, record.error_message, record.error_fix = error.code, error.message, error.fix
        record.ledger_messages = error.ledger_messages or None
    db.session.add(record)


def request_daily_products(day: str | None = None) -> int:
    """Queue today's run for every installation that wants it and has none yet today."""
    return request_daily("daily_products", day or period_key(DAY), daily_installations("sync_products"),
                         product_request)


# Once per day per installation whatever the number of consumers (claimed per
# installation), at night shop time; the hourly trigger after 02:10 picks up what a crash
# left.
@periodic(crontab(hour="2-23", minute="10"), DAY, name="daily_products", per_item=True)
def daily_products(day: str) -> int:
    return request_daily_products(day)
