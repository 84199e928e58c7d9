"""Refuse text no database can store before any view reads it.

PostgreSQL's text columns cannot hold a NUL character: a NUL in a portal's member_id, a
shop slug or a form field would fail the first query that compares it with 500, and only
on PostgreSQL (SQLite accepts it). No legitimate caller sends one (Bitrix24's form fields,
DG1's slugs and signatures, our own forms are all printable), so any request that carries
one in its path, query string or form fields is refused with 400 here, for every route,
including routes added later. JSON bodies are left to their receivers, which parse and
check them (a raw NUL is not valid JSON).
"""
from __future__ import annotations

from flask import Flask, Response, request

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _carries_nul() -> bool:
    if "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)):
        return True
    if request.mimetype in FORM_TYPES:
        return any("\x00" in k or "\x00" in v for k, v in request.form.items(multi=True))
    return False


def refuse_nul_bytes() -> Response | None:
    if _carries_nul():
        return Response("The request contains a NUL character.", status=400, mimetype="text/plain")
    return None


def init_inbound_checks(app: Flask) -> None:
    app.before_request(refuse_nul_bytes)
