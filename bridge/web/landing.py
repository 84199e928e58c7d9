"""The landing page: what bridge is and where its pages are (outside any portal)."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("landing", __name__)


@bp.get("/")
def index():
    demo = current_app.config["BRIDGE_ENV"] in ("demo", "test")
    return render_template("landing.html", demo=demo, sandbox_url=current_app.config["SANDBOX_URL"])
