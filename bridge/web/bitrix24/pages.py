"""Names shared by the Bitrix24 app's pages (main page, settings, sync log, dashboard): the
ledger as they name it, and their one answer to a refused launch or form.

Every view lets ``LaunchRefused`` (``connectors/bitrix24/iframe.py``) rise; the handler each
blueprint registers with ``answer_refusals`` turns it into the message page with its status
(400 malformed, 401 untrusted, 403 not an administrator, 404 not found here), framed only by
the registered portal the request named (``bridge/error_frame.py``): the page holds no link
or button, so that portal's frame shows the words; any other site may not frame it.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, make_response, render_template
from flask_babel import gettext as _

from ...connectors.bitrix24.iframe import APP_PAGES, LaunchRefused, framed  # noqa: F401  (APP_PAGES: the pages' token)
from ...error_frame import error_frame_policy
from ...installations import active_connection
from ...models import Installation
from ...ports import ledger_name



def ledger_heading(installation: Installation, kind: str | None = None) -> str:
    """The ledger as a page names it: ``kind``'s (the ledger an invoice is in), else the
    installation's connected one ("Bexio"), else the neutral "Accounting" (none connected yet):
    a portal whose ledger is Bexio never reads "Xero"."""
    if not kind:
        connection = active_connection(installation)
        kind = connection.ledger if connection is not None else None
    return ledger_name(kind) if kind else _("Accounting")


def refused(exc: LaunchRefused) -> Response:
    body = render_template("bitrix24/message.html", title="bridge", message=exc.message,
                           bx24_js=current_app.config["BITRIX24_JS_URL"])
    response = framed(make_response(body, exc.status), None)
    policy = error_frame_policy()  # the portal the request proved (or whose token expired) may frame it
    if policy:
        response.headers["Content-Security-Policy"] = policy
    return response


def answer_refusals(bp: Blueprint) -> None:
    """The blueprint's views answer every ``LaunchRefused`` they raise with ``refused``."""
    bp.register_error_handler(LaunchRefused, refused)
