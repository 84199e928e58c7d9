"""Timeline comments: crm.timeline.comment.add / .list (apidocs.bitrix24.com/api-reference/crm/
timeline/comments/crm-timeline-comment-add.html and crm-timeline-comment-list.html).

``fields`` must be lowercase (since crm 23.100.0, the add page's warning); ENTITY_TYPE names the
object type, ``dynamic_31`` for a smart invoice (the tutorial "How to add a comment to the
timeline of a smart process"). A comment has no idempotency key: each add is a new comment.
The sandbox simulates them on smart invoices only and says so for any other type.
"""
from __future__ import annotations

from typing import Any

from . import invoices
from .errors import RestError, bad_argument, not_found
from .filters import page
from .registry import Listed, method

SMART_INVOICE = f"dynamic_{invoices.ENTITY_TYPE_ID}"


def _target(ctx, entity_type: Any, entity_id: Any) -> int:
    if str(entity_type or "").lower() != SMART_INVOICE:
        raise RestError("ERROR_ARGUMENT", f"Entity type {entity_type} is not simulated by this sandbox", 400)
    try:
        item_id = int(entity_id)
    except (TypeError, ValueError):
        raise bad_argument("ENTITY_ID is not defined or invalid") from None  # [M] wording
    if item_id not in ctx.portal.items[invoices.ENTITY_TYPE_ID]:
        raise not_found()
    return item_id


@method("crm.timeline.comment.add", scope="crm")
def comment_add(cloud, ctx, params):
    fields = params.get("fields")
    if not isinstance(fields, dict):
        raise bad_argument("fields is not defined or invalid")  # FIELDS/arFields are refused too
    item_id = _target(ctx, fields.get("ENTITY_TYPE"), fields.get("ENTITY_ID"))
    if not str(fields.get("COMMENT") or "").strip():
        raise bad_argument("COMMENT is not defined or empty")  # [M] wording
    comment_id = ctx.portal.next_id("timeline_comment")
    ctx.portal.timeline.append({"ID": comment_id, "ENTITY_TYPE": SMART_INVOICE, "ENTITY_ID": item_id,
                                "COMMENT": str(fields["COMMENT"]), "AUTHOR_ID": ctx.user_id,
                                "CREATED": cloud.host.clock.now().isoformat()})
    return comment_id


@method("crm.timeline.comment.list", scope="crm")
def comment_list(cloud, ctx, params):
    flt = params.get("filter") or {}
    item_id = _target(ctx, flt.get("ENTITY_TYPE"), flt.get("ENTITY_ID"))
    rows = sorted((c for c in ctx.portal.timeline if c["ENTITY_ID"] == item_id), key=lambda c: -c["ID"])
    chunk, extra = page(rows, params.get("start"))
    return Listed(chunk, extra)
