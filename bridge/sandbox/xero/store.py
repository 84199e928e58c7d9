"""In-memory state of the simulated Xero: organisations and the identity server's records.

All of it is guarded by the host's lock; nothing here does I/O.
"""
from __future__ import annotations

import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import seed


@dataclass
class Org:
    """One Xero organisation (a tenant) and everything booked in it."""

    tenant_id: str
    name: str
    region: str
    base_currency: str
    created: datetime
    short_code: str
    accounts: list[dict]
    tax_rates: list[dict]
    currencies: list[dict]
    contacts: dict[str, dict] = field(default_factory=dict)
    invoices: dict[str, dict] = field(default_factory=dict)
    payments: dict[str, dict] = field(default_factory=dict)
    credit_notes: dict[str, dict] = field(default_factory=dict)
    tracking_categories: dict[str, dict] = field(default_factory=dict)
    branding_themes: list[dict] = field(default_factory=list)
    bank_transactions: dict[str, dict] = field(default_factory=dict)
    items: dict[str, dict] = field(default_factory=dict)
    invoice_seq: int = 0
    credit_note_seq: int = 0
    webhook_url: str | None = None
    day_limit: int | None = None
    # Above this many records of a kind, unoptimised ``where`` filters are refused
    # (query.HIGH_VOLUME_THRESHOLD when None; tests lower it).
    high_volume_threshold: int | None = None
    last_stamp: datetime | None = None

    def stamp(self, now: datetime) -> datetime:
        """A strictly increasing UpdatedDateUTC, so that every change moves it (NOTES section 2)."""
        now = now.replace(microsecond=(now.microsecond // 1000) * 1000)
        if self.last_stamp is not None and now <= self.last_stamp:
            now = self.last_stamp + timedelta(milliseconds=1)
        self.last_stamp = now
        return now

    def account_by_code(self, code: str) -> dict | None:
        return next((a for a in self.accounts if a["Code"].lower() == str(code).lower()), None)

    def account_by_id(self, account_id: str) -> dict | None:
        return next((a for a in self.accounts if a["AccountID"].lower() == str(account_id).lower()), None)

    def tax_rate(self, tax_type: str) -> dict | None:
        return next((t for t in self.tax_rates if t["TaxType"].lower() == str(tax_type).lower()), None)

    @property
    def default_sales_tax(self) -> str:
        return seed.REGIONS[self.region][0]

    @property
    def default_purchase_tax(self) -> str:
        return seed.REGIONS[self.region][1]


def new_org(name: str, region: str, base_currency: str | None, now: datetime) -> Org:
    region = region.upper()
    if region not in seed.REGIONS:
        raise ValueError(f"region must be one of {sorted(seed.REGIONS)}")
    currency = (base_currency or seed.REGIONS[region][3]).upper()
    codes = sorted({currency, seed.REGIONS[region][3]})
    return Org(tenant_id=str(uuid.uuid4()), name=name, region=region, base_currency=currency,
               created=now, short_code="!" + "".join(random.choices(string.ascii_letters + string.digits, k=5)),
               accounts=seed.accounts(region), tax_rates=seed.tax_rates(region),
               currencies=[seed.currency(c) for c in codes],
               branding_themes=[{"BrandingThemeID": str(uuid.uuid4()), "Name": theme, "SortOrder": n,
                                 "Type": "INVOICE", "CreatedDateUTC": now}
                                for n, theme in enumerate(("Standard", "Special Projects"))])


@dataclass
class Connection:
    """A user's grant of one organisation to one app (GET /connections, NOTES section 1)."""

    id: str
    tenant_id: str
    user_id: str
    client_id: str
    auth_event_id: str
    created: datetime
    updated: datetime


@dataclass
class Grant:
    """What one consent (or one headless mint) allowed: the scopes and who consented."""

    user_id: str
    client_id: str
    auth_event_id: str
    scopes: list[str]


@dataclass
class AccessToken:
    grant: Grant
    expires: float
    revoked: bool = False


@dataclass
class RefreshToken:
    grant: Grant
    last_used: float
    rotated_at: float | None = None
    revoked: bool = False


@dataclass
class AuthCode:
    grant: Grant
    redirect_uri: str
    expires: float
    tenant_ids: list[str]
    used: bool = False


@dataclass
class IdentityState:
    codes: dict[str, AuthCode] = field(default_factory=dict)
    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, RefreshToken] = field(default_factory=dict)
    connections: dict[str, Connection] = field(default_factory=dict)
    pending_consents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def connections_for(self, user_id: str, client_id: str) -> list[Connection]:
        return [c for c in self.connections.values() if c.user_id == user_id and c.client_id == client_id]

    def connect(self, grant: Grant, tenant_id: str, now: datetime) -> Connection:
        """Connect (or reconnect) an org; a reconnect keeps the id and moves updatedDateUtc."""
        for conn in self.connections_for(grant.user_id, grant.client_id):
            if conn.tenant_id == tenant_id:
                conn.auth_event_id = grant.auth_event_id
                conn.updated = now
                return conn
        conn = Connection(id=str(uuid.uuid4()), tenant_id=tenant_id, user_id=grant.user_id,
                          client_id=grant.client_id, auth_event_id=grant.auth_event_id,
                          created=now, updated=now)
        self.connections[conn.id] = conn
        return conn
