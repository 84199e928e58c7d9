"""Tell a person when bridge needs one: a connection to renew, a sync that failed for good,
and once a day a digest of the day's syncing.

- Inside the platform, where its port can (``Platform.notify_admin``): in Bitrix24 the
  installing administrator (the user whose tokens the app holds) gets an ``im.notify``
  system notification; e-mail goes out too when ``SMTP_HOST`` is configured (to
  ``SMTP_TO``, the partner running bridge).
- At most once per cause per day: an alert first claims its row in ``sent_alerts`` (unique
  on installation, cause and UTC day), then sends. A second failure of the same kind the
  same day changes nothing; a new day or a new cause alerts again.
- Alerts never call out inside the job engine's transaction: ``note_failure`` (called where
  failures are recorded) only enqueues ``deliver_alert`` after the commit.
"""
from __future__ import annotations

import logging
import smtplib
from datetime import timedelta
from email.message import EmailMessage

from flask import current_app
from huey import crontab
from sqlalchemy import func, select

from .dashboard.models import SentAlert
from .errors import ConflictError, NeedsReconnect, PermanentError, SyncError
from .extensions import db, huey
from .insert_ignore import insert_ignore
from .engine import app_context, enqueue_after_commit, on_failure, periodic
from .messages import N_, Word, joined, render
from .models import Installation, SyncRecord, utcnow
from .report_models import open_count
from .ports import platform_class
from .stored_messages import key_of, stored

log = logging.getLogger(__name__)

RECONNECT_FIX = N_("Open the app's settings and reconnect.")


def cause_of(flow: str, error: SyncError) -> str | None:
    """The cause an error alerts under, or None when it does not alert (it will be retried,
    or it is a conflict waiting for a choice in the invoice tab)."""
    if isinstance(error, NeedsReconnect) or error.code == "needs_reconnect":
        return "needs_reconnect"
    if isinstance(error, PermanentError) and not isinstance(error, ConflictError):
        return f"failed:{flow}:{error.code or 'error'}"[:150]
    return None


@on_failure
def note_failure(installation_id: int, flow: str, error: SyncError) -> None:
    """Called by the engine where a failure is recorded (registered with ``on_failure``, so
    the engine needs no import of alerts); sends nothing itself (commit-safe)."""
    cause = cause_of(flow, error)
    if cause is None:
        return
    if cause == "needs_reconnect":
        message = N_("bridge can no longer reach your accounting system: the connection must be renewed.")
    else:
        message = N_("A sync failed and will not be retried by itself: %(reason)s", reason=error.message)
    fix = error.fix or (RECONNECT_FIX if cause == "needs_reconnect" else
                        N_("Open the sync log, fix the cause and press Retry."))
    enqueue_after_commit(deliver_alert, installation_id, cause, message, fix)


# --------------------------------------------------------------------------------------
# Claim, then send
# --------------------------------------------------------------------------------------


def today() -> str:
    return utcnow().date().isoformat()


def claim(installation_id: int, cause: str, message: str) -> int | None:
    """The alert's row for today, or None when this cause was already alerted today."""
    alert_id = db.session.execute(insert_ignore(SentAlert.__table__).values({
        "installation_id": installation_id, "cause": cause[:150], "day": today(), "message": message,
        "message_i18n": key_of(message), "channels": "", "sent_at": utcnow()}).returning(SentAlert.__table__.c.id)).scalar_one_or_none()
    db.session.commit()
    return alert_id


def send(installation_id: int, cause: str, message: str, fix: str | None = None) -> bool:
    """Claim and send one alert; False when it was sent already today (or nowhere to send)."""
    installation = db.session.get(Installation, installation_id)
    if installation is None or installation.state != "active":
        return False
    alert_id = claim(installation_id, cause, message)
    if alert_id is None:
        return False
    channels, errors = [], []
    # The portal's administrator reads the portal's language; the e-mail goes to the partner
    # running bridge (SMTP_TO), who reads English as the logs do.
    for name, channel, language in ((installation.platform, _notify_platform, installation.language or "en"),
                                    ("email", _email, "en")):
        text = f"bridge ({installation.domain}): {render(message, language)}" + \
            (f" {render(fix, language)}" if fix else "")
        try:
            if channel(installation, text, cause):
                channels.append(name)
        except Exception as exc:  # one channel down must not stop the other
            log.warning("alert %s via %s failed: %s", cause, name, exc)
            errors.append(f"{name}: {exc}")
    alert = db.session.get(SentAlert, alert_id)
    alert.channels = ",".join(channels)
    alert.error = "; ".join(errors) or None
    if not channels and errors:
        db.session.delete(alert)  # nothing reached anyone: let the next occurrence try again
    db.session.commit()
    return bool(channels)


