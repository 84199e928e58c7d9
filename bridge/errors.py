"""Typed sync errors: every failure is either worth retrying (and when) or needs a person.

Connectors raise these; the job engine acts on them (reschedule, pause, or record and
stop); the UI shows ``message`` and ``fix``. Both are ``Message``s (``N_("...", name=value)``,
bridge/messages.py): stored with their id, they are shown in the reader's language, while
``str(exc)`` stays the English text the logs read. Plain text still works and is shown as it
is. A ledger's own validation messages travel in ``ledger_messages`` and are shown as they
are, never swallowed.
"""
from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

from .messages import N_

log = logging.getLogger(__name__)


class SyncError(Exception):
    """Base of every error a flow can meet."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None, fix: str | None = None,
                 ledger_messages: list[str] | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.fix = fix
        self.ledger_messages = list(ledger_messages or [])
        self.status = status


class RetryableError(SyncError):
    """Temporary: try again, no sooner than ``retry_after`` seconds from now if given."""

    code = "retryable"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class PacingWait(RetryableError):
    """bridge's own limiter held a call back before it was sent (a minute's or a second's
    budget, or the concurrency cap): the run waits and goes on, and it is no attempt of
    the item's. Counted as one, a backlog that waits for Xero's minute often enough would
    "give up after 12 attempts" though nothing ever failed."""

    code = "rate_limited"


class BudgetExhausted(RetryableError):
    """An API budget (e.g. Xero's daily cap) is spent: pause until it resets, do not retry."""

    code = "budget_exhausted"

    def __init__(self, message: str, *, resume_at: datetime, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.resume_at = resume_at


class PermanentError(SyncError):
    """Retrying will not help until someone changes something; ``fix`` says what."""

    code = "permanent"


class NeedsReconnect(PermanentError):
    """The authorisation is gone (revoked, expired refresh token): the user must reconnect."""

    code = "needs_reconnect"


class ConflictError(SyncError):
    """Both sides changed, or the ledger no longer accepts the change: a person decides."""

    code = "conflict"

    def __init__(self, message: str, *, ours: Any = None, theirs: Any = None,
                 choices: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.ours = ours
        self.theirs = theirs
        self.choices = list(choices or [])


class UnexpectedError(RetryableError):
    """A bug or an unexpected library error, as a user reads it: plain words and an error
    id, never the exception's class, its text (an IntegrityError's text is the SQL and its
    parameters) or a traceback. Those go to the log under the same id (``unexpected``); the
    operator console shows the id with the record, so the two meet."""

    code = "internal"

    def __init__(self, error_id: str) -> None:
        super().__init__(N_("Something went wrong inside bridge (error id %(error_id)s). It is tried again "
                            "automatically.", error_id=error_id), code="internal",
                         fix=N_("If it keeps failing, give the error id %(error_id)s to whoever runs bridge.",
                                error_id=error_id))
        self.error_id = error_id


def unexpected(exc: BaseException, where: str) -> UnexpectedError:
    """Log ``exc`` with its traceback under a new error id and return what the user sees."""
    error_id = secrets.token_hex(4)
    log.error("error id %s in %s: %s: %s", error_id, where, type(exc).__name__, exc, exc_info=exc)
    return UnexpectedError(error_id)
