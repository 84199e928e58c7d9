"""Demo mode: install the app into the sandbox portal on start, as an admin would.

The sandbox posts the install page exactly as a portal's iframe does; bridge then makes
its own REST calls (bindings, the user field) and the sandbox marks the app installed.
Real portals refuse http and localhost handlers (specs/bitrix24/NOTES.md s5), so the
demo first turns on the sandbox's named relaxation for that.
"""
from __future__ import annotations

from typing import Iterator

import requests
from flask import current_app

DEMO_PORTAL = "acme.bitrix24.com"


def seed() -> Iterator[str]:
    control = f"{current_app.config['SANDBOX_URL']}/_sandbox/bitrix24"
    try:
        overview = requests.get(f"{control}/", timeout=10).json()
        portal = next((p for p in overview.get("portals", []) if p["domain"] == DEMO_PORTAL), None)
        if portal and portal.get("installed"):
            yield f"Bitrix24: the app is already installed on {DEMO_PORTAL}."
            return
        requests.post(f"{control}/settings", json={"allow_insecure_handlers": True}, timeout=10).raise_for_status()
        reply = requests.post(f"{control}/portals/{DEMO_PORTAL}/install", json={"mode": "page"}, timeout=60)
        reply.raise_for_status()
    except requests.RequestException as exc:
        yield f"Bitrix24: could not install the app into the sandbox ({type(exc).__name__})."
        return
    status = reply.json().get("page_status")
    if status == 200:
        _demo_settings(reply.json()["auth"]["member_id"])
        yield f"Bitrix24: app installed on {DEMO_PORTAL}; open {current_app.config['SANDBOX_URL']}/{DEMO_PORTAL}/crm/type/31/list/"
    else:
        yield f"Bitrix24: the install page answered HTTP {status}; see the bridge log."


def _demo_settings(member_id: str) -> None:
    """Map the demo portal's 15 % rate and a sales account to the sandbox's NZ organisation
    (GST on income OUTPUT2, Sales 200), so the first invoice syncs as soon as Xero is
    connected. A real installation chooses these in Settings."""
    from ...extensions import db
    from ...settings import get_section, save_section
    from . import store

    installation = store.find(member_id)
    if installation is None or get_section(installation, "mapping").tax_rates:
        return
    save_section(installation, "mapping", {"tax_rates": {"15": "OUTPUT2", "0": "NONE"},
                                           "default_sales_account": "200"})
    db.session.commit()