def _notify_platform(installation: Installation, text: str, cause: str) -> bool:
    """The administrator, inside their platform, where its port can (Bitrix24's im.notify)."""
    return platform_class(installation.platform).notify_admin(installation, text)


def _email(installation: Installation, text: str, cause: str) -> bool:
    config = current_app.config
    host, to = config.get("SMTP_HOST"), config.get("SMTP_TO")
    if not host or not to:
        return False
    message = EmailMessage()
    message["Subject"] = f"bridge: {'daily digest' if cause == 'digest' else 'action needed'} ({installation.domain})"
    message["From"] = config.get("SMTP_FROM") or f"bridge@{installation.domain or 'localhost'}"
    message["To"] = to
    message.set_content(text)
    with smtplib.SMTP(host, int(config.get("SMTP_PORT") or 587), timeout=float(config.get("HTTP_TIMEOUT_SECONDS", 30))) as smtp:
        if str(config.get("SMTP_STARTTLS", "1")).lower() in ("1", "true", "yes", "on"):
            smtp.starttls()
        if config.get("SMTP_USER"):
            smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
        smtp.send_message(message)
    return True


@huey.task()
def deliver_alert(installation_id: int, cause: str, message: str, fix: str | None = None) -> None:
    with app_context():
        send(installation_id, cause, message, fix)


# --------------------------------------------------------------------------------------
# The daily digest (and connections waiting to be renewed)
# --------------------------------------------------------------------------------------


def digest_of(installation: Installation) -> str | None:
    """Yesterday's syncing in one paragraph, or None when nothing happened and nothing is wrong."""
    since = utcnow() - timedelta(days=1)
    counts = dict(db.session.execute(select(SyncRecord.state, func.count()).where(
        SyncRecord.installation_id == installation.id, SyncRecord.created_at >= since)
        .group_by(SyncRecord.state)).all())
    unhealthy = [c for c in installation.ledger_connections if c.active and c.health != "ok"]
    differences = open_count(installation.id)  # the reconciliation report's, still to look at
    if not counts and not unhealthy and not differences:
        return None
    parts = [N_("In the last 24 hours: %(synced)s synced, %(failed)s failed, %(conflict)s waiting for a choice, "
                "%(retrying)s being retried.", synced=counts.get("succeeded", 0), failed=counts.get("failed", 0),
                conflict=counts.get("conflict", 0), retrying=counts.get("retrying", 0))]
    for connection in unhealthy:
        where = {"ledger": connection.ledger.title(), "health": Word("state", connection.health),
                 "organisation": connection.organisation_name or connection.organisation_id}
        parts.append(N_("%(ledger)s (%(organisation)s): %(health)s, %(detail)s.",
                        detail=stored(connection, "health_message"),
                        **where) if connection.health_message else N_("%(ledger)s (%(organisation)s): %(health)s.", **where))
    if counts.get("amounts_differ"):  # the ledger booked other money than the platform shows (money_check.py)
        parts.append(N_("%(count)s booked by the ledger with amounts that differ from the invoice's: check the tax "
                        "mapping.", count=counts["amounts_differ"]))
    if counts.get("failed") or counts.get("conflict") or counts.get("amounts_differ"):
        parts.append(N_("Open the sync log to see and retry them."))
    if differences:
        parts.append(N_("The reconciliation report has %(count)s open differences between %(platform)s and the "
                        "ledger: open it to fix or ignore them.", count=differences,
                        platform=platform_class(installation.platform).display_name))
    return joined(parts)


def daily_once() -> dict[str, int]:
    sent = {"digests": 0, "reconnect": 0}
    installations = db.session.scalars(select(Installation).where(Installation.state == "active")).all()
    for installation in installations:
        try:
            for connection in installation.ledger_connections:
                if connection.active and connection.health == "needs_reconnect":
                    sent["reconnect"] += send(installation.id, "needs_reconnect",
                                              N_("The connection to %(ledger)s must be renewed.",
                                                 ledger=connection.ledger.title()), RECONNECT_FIX)
            text = digest_of(installation)
            if text:
                sent["digests"] += send(installation.id, "digest", text)
        except Exception:  # one installation's trouble must not stop the others' digests
            db.session.rollback()
            log.exception("daily alerts for installation %s failed", installation.id)
    return sent


@periodic(crontab(minute="5", hour="7"), 86400, name="alerts_daily")
def alerts_daily() -> dict[str, int]:
    return daily_once()


def recent(installation_id: int, limit: int = 10) -> list[SentAlert]:
    return list(db.session.scalars(select(SentAlert).where(SentAlert.installation_id == installation_id)
                                   .order_by(SentAlert.id.desc()).limit(limit)))

