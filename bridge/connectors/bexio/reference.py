"""Per-company reference data, read once per ledger instance (NOTES §3: ids differ per
company and must be resolved, never hard-coded; NOTES §8.8 shows what goes wrong)."""
from __future__ import annotations

from decimal import Decimal
from functools import cached_property
from typing import Any

from ...errors import PermanentError
from ...messages import N_
from .client import BexioClient
from .mapper import dec


class References:
    def __init__(self, client: BexioClient) -> None:
        self.client = client

    @cached_property
    def me(self) -> dict[str, Any]:
        return self.client.me()

    @cached_property
    def users(self) -> list[dict[str, Any]]:
        return self.client.users()

    @cached_property
    def languages(self) -> list[dict[str, Any]]:
        return self.client.languages()

    @cached_property
    def currencies(self) -> list[dict[str, Any]]:
        return self.client.currencies()

    @cached_property
    def countries(self) -> list[dict[str, Any]]:
        return self.client.countries()

    @cached_property
    def bank_accounts(self) -> list[dict[str, Any]]:
        return self.client.bank_accounts()

    # -- lookups ----------------------------------------------------------------------------
    def language_id(self, code: str) -> int:
        """NOTES §3: map by iso_639_1."""
        code = (code or "").split("-")[0].lower()
        for row in self.languages:
            if str(row.get("iso_639_1", "")).lower() == code:
                return int(row["id"])
        raise PermanentError(N_("Bexio has no language \"%(code)s\".", code=code), code="unknown_language",
                             fix=N_("Choose one of Bexio's languages in the settings."))

    def currency(self, code: str) -> dict[str, Any]:
        """NOTES §3: a currency's ``name`` is its ISO 4217 code."""
        for row in self.currencies:
            if str(row.get("name", "")).upper() == (code or "").upper():
                return row
        raise PermanentError(N_("The currency %(code)s is not set up in Bexio.", code=code), code="unknown_currency",
                             fix=N_("Add %(code)s in Bexio (Settings > Currencies) or change the currency setting.",
                                    code=code))

    def currency_codes(self) -> dict[int, str]:
        return {int(r["id"]): str(r["name"]) for r in self.currencies}

    def round_factor(self, currency_id: int | None) -> Decimal:
        row = next((r for r in self.currencies if r.get("id") == currency_id), None)
        return dec(row.get("round_factor"), Decimal("0.01")) if row else Decimal("0.01")

    def country_id(self, iso2: str) -> int | None:
        """NOTES §3: countries map through iso3166_alpha2."""
        if not iso2:
            return None
        row = next((r for r in self.countries if str(r.get("iso3166_alpha2", "")).upper() == iso2.upper()), None)
        return int(row["id"]) if row else None

    def country_codes(self) -> dict[int, str]:
        return {int(r["id"]): str(r.get("iso3166_alpha2") or "") for r in self.countries}

    def user_id(self, configured: int | None) -> int:
        """The user documents are attributed to: the setting, else whoever connected."""
        if configured is None:
            return int(self.me["id"])
        if not any(int(u["id"]) == int(configured) for u in self.users):
            raise PermanentError(N_("The Bexio user %(user)s chosen in the settings no longer exists.",
                                    user=configured),
                                 code="unknown_user", fix=N_("Choose another Bexio user in the settings."))
        return int(configured)
