"""Helpers for the Bitrix24 sandbox tests: control calls, a token, and an event receiver."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import requests
from flask import Flask, request

from tests.support.servers import serve_in_thread

ACME = "acme.bitrix24.com"
GLOBEX = "globex.bitrix24.de"


def control(sandbox, path: str, method: str = "post", **body):
    response = getattr(requests, method)(f"{sandbox.url}/_sandbox/bitrix24{path}", json=body, timeout=10)
    assert response.status_code < 300, response.text
    return response.json()


def install_tokens(sandbox, domain: str = ACME, finish: bool = True, user_id: int = 1) -> dict:
    """Install the app without a page (mode=tokens) and return the install reply."""
    return control(sandbox, f"/portals/{domain}/install", mode="tokens", finish=finish, user_id=user_id)


def rest(sandbox, domain: str, method: str, token: str | None = None, **params):
    if token is not None:
        params["auth"] = token
    return requests.post(f"{sandbox.url}/{domain}/rest/{method}", json=params, timeout=10)


@dataclass
class Receiver:
    """A tiny app standing in for the product's event handler."""
    url: str
    calls: list = field(default_factory=list)
    status: int = 200
    arrived: threading.Event = field(default_factory=threading.Event)


def start_receiver():
    app = Flask("receiver")
    state = {"receiver": None}

    @app.route("/hooks/bitrix24", methods=["POST"])
    @app.route("/bitrix24/placement/invoice", methods=["POST"])
    def hook():
        rec = state["receiver"]
        rec.calls.append({"path": request.path, "args": dict(request.args), "form": dict(request.form),
                          "content_type": request.content_type})
        rec.arrived.set()
        return ("ok", rec.status)

    running = serve_in_thread(app)
    state["receiver"] = Receiver(url=running.url)
    return running, state["receiver"]
