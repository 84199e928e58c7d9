"""The DG1 admin in the admin's language: DG1's launch names it, signed (docs/dg1.md section 6)."""
from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import responses
from flask_babel import refresh

from bridge.connectors.dg1 import signing

from .conftest import EXAMPLE_TS, LAUNCH_SECRET


def launch(lang: str = "", signed_lang: str | None = None) -> str:
    args = {"tenant": "demo", "site": "ch", "user": "admin", "ts": str(EXAMPLE_TS), "page": "orders"}
    sig = signing.launch_signature(LAUNCH_SECRET, *args.values(), lang if signed_lang is None else signed_lang)
    return "/dg1/launch?" + urlencode({**args, **({"lang": lang} if lang else {}), "sig": sig})


def orders_page(client, url: str, **headers):
    started = client.get(url, headers=headers)
    assert started.status_code == 302, started.text
    token = parse_qs(urlsplit(started.headers["Location"]).query)["s"][0]
    refresh()  # the tests share one app context; a real request has its own locale
    return client.get(f"/dg1/orders?s={token}", headers=headers)


@responses.activate
def test_a_launch_naming_french_shows_the_pages_in_french(client, tenant, clock, api):
    responses.get(f"{api}/sites/ch/orders", json={"data": [], "next_cursor": None})
    page = orders_page(client, launch("fr"), **{"Accept-Language": "de"})  # the signed choice wins
    assert '<html lang="fr">' in page.text
    assert "Commandes" in page.text and "Aucune commande sur ce site" in page.text


@responses.activate
def test_a_launch_without_a_language_follows_the_browser(client, tenant, clock, api):
    responses.get(f"{api}/sites/ch/orders", json={"data": [], "next_cursor": None})
    page = orders_page(client, launch(), **{"Accept-Language": "de-CH,de;q=0.9"})
    assert '<html lang="de">' in page.text and "Bestellungen" in page.text


def test_a_language_changed_after_signing_is_refused(client, tenant, clock):
    assert client.get(launch("fr", signed_lang="de")).status_code == 401
    assert client.get(launch("fr", signed_lang="")).status_code == 401  # added to a link signed without it


@responses.activate
def test_french_puts_its_space_before_a_colon_on_the_products_page(client, tenant, clock, api):
    """"Synchronisation des produits : pas encore exécuté." — French typography, not English
    punctuation glued to French words."""
    responses.get(f"{api}/sites", json={"data": [{"id": "ch", "currency": "CHF"}], "next_cursor": None})
    responses.get(f"{api}/sites/ch/products", json={"data": [], "next_cursor": None})
    started = client.get(launch("fr"))
    token = parse_qs(urlsplit(started.headers["Location"]).query)["s"][0]
    refresh()
    page = client.get(f"/dg1/products?s={token}").text
    assert "Synchronisation des produits :" in page and "Synchronisation des produits:" not in page
