"""Stock bookings of articles.

[M] The notes document no stock-adjustment endpoint and say ``stock_nr`` can be written
only while no bookings exist (NOTES §6). The sandbox books an issued invoice's stock
articles out of stock (and back when it is reverted or cancelled), so that stock moves
in Bexio the way a shop owner sees it and the "no bookings" rule has something to bite on.
"""
from __future__ import annotations

from decimal import Decimal

from .state import Company


def _move(current: Company, inv: dict, sign: int) -> None:
    for p in inv["positions"]:
        article = current.articles.get(p.get("article_id") or -1)
        if p["type"] != "KbPositionArticle" or article is None or not article.get("is_stock"):
            continue
        article["stock_nr"] = article["stock_nr"] - sign * p["amount"]
        article["bookings"] += 1
        refresh(article)


def refresh(article: dict) -> None:
    """``stock_available_nr`` is physical stock minus reservations (NOTES §6 [M])."""
    article["stock_available_nr"] = article["stock_nr"] - article.get("stock_reserved_nr", Decimal(0))


def book(current: Company, inv: dict) -> None:
    if not inv.get("stock_booked"):
        _move(current, inv, +1)
        inv["stock_booked"] = True


def release(current: Company, inv: dict) -> None:
    if inv.get("stock_booked"):
        _move(current, inv, -1)
        inv["stock_booked"] = False


def set_stock(article: dict, stock_nr: Decimal) -> None:
    """An inventory count made by a Bexio user (control endpoint): always allowed."""
    article["stock_nr"] = stock_nr
    article["bookings"] += 1
    refresh(article)
