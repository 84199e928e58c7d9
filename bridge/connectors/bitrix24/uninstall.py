"""Is the app really uninstalled? Asked of the portal itself, never taken from the event.

ONAPPUNINSTALL is signed by nothing but the application_token, which Bitrix24 hands to
every app page any portal user opens (NOTES s2, "What every iframe page receives"). So the
callback only asks for this check (``installations.request_uninstall``), and this job asks
Bitrix24. A real uninstall withdraws every REST permission of the app before the event
goes out (NOTES s2; "OnAppUninstall": "all the app's access rights to the REST API are
removed") and the OAuth server then answers a refresh with ``invalid_client`` ("the
application may not be installed", settings/oauth/error-codes). The outcomes:

- confirmed: the OAuth server refuses the installation's refresh with ``invalid_client``
  (unless the portal still accepts the access token of before: then bridge's client id or
  secret is what is refused, and the check is inconclusive), or the portal's REST refuses
  the freshly refreshed token as unauthorised (``invalid_token``, ``NO_AUTH_FOUND``, a 401);
- refused: the refresh succeeds and the portal answers ``app.info`` normally: the app is
  installed, the event was not Bitrix24's. Nothing changes; it is written in the sync log
  (operator console) and the portal's administrator is alerted (once a day);
- inconclusive: no answer, a 5xx, a limit, a spent or expired refresh token
  (``invalid_grant``: a concurrent refresh elsewhere can cause it, it proves nothing):
  nothing changes, and the job engine retries with backoff.
"""
from __future__ import annotations

import enum

from flask import current_app

from ...alerts import deliver_alert
from ...errors import PacingWait, RetryableError, SyncError
from ...extensions import db
from ...installations import check_window, refuse_uninstall, uninstall
from ...messages import N_
from ...engine import WorkContext, enqueue_after_commit, flow
from ...models import Installation, utcnow
from ...vault import Tokens, vault_for_app
from . import store
from .client import Credentials

FLOW = "confirm_uninstall"
# The OAuth server's answer for an app that is not installed (NOTES s3, settings/oauth/error-codes).
NOT_INSTALLED = frozenset({"invalid_client"})
# The portal's answers to a token it does not accept (NOTES s10). expired_token is not one:
# the client refreshes and retries it, and a token minted a moment ago cannot have expired.
UNAUTHORISED = frozenset({"invalid_token", "NO_AUTH_FOUND"})
REFUSED_MESSAGE = N_("An uninstall event came with the app's application token, but Bitrix24 still has the app "
                     "installed and answers with bridge's access: the event was not Bitrix24's. Nothing was removed.")
REFUSED_FIX = N_("Nothing to do if you did not uninstall the app. The application token is seen by everyone who "
                 "opens the app; installing the app again gives it a new one.")

CREDENTIALS_REFUSED = N_("An uninstall event is waiting to be confirmed with Bitrix24, but Bitrix24's OAuth server "
                         "refuses bridge's app credentials while the portal still accepts bridge's access. Nothing "
                         "was removed; bridge asks again.")
CREDENTIALS_FIX = N_("Check BITRIX24_CLIENT_ID and BITRIX24_CLIENT_SECRET against the local application's settings "
                     "in Bitrix24.")


class Outcome(str, enum.Enum):
    CONFIRMED = "confirmed"
    REFUSED = "refused"


class Inconclusive(RetryableError):
    """Bitrix24 gave no answer that says either way: nothing changes, the check is retried."""

    code = "uninstall_unconfirmed"


