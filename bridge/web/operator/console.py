"""The operator console: for the partner running bridge for several clients, outside any portal.

- Sign-in with an operator made by ``flask operator create EMAIL`` (werkzeug password hashes).
- Its own signed cookie (``bridge_operator``): HttpOnly, SameSite=Strict, Path=/operator,
  Secure when PUBLIC_URL is https. SameSite=Strict means a page framed inside a portal (a
  cross-site context) never carries it, and frame-ancestors 'none' refuses framing outright.
- Every form carries a CSRF token bound to the session.
- Read-only: installations, their connection health, failures, API budgets and sync log. It
  links to no portal page; portal pages trust Bitrix24's launch and form tokens, never this
  cookie (its path does not even reach them).
"""
from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from functools import wraps
from typing import Any, Callable

import click
from flask import Blueprint, Response, abort, current_app, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ... import alerts
from ..i18n import STATE_WORDS
from ...dashboard.models import Operator
from ...errors import RetryableError
from ...ratelimit import Limits, limiter_for_app
from ...extensions import db
from ...models import Installation, RateBudget, SyncRecord, WorkItem, utcnow
from ...numbers import page_number

bp = Blueprint("operator", __name__, url_prefix="/operator", cli_group="operator")
COOKIE = "bridge_operator"
SESSION_AGE = timedelta(hours=12)
LOG_PAGE = 50
# Sign-in attempts per client address, shared by every process (the API budgets' limiter):
# ten at once, then one a minute. Guessing passwords is slow; an operator who mistypes is not stuck.
LOGIN_LIMITS = Limits(rate=1 / 60, burst=10, max_wait=0.0)
# A dummy hash to check against when the e-mail is unknown, so both answers take as long.
_DUMMY_HASH = generate_password_hash("not-a-password")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="operator-session")


def _current() -> tuple[Operator, str] | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer().loads(raw, max_age=int(SESSION_AGE.total_seconds()))
    except BadSignature:
        return None
    operator = db.session.get(Operator, data.get("o"))
    # The session names a slice of the password hash: changing the password ends old sessions.
    if operator is None or data.get("h") != operator.password_hash[-16:]:
        return None
    return operator, str(data.get("c") or "")


