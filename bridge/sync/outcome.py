"""What the flows share about one piece of work: its object key, the idempotency key of a
ledger write, and how its sync record is closed (``finish``, every flow's one way).

Kept apart so that ``invoice_to_ledger`` and ``party_to_ledger`` (which the invoice flow
calls to export the invoice's customer first) need not import each other.
"""
from __future__ import annotations

from ..models import SyncRecord, utcnow
from ..extensions import db
from ..messages import N_

UNCHANGED_MESSAGE = N_("No change since the last sync.")
SWITCHED_OFF = N_("The integration is switched off in the settings.")


def idempotency_key(installation_id: int, kind: str, platform_id: str, digest: str, attempt: int) -> str:
    """Derived from the content and the attempt: a retry after an error gets a new key,
    since ledgers cache errors under a key."""
    return f"bridge-{installation_id}-{kind}-{platform_id}-{digest[:16]}-{attempt}"[:128]


def split_object_key(object_key: str) -> tuple[str, str]:
    kind, _, platform_id = object_key.partition(":")
    return kind, platform_id


def finish(record: SyncRecord, state: str, message: str | None, *, commit: bool = True) -> None:
    """Close the record; ``message`` says why a skip happened, in the user's words. A batch
    closing many passes ``commit=False`` and commits once."""
    record.state = state
    if message:
        record.warning = message
    record.finished_at = utcnow()
    if commit:
        db.session.commit()
