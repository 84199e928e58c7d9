"""What every accounting resource shares: the request context, validation errors, batches."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Callable

from .store import Grant, Org
from .wire import envelope, validation_exception

if TYPE_CHECKING:
    from . import System


class Invalid(Exception):
    """One element failed validation; ``messages`` become its ValidationErrors."""

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)


class NotFound(Exception):
    pass


@dataclass
class Ctx:
    system: "System"
    org: Org
    grant: Grant
    method: str
    args: Any
    body: Any
    now: datetime
    summarize_errors: bool = True
    unitdp: int = 2
    if_modified_since: datetime | None = None
    events: list[tuple[str, str, str, datetime]] = field(default_factory=list)

    @property
    def today(self) -> date:
        return self.now.date()

    def event(self, category: str, resource_id: str, event_type: str, at: datetime | None = None) -> None:
        """Queue a webhook event, sent once the call has committed (NOTES section 6).

        ``at`` is the change's UpdatedDateUTC: the event's eventDateUtc is the moment of the
        change it reports [M] (Xero documents the field as the event's time only). A client
        that compares it with the version it wrote knows its own write's event; were Xero's
        date a little later, such a client would read the resource once more, nothing worse."""
        self.events.append((category, resource_id, event_type, at or self.now))

    def publish(self) -> None:
        """Send the queued events (after the change is committed and the lock released)."""
        for category, resource_id, event_type, at in self.events:
            self.system.webhooks.record(self.org.tenant_id, category, resource_id, event_type, at)


def number(raw: Any, name: str) -> Decimal | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise Invalid(f"{name} must be a number")
    try:
        return Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise Invalid(f"{name} must be a number") from None


def parse_date(raw: Any, name: str) -> date | None:
    """``YYYY-MM-DD`` or an ISO datetime; ``/Date(ms)/`` too, as Xero reads its own format."""
    if raw in (None, ""):
        return None
    text = str(raw)
    if text.startswith("/Date("):
        try:
            millis = int(text[6:].split(")")[0].split("+")[0])
            return datetime.utcfromtimestamp(millis / 1000).date()
        except ValueError:
            raise Invalid(f"{name} is not a valid date") from None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date() if "T" in text else date.fromisoformat(text[:10])
    except ValueError:
        raise Invalid(f"{name} is not a valid date") from None


def elements(body: Any, plural: str) -> list[dict]:
    """``{"Invoices": [...]}`` or one bare object (the SDK sends both shapes; NOTES section 2)."""
    if isinstance(body, dict) and plural in body:
        items = body[plural]
        if not isinstance(items, list):
            raise Invalid(f"{plural} must be a list")
        return items
    if isinstance(body, dict):
        return [body]
    raise Invalid("The request body must be a JSON object")


def run_batch(ctx: Ctx, plural: str, items: list[Any], process: Callable[[dict], dict],
              flag: str = "HasValidationErrors") -> tuple[int, dict]:
    """Create/update each element on its own; report per element or as one 400 (NOTES section 2).

    With summarizeErrors=false the answer is a 200 listing every element with its
    StatusAttributeString. With the default, one bad element makes the whole answer a 400
    whose Elements are the failed ones, while the valid elements are still saved and their
    IDs are not returned (Lesson 2).
    """
    results: list[tuple[bool, dict]] = []
    for raw in items:
        if not isinstance(raw, dict):
            results.append((False, {"ValidationErrors": [{"Message": "Each element must be an object"}]}))
            continue
        try:
            record = process(raw)
            results.append((True, {**record, "StatusAttributeString": "OK"}))
        except Invalid as exc:
            echo = {k: v for k, v in raw.items() if k not in ("ValidationErrors", "StatusAttributeString")}
            results.append((False, {**echo, flag: True, "StatusAttributeString": "ERROR",
                                    "ValidationErrors": [{"Message": m} for m in exc.messages]}))
    failed = [r for ok, r in results if not ok]
    if failed and ctx.summarize_errors:
        return 400, validation_exception(failed)
    return 200, envelope(ctx.system.settings.app_name, ctx.now, plural, [r for _, r in results])


def listing(ctx: Ctx, plural: str, records: list[dict], pagination: dict | None = None) -> tuple[int, dict]:
    return 200, envelope(ctx.system.settings.app_name, ctx.now, plural, records, pagination)
