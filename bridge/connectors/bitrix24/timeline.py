"""Notes under a smart invoice: Bitrix24 timeline comments (crm.timeline.comment.add / .list,
apidocs.bitrix24.com/api-reference/crm/timeline/comments/). ENTITY_TYPE is ``dynamic_31`` for
smart invoices (the "add a comment to the timeline of a smart process" tutorial), ``fields``
lowercase (crm 23.100.0 on). A comment has no idempotency key: the caller looks for its
marker with ``find`` before adding again."""
from __future__ import annotations

from typing import Any

from ...errors import SyncError

SMART_INVOICE_TYPE = "dynamic_31"
# How far back a retry looks for its note: the newest comments come first; a note of ours is
# added seconds before the link row that remembers it.
LOOK_BACK = 50


def _gone(error: SyncError) -> bool:
    """The invoice was deleted in Bitrix24: there is nothing to write under (not a failure)."""
    return getattr(error, "code", None) == "NOT_FOUND"


def add(client: Any, item_id: str, text: str) -> str:
    """The comment's id; "" when the invoice no longer exists."""
    try:
        reply = client.call("crm.timeline.comment.add", {"fields": {
            "ENTITY_TYPE": SMART_INVOICE_TYPE, "ENTITY_ID": int(item_id), "COMMENT": text}})
    except SyncError as exc:
        if _gone(exc):
            return ""
        raise
    return str(reply.result)


def find(client: Any, item_id: str, marker: str) -> str | None:
    try:
        reply = client.call("crm.timeline.comment.list", {
            "filter": {"ENTITY_TYPE": SMART_INVOICE_TYPE, "ENTITY_ID": int(item_id)},
            "select": ["ID", "COMMENT"], "order": {"ID": "DESC"}})
    except SyncError as exc:
        if _gone(exc):
            return None
        raise
    for row in (reply.result or [])[:LOOK_BACK]:
        if marker in str(row.get("COMMENT") or ""):
            return str(row["ID"])
    return None
