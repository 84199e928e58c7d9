"""While the database is unreachable, every request is answered 503 with Retry-After.

Why not let it be a 500: a 500 says "bridge is broken" and, in debug or test mode, shows a
stack. An unreachable database (PostgreSQL restarting, failing over, SQLite locked past its
busy timeout) is temporary, and the callers can act on a 503: Xero re-sends its webhook,
DG1 retries, a proxy or load balancer tries again, a person reloads. What a Bitrix24 event
lost this way (Bitrix24 never re-sends) is found by its reconcile; nothing answered 2xx
was lost, because the 2xx is only sent after the inbox row committed.

Recovery needs no restart: the engine pings each pooled connection before use
(``pool_pre_ping`` in ``bridge/config.py``), so dead connections from before the outage are
replaced; the failed request's session is rolled back here so its connection goes back to
the pool clean.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Response
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError, TimeoutError as PoolTimeout

from ..extensions import db

log = logging.getLogger(__name__)

bp = Blueprint("unavailable", __name__)

RETRY_AFTER_SECONDS = 30
MESSAGE = ("bridge cannot reach its database just now; nothing was stored. "
           f"Try again in {RETRY_AFTER_SECONDS} seconds.\n")


def _is_unreachable(exc: Exception) -> bool:
    if isinstance(exc, (OperationalError, DisconnectionError, PoolTimeout)):
        return True
    # psycopg reports a connection killed mid-statement (server shut down) as an
    # InterfaceError or with connection_invalidated set; both are the same outage.
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


@bp.app_errorhandler(DBAPIError)
@bp.app_errorhandler(DisconnectionError)
@bp.app_errorhandler(PoolTimeout)
def database_unavailable(exc: Exception):
    if not _is_unreachable(exc):
        raise exc  # a real bug (a constraint, bad SQL): the ordinary 500 path
    try:
        db.session.rollback()
    except Exception:  # the connection is gone; the pool discards it
        pass
    log.warning("database unavailable, answered 503: %s", type(exc.orig if hasattr(exc, "orig") else exc).__name__)
    return Response(MESSAGE, status=503, mimetype="text/plain", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
