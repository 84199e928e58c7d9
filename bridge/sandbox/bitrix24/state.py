"""In-memory state of the simulated portals, the registered app and the OAuth server.

Everything is guarded by ``host.lock``; times come from ``host.clock``.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .bucket import LeakyBucket, bucket_for_plan

ACCESS_TOKEN_TTL = 3600            # NOTES s3: access token lives 1 h
REFRESH_TOKEN_TTL = 180 * 86400    # NOTES s3: 180 days per current docs
AUTH_CODE_TTL = 30                 # NOTES s3: code valid 30 s
APP_SCOPES = ["crm", "placement", "userfieldconfig", "im", "catalog", "user_brief"]


@dataclass
class AppRegistration:
    """The local app as entered in Developer resources (NOTES s1)."""
    client_id: str
    client_secret: str
    handler_url: str
    install_url: str
    scopes: list[str] = field(default_factory=lambda: list(APP_SCOPES))
    version: int = 1


@dataclass
class User:
    id: int
    name: str
    last_name: str
    email: str
    admin: bool


@dataclass
class Installation:
    """The app on one portal. INSTALLED only after installFinish (NOTES s2)."""
    application_token: str
    installed: bool = False
    removed: bool = False


@dataclass
class AccessToken:
    token: str
    member_id: str
    user_id: int
    expires_at: float


@dataclass
class RefreshToken:
    token: str
    member_id: str
    user_id: int
    expires_at: float
    used: bool = False
    revoked: bool = False  # by an uninstall of the app


@dataclass
class Webhook:
    user_id: int
    secret: str
    scopes: list[str]
    expires_at: float | None = None


@dataclass
class Portal:
    domain: str
    member_id: str
    plan: str = "professional"
    status: str = "L"               # NOTES s2: L local app
    tz_minutes: int = 180
    language: str = "en"            # the users' language: LANG of every app page, LANGUAGE_ID of events
    category_id: int = 1            # NOTES s6: smart-invoice categoryId differs per portal
    # Which invoices the portal uses: "smart" (crm.item, entityTypeId 31), "legacy" (crm.invoice.*, a
    # self-hosted portal that kept the old invoices) or "both"; see legacy.py.
    invoice_mode: str = "smart"
    deleted: bool = False
    rest_unavailable: bool = False  # a plan without REST: every call answers ACCESS_DENIED (errors.rest_unavailable)
    bucket: LeakyBucket = None  # type: ignore[assignment]
    users: dict[int, User] = field(default_factory=dict)
    installation: Installation | None = None
    webhooks: dict[str, Webhook] = field(default_factory=dict)
    placements: list[dict[str, Any]] = field(default_factory=list)
    handlers: list[dict[str, Any]] = field(default_factory=list)
    offline_queue: list[dict[str, Any]] = field(default_factory=list)
    userfields: list[dict[str, Any]] = field(default_factory=list)
    # entityTypeId -> id -> item (camelCase for 31; UPPER_CASE for contacts 3 / companies 4)
    items: dict[int, dict[int, dict[str, Any]]] = field(default_factory=lambda: {31: {}, 3: {}, 4: {}})
    product_rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    legacy_invoices: dict[int, dict[str, Any]] = field(default_factory=dict)   # crm.invoice.* (UPPER_CASE)
    legacy_userfields: list[dict[str, Any]] = field(default_factory=list)      # crm.invoice.userfield.*
    company_userfields: list[dict[str, Any]] = field(default_factory=list)     # crm.company.userfield.*
    stages: list[dict[str, Any]] = field(default_factory=list)
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    sections: dict[int, dict[str, Any]] = field(default_factory=dict)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)  # crm.timeline.comment.* on smart invoices
    vat_rates: list[dict[str, Any]] = field(default_factory=list)  # crm.vat.list rows (UPPER_CASE, strings)
    next_ids: dict[str, int] = field(default_factory=dict)
    operating_blocked: dict[str, float] = field(default_factory=dict)  # method -> reset_at
    requests: int = 0  # REST requests received (a batch is one), refused ones included

    def __post_init__(self) -> None:
        if self.bucket is None:
            self.bucket = bucket_for_plan(self.plan)

    def next_id(self, kind: str, start: int = 1) -> int:
        value = self.next_ids.get(kind, start)
        self.next_ids[kind] = value + 1
        return value

    @property
    def is_enterprise(self) -> bool:
        return self.plan == "enterprise"


def env(name: str, default: str) -> str:
    return os.environ.get(f"SANDBOX_BITRIX24_{name}", default)


def new_token() -> str:
    # Real tokens are 70-odd hex-ish characters; the product must treat them as opaque.
    return secrets.token_hex(32)


def seed_stages(portal: Portal) -> None:
    """Default smart-invoice stages (NOTES s6): N new, S sent, P paid (success), D declined (failure)."""
    c = portal.category_id
    rows = [("N", "New", 10, None, "#22B9FF"), ("S", "Sent to client", 20, None, "#FFA900"),
            ("UC_AWAIT", "Awaiting payment", 30, None, "#2FC6F6"),
            ("P", "Paid", 40, "S", "#7BD500"), ("D", "Declined", 50, "F", "#FF5752")]
    portal.stages = [{
        "ID": str(portal.next_id("status", 100)), "ENTITY_ID": f"SMART_INVOICE_STAGE_{c}",
        "STATUS_ID": f"DT31_{c}:{code}", "NAME": name, "NAME_INIT": name if code != "UC_AWAIT" else "",
        "SORT": str(sort), "SYSTEM": "N" if code == "UC_AWAIT" else "Y", "COLOR": color,
        "SEMANTICS": semantics, "CATEGORY_ID": str(c),
    } for code, name, sort, semantics, color in rows]


def seed_catalog(portal: Portal) -> None:
    """A small product catalogue with sections, for per-product / per-section sales accounts."""
    for sid, name, parent in ((13, "Hardware", None), (14, "Services", None), (15, "Consulting", 14)):
        portal.sections[sid] = {"id": sid, "iblockId": 25, "iblockSectionId": parent, "name": name,
                                "code": name.lower(), "xmlId": f"sec-{sid}", "active": "Y", "sort": 500}
    for pid, name, section, price in ((101, "Laptop stand", 13, "49.90"), (102, "USB-C dock", 13, "129.00"),
                                      (103, "Support hour", 14, "95.00"), (104, "Workshop day", 15, "1200.00")):
        portal.products[pid] = {"id": pid, "iblockId": 25, "iblockSectionId": section, "name": name,
                                "active": "Y", "xmlId": f"prod-{pid}", "code": f"p{pid}",
                                "purchasingPrice": None, "price": Decimal(price), "currency": "EUR",
                                "vatId": 1, "vatIncluded": "N"}


def seed_vat_rates(portal: Portal) -> None:
    """The portal's VAT rates as crm.vat.list returns them: ID and RATE as strings, RATE null
    for "No VAT", and one retired rate (ACTIVE "N") that a form must not offer."""
    rows = [("No VAT", None, "Y", 100), ("VAT 0%", "0.00", "Y", 200), ("VAT 9%", "9.00", "Y", 300),
            ("VAT 15%", "15.00", "Y", 400), ("VAT 19%", "19.00", "Y", 500), ("VAT 18% (until 2018)", "18.00", "N", 600)]
    portal.vat_rates = [{"ID": str(portal.next_id("vat")), "TIMESTAMP_X": "2024-01-01T00:00:00+03:00", "ACTIVE": active,
                         "C_SORT": str(sort), "NAME": name, "RATE": rate} for name, rate, active, sort in rows]


def make_portal(domain: str, member_id: str, plan: str = "professional", category_id: int = 1,
                tz_minutes: int = 180, webhook_secret: str | None = None) -> Portal:
    portal = Portal(domain=domain, member_id=member_id, plan=plan, category_id=category_id, tz_minutes=tz_minutes)
    portal.users[1] = User(1, "Anna", "Admin", f"admin@{domain}", True)
    portal.users[2] = User(2, "Bob", "Sales", f"bob@{domain}", False)
    seed_stages(portal)
    seed_catalog(portal)
    seed_vat_rates(portal)
    if webhook_secret:
        portal.webhooks[webhook_secret] = Webhook(1, webhook_secret, ["crm", "user_brief", "catalog", "im"])
    return portal


DEFAULT_PORTALS = (
    # domain, member_id, plan, category id, tz offset (minutes), inbound webhook secret of user 1
    ("acme.bitrix24.com", "a1c3e5d7f9b1a3c5e7d9f1b3a5c7e9d1", "professional", 1, 180, "acmewebhooksecret1"),
    ("globex.bitrix24.de", "b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2", "enterprise", 5, 60, "globexwebhooksecret2"),
)
