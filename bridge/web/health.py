"""``/healthz``: is the database reachable, and the queue? For load balancers and supervisors."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from ..extensions import db, huey

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, do not raise: this page exists to say what is down
        checks["database"] = f"error: {type(exc).__name__}"
    finally:
        db.session.rollback()
    try:
        checks["queue_pending"] = str(huey.pending_count())
        checks["queue"] = "ok"
    except Exception as exc:
        checks["queue"] = f"error: {type(exc).__name__}"
    healthy = checks["database"] == "ok" and checks["queue"] == "ok"
    return jsonify(status="ok" if healthy else "error", checks=checks), (200 if healthy else 503)
