"""In-memory state of the simulated Bexio: companies, the registered app, sessions, tokens.

Everything here is read and written under ``host.lock``; nothing is persisted.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from . import reference


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class DemoSettings:
    """Relaxations of real Bexio rules, each off unless a demo turns it on.

    ``auto_approve``: the authorize endpoint approves at once as the first user of the
    first company instead of showing the consent page (env SANDBOX_BEXIO_AUTO_APPROVE).
    ``any_loopback_redirect``: any http://127.0.0.1 / http://localhost redirect URI is
    accepted, although real Bexio accepts only the URLs registered for the app (NOTES §1)
    (env SANDBOX_BEXIO_ANY_LOOPBACK_REDIRECT).
    """
    auto_approve: bool = False
    any_loopback_redirect: bool = False

    @classmethod
    def from_env(cls) -> "DemoSettings":
        return cls(auto_approve=_flag("SANDBOX_BEXIO_AUTO_APPROVE"),
                   any_loopback_redirect=_flag("SANDBOX_BEXIO_ANY_LOOPBACK_REDIRECT"))


@dataclass
class RegisteredApp:
    """The app registered on developer.bexio.com (NOTES §1: at most 10 redirect URLs)."""
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    @classmethod
    def from_env(cls, app_url: str) -> "RegisteredApp":
        uris = os.environ.get("SANDBOX_BEXIO_REDIRECT_URIS", "")
        listed = [u.strip() for u in uris.split(",") if u.strip()] or [f"{app_url}/oauth/bexio/callback"]
        return cls(client_id=os.environ.get("SANDBOX_BEXIO_CLIENT_ID", "bridge-demo"),
                   client_secret=os.environ.get("SANDBOX_BEXIO_CLIENT_SECRET", "bridge-demo-secret"),
                   redirect_uris=listed[:10])


@dataclass
class Company:
    """One Bexio company (tenant) with its own ids, documents and rate-limit window."""
    company_id: str
    name: str
    seq: int
    owner_email: str
    trial: bool = False
    users: list[dict] = field(default_factory=list)
    accounts: list[dict] = field(default_factory=list)
    taxes: list[dict] = field(default_factory=list)
    bank_accounts: list[dict] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    account_by_no: dict[str, int] = field(default_factory=dict)
    contacts: dict[int, dict] = field(default_factory=dict)
    invoices: dict[int, dict] = field(default_factory=dict)
    articles: dict[int, dict] = field(default_factory=dict)
    sent_emails: list[dict] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    window_start: float = 0.0
    window_count: int = 0
    faults: list[list[int]] = field(default_factory=list)  # [[status, remaining], ...]

    def next_id(self, kind: str) -> int:
        self.counters[kind] = self.counters.get(kind, 0) + 1
        return self.counters[kind]

    def user(self, user_id: Any) -> dict | None:
        return next((u for u in self.users if u["id"] == user_id), None)

    def tax(self, tax_id: Any) -> dict | None:
        return next((t for t in self.taxes if t["id"] == tax_id), None)

    def public(self) -> dict[str, Any]:
        return {"company_id": self.company_id, "name": self.name, "trial": self.trial,
                "users": [{"id": u["id"], "email": u["email"], "login_id": u["login_id"],
                           "is_superadmin": u["is_superadmin"]} for u in self.users]}


def new_company(seq: int, name: str, company_id: str | None = None,
                owner_email: str | None = None, trial: bool = False) -> Company:
    slug = company_id or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or f"company-{seq}"
    email = owner_email or f"owner@{slug}.example"
    company = Company(company_id=slug, name=name, seq=seq, owner_email=email, trial=trial)
    seeded = reference.seed(seq, name, email)
    for key, value in seeded.items():
        setattr(company, key, value)
    return company


DEMO_COMPANIES = [("Alpenblick Handels AG", "alpenblick"), ("Seeland Velo GmbH", "seeland")]


@dataclass
class BexioState:
    companies: dict[str, Company] = field(default_factory=dict)
    codes: dict[str, dict] = field(default_factory=dict)        # authorization codes
    sessions: dict[str, dict] = field(default_factory=dict)     # Keycloak user sessions
    access_tokens: dict[str, dict] = field(default_factory=dict)
    refresh_tokens: dict[str, dict] = field(default_factory=dict)
    pending_consents: dict[str, dict] = field(default_factory=dict)

    def add_company(self, name: str, company_id: str | None = None,
                    owner_email: str | None = None, trial: bool = False) -> Company:
        company = new_company(len(self.companies) + 1, name, company_id, owner_email, trial)
        if company.company_id in self.companies:
            raise ValueError(f"company {company.company_id} exists")
        self.companies[company.company_id] = company
        return company

    @classmethod
    def with_demo_companies(cls) -> "BexioState":
        state = cls()
        for name, slug in DEMO_COMPANIES:
            state.add_company(name, slug)
        return state