def _secure(response: Response) -> Response:
    response.headers["Vary"] = "Accept-Language, Cookie"  # the console speaks the browser's language
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _page(template: str, status: int = 200, **context: Any) -> Response:
    return _secure(make_response(render_template(template, csrf=getattr(g, "operator_csrf", ""),
                                                 operator=getattr(g, "operator", None), **context), status))


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        session = _current()
        if session is None:
            return _secure(redirect(url_for("operator.login")))
        g.operator, g.operator_csrf = session
        if request.method == "POST" and not hmac.compare_digest(request.form.get("csrf", ""), g.operator_csrf):
            abort(400, _("The form's security token is missing or wrong. Reload the page."))
        return view(*args, **kwargs)
    return wrapper


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        # A login form CSRF: the double-submit of a pre-session cookie would need a cookie;
        # SameSite=Strict plus the Origin check below keeps other sites from signing people in.
        origin = request.headers.get("Origin")
        if origin and origin.rstrip("/") != request.host_url.rstrip("/"):
            abort(400, _("Sign in from the console's own page."))
        try:
            limiter_for_app(current_app._get_current_object()).take(f"operator-login:{request.remote_addr}", LOGIN_LIMITS)
        except RetryableError as exc:
            wait = max(int((exc.retry_after or 60) // 60), 1)
            return _page("operator/login.html", 429, error=_("Too many attempts. Try again in %(minutes)s minute(s).",
                                                             minutes=wait))
        email = (request.form.get("email") or "").strip().lower()
        operator = db.session.scalar(select(Operator).where(Operator.email == email))
        password = request.form.get("password") or ""
        valid = check_password_hash(operator.password_hash if operator else _DUMMY_HASH, password)
        if operator is not None and valid:
            operator.last_login_at = utcnow()
            db.session.commit()
            token = _serializer().dumps({"o": operator.id, "h": operator.password_hash[-16:],
                                         "c": secrets.token_urlsafe(24)})
            response = redirect(url_for("operator.installations"))
            response.set_cookie(COOKIE, token, max_age=int(SESSION_AGE.total_seconds()), path="/operator",
                                httponly=True, samesite="Strict",
                                secure=current_app.config["PUBLIC_URL"].startswith("https://"))
            return _secure(response)
        error = _("The e-mail address or the password is not right.")
    return _page("operator/login.html", 401 if error else 200, error=error)


@bp.post("/logout")
@signed_in
def logout():
    response = redirect(url_for("operator.login"))
    response.delete_cookie(COOKIE, path="/operator")
    return _secure(response)


# The budget keys each client shares across processes (``budget_key`` in each connector's client).
PLATFORM_BUDGET_PREFIX = {"bitrix24": "b24", "dg1": "dg1"}


def _budgets(installation: Installation) -> list[tuple[str, RateBudget]]:
    """(system, budget) of the installation's platform account and ledger organisations."""
    names = {f"{c.ledger}:{c.organisation_id}": c.ledger for c in installation.ledger_connections}
    prefix = PLATFORM_BUDGET_PREFIX.get(installation.platform, installation.platform)
    names[f"{prefix}:{installation.account_id}"] = installation.platform
    rows = db.session.scalars(select(RateBudget).where(RateBudget.key.in_(list(names))).order_by(RateBudget.key))
    return [(names[row.key], row) for row in rows]


def _failures(installation_ids: list[int]) -> dict[int, int]:
    since = utcnow() - timedelta(days=1)
    return dict(db.session.execute(select(SyncRecord.installation_id, func.count()).where(
        SyncRecord.installation_id.in_(installation_ids), SyncRecord.state.in_(("failed", "conflict")),
        SyncRecord.created_at >= since).group_by(SyncRecord.installation_id)).all())


@bp.get("/")
@signed_in
def installations():
    rows = list(db.session.scalars(select(Installation).order_by(Installation.platform, Installation.domain)))
    failures = _failures([i.id for i in rows])
    pending = dict(db.session.execute(select(WorkItem.installation_id, func.count()).where(
        WorkItem.state.in_(("queued", "running", "waiting"))).group_by(WorkItem.installation_id)).all())
    return _page("operator/installations.html", installations=rows, failures=failures, pending=pending,
                 budgets={i.id: _budgets(i) for i in rows})


@bp.get("/installations/<int:installation_id>")
@signed_in
def installation(installation_id: int):
    row = db.session.get(Installation, installation_id)
    if row is None:
        abort(404)
    state = request.args.get("state", "")
    page = page_number(request.args.get("page"))
    query = select(SyncRecord).where(SyncRecord.installation_id == row.id)
    if state:
        query = query.where(SyncRecord.state == state)
    records = list(db.session.scalars(query.order_by(SyncRecord.id.desc()).limit(LOG_PAGE + 1)
                                      .offset((page - 1) * LOG_PAGE)))
    return _page("operator/installation.html", installation=row, connections=row.ledger_connections,
                 budgets=_budgets(row), records=records[:LOG_PAGE], more=len(records) > LOG_PAGE, page=page,
                 state=state, failures=_failures([row.id]).get(row.id, 0), alerts=alerts.recent(row.id),
                 states=STATES)


# The sync record states, in the console's language (the filter's list).
STATES = {state: STATE_WORDS[state]
          for state in ("running", "succeeded", "retrying", "failed", "conflict", "amounts_differ", "skipped")}


# --------------------------------------------------------------------------------------
# flask operator create EMAIL
# --------------------------------------------------------------------------------------


@bp.cli.command("create")
@click.argument("email")
@click.password_option(help="the operator's password (asked for when not given)")
def create_operator(email: str, password: str) -> None:
    """Create an operator of the console, or set the password of an existing one."""
    email = email.strip().lower()
    if "@" not in email:
        raise click.BadParameter("give an e-mail address", param_hint="EMAIL")
    if len(password) < 12:
        raise click.BadParameter("use at least 12 characters", param_hint="--password")
    operator = db.session.scalar(select(Operator).where(Operator.email == email))
    if operator is None:
        operator = Operator(email=email, password_hash="")
        db.session.add(operator)
    operator.password_hash = generate_password_hash(password)
    db.session.commit()
    click.echo(f"Operator {email} can sign in at /operator/login.")
