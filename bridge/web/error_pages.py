"""Error pages a portal's or shop's frame can show, saying what to do.

Why: a page inside Bitrix24's or DG1's iframe that fails used to answer with
``frame-ancestors 'none'`` (the default rule, ``framing.py``), so the browser showed a blank
or broken frame instead of the words. An error page holds no signed link and no button, so
letting the portal or shop whose page failed frame it gives a clickjacker nothing; any
other site still may not. A page learns which portal or shop it serves as soon as it knows
(``bridge/error_frame.py``); an error after that is framed for it.

An unexpected failure (a 500) is answered with a page in the viewer's language that says
nothing was lost and what to do, never a traceback or an exception's name.
"""
from __future__ import annotations


from flask import Flask, Response, make_response, render_template
from werkzeug.exceptions import InternalServerError

from ..error_frame import error_frame_policy
from ..messages import N_


FAILED = N_("Something went wrong in bridge while showing this page.")
FAILED_FIX = N_("Nothing you saved was lost. Reload the page; if this happens again, tell whoever runs bridge "
                "for you, with the time shown here.")


def error_page(status: int, message: str, fix: str | None = None) -> Response:
    """The readable error page, framed for the page's portal or shop when it is known."""
    from datetime import datetime, timezone

    response = make_response(render_template("error.html", message=message, fix=fix,
                                             at=datetime.now(timezone.utc)), status)
    policy = error_frame_policy()
    if policy:
        response.headers["Content-Security-Policy"] = policy
        response.headers["Cache-Control"] = "no-store"
    return response


def internal_error(error: InternalServerError) -> Response:
    return error_page(500, FAILED, FAILED_FIX)


def init_error_pages(app: Flask) -> None:
    app.register_error_handler(InternalServerError, internal_error)