def confirm_uninstall(installation: Installation) -> Outcome:
    """Ask Bitrix24 whether the app is still installed on this installation's portal:
    refresh its tokens, then call ``app.info`` with the fresh token. Raises ``Inconclusive``
    when the answer says neither."""
    try:
        client = store.client_for(installation)
    except SyncError as exc:  # not active, or its tokens unreadable: nothing to ask with
        raise Inconclusive(N_("bridge cannot ask Bitrix24 whether the app was uninstalled: %(reason)s",
                              reason=exc.message),
                           retry_after=600) from exc
    if not client.auth.can_refresh:  # an inbound webhook: no app that could have been uninstalled
        return Outcome.REFUSED
    stored: Tokens | None = None
    try:
        # Exactly one renewal: the tokens' version as stored, refreshed unless a concurrent
        # renewal did it meanwhile (the vault's single flight; its new token is as fresh).
        stored = vault_for_app(current_app).read(installation.credential_id)
        client.auth.refresh(Credentials(stored.data.get("client_endpoint", ""), {}, stored.version))
    except SyncError as exc:
        if exc.code not in NOT_INSTALLED:
            raise _inconclusive(N_("the token refresh"), exc) from exc
        if _still_accepted(installation, stored):
            raise Inconclusive(CREDENTIALS_REFUSED, retry_after=3600, fix=CREDENTIALS_FIX) from exc
        return Outcome.CONFIRMED
    try:
        client.call("app.info")
    except SyncError as exc:
        if exc.code in UNAUTHORISED or (exc.status == 401 and exc.code != "expired_token"):
            return Outcome.CONFIRMED
        raise _inconclusive("app.info", exc) from exc
    return Outcome.REFUSED


def _still_accepted(installation: Installation, stored: Tokens | None) -> bool:
    """``invalid_client`` also means "wrong client id or secret" (settings/oauth/error-codes):
    bridge's own configuration, not the portal. An access token of before that has not
    expired tells the two apart: an uninstall revoked it, so the portal accepting it means
    the app is installed still."""
    if stored is None or not stored.data.get("access_token") or stored.expires_at is None \
            or stored.expires_at <= utcnow():
        return False
    try:
        store.user_client(installation, stored.access_token).call("app.info")
    except SyncError:
        return False
    return True


def _inconclusive(step: str, exc: SyncError) -> Inconclusive:
    retry_after = exc.retry_after if isinstance(exc, RetryableError) else None
    return Inconclusive(N_("An uninstall event is waiting to be confirmed with Bitrix24; %(step)s gave no answer "
                           "either way (%(reason)s). Nothing was removed; bridge asks again.",
                           step=step, reason=exc.message),
                        retry_after=retry_after, ledger_messages=exc.ledger_messages)


@flow(FLOW)
def run_check(ctx: WorkContext) -> None:
    """The job ``request_uninstall`` asks for. After an answer, the next check waits for the
    end of the window (no attempt counted): no flood of events refreshes more often. An
    inconclusive one is retried by the job engine's backoff."""
    installation = db.session.get(Installation, ctx.installation_id)
    if installation is None or installation.state != "active" or installation.uninstall_requested_at is None:
        return  # uninstalled or re-installed meanwhile, or answered by an earlier run
    t = utcnow()
    last = installation.uninstall_checked_at
    if last is not None and t < last + check_window():
        raise PacingWait(N_("The last uninstall check was a moment ago; the next is due at the end of its window."),
                         retry_after=(last + check_window() - t).total_seconds())
    record = ctx.record(object_kind="installation", object_id=installation.domain or installation.account_id,
                        direction="to_platform")
    outcome = confirm_uninstall(installation)
    record.finished_at = utcnow()
    if outcome is Outcome.CONFIRMED:
        record.state = "succeeded"
        record.warning = (N_("Bitrix24 confirmed the uninstall: the ledger connections were cut and the tokens "
                             "deleted; the data is kept until the grace period ends.") if installation.uninstall_clean
                          else N_("Bitrix24 confirmed the uninstall: the ledger connections were cut and the tokens "
                                  "deleted; the data is kept for a re-install."))
        uninstall(installation, clean=installation.uninstall_clean)
        return
    record.state = "skipped"
    record.error_code = "uninstall_refused"
    record.warning = REFUSED_MESSAGE
    record.error_fix = REFUSED_FIX
    enqueue_after_commit(deliver_alert, installation.id, "uninstall_refused", REFUSED_MESSAGE, REFUSED_FIX)
    refuse_uninstall(installation, checked_at=t)
