"""What the engine runs: flows and inbox translators, registered by the sync layer and
the connectors, and the hooks told of a failure a person must see.

A registry (not imports) so the engine depends on nobody: flows, connectors and alerts
import the engine and register themselves; the engine only looks names up.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..errors import SyncError
from ..models import InboxEvent

if TYPE_CHECKING:  # the context a flow gets is built by the work module, which imports this one
    from .work import WorkContext


@dataclass(frozen=True)
class WorkRequest:
    installation_id: int
    flow: str
    object_key: str
    options: dict[str, Any] = field(default_factory=dict)
    # Bulk work (an import, a backfill, a reconcile, an echo read) waits behind what a user
    # waits for in the same installation. None: as the code asking runs (``engine.work``).
    bulk: bool | None = None


InboxHandler = Callable[[InboxEvent], list[WorkRequest]]
FlowRunner = Callable[["WorkContext"], None]

INBOX_HANDLERS: dict[str, InboxHandler] = {}
# Sources whose handler only reads our own database: their events are translated a batch
# per commit. A handler that calls out (DG1 reads the order) must not run while the batch's
# writes hold the database (SQLite has one writer), so it handles one event per commit.
BATCHED_INBOX_SOURCES: set[str] = set()
FLOWS: dict[str, FlowRunner] = {}


def inbox_handler(source: str, *, batched: bool = False) -> Callable[[InboxHandler], InboxHandler]:
    def register(fn: InboxHandler) -> InboxHandler:
        INBOX_HANDLERS[source] = fn
        if batched:
            BATCHED_INBOX_SOURCES.add(source)
        return fn
    return register


BATCH_SIZES: dict[str, int] = {}
# Flows whose runs are bulk work (an import, a backfill), and so is what they ask for.
BULK_FLOWS: set[str] = set()


def flow(name: str, batch: int = 1, *, bulk: bool = False) -> Callable[[FlowRunner], FlowRunner]:
    """Register a flow. With ``batch`` > 1 the runner gets a list of WorkContexts: the
    claimed item plus up to ``batch - 1`` other queued items of the same installation and
    flow, so e.g. 50 waiting invoices become one ledger call. A runner marks an item's own
    failure with ``ctx.fail(exc)``; an exception it raises fails the whole batch. With
    ``bulk`` its runs, and the work they ask for, go behind what a user waits for."""
    def register(fn: FlowRunner) -> FlowRunner:
        FLOWS[name] = fn
        BATCH_SIZES[name] = batch
        if bulk:
            BULK_FLOWS.add(name)
        return fn
    return register



FailureHook = Callable[[int, str, SyncError], None]
FAILURE_HOOKS: list[FailureHook] = []


def on_failure(hook: FailureHook) -> FailureHook:
    """Register ``hook(installation_id, flow, error)``, called where a failure a person must
    act on is recorded (inside the engine's transaction: a hook only enqueues, after the
    commit). Alerts register here, so the engine never imports them."""
    if hook not in FAILURE_HOOKS:
        FAILURE_HOOKS.append(hook)
    return hook


def notify_failure(installation_id: int, flow: str, error: SyncError) -> None:
    for hook in FAILURE_HOOKS:
        hook(installation_id, flow, error)
