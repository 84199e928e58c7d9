"""Tokens encrypted at rest, refreshed by exactly one process at a time.

Refresh tokens rotate (Xero, Bitrix24, Bexio): the old one dies when the new one is
issued. Two workers refreshing at once would leave one of them holding a dead token and,
once the grace period passes, the user would have to reconnect. So a refresh is
single-flight per credential, and the new token is committed before anyone uses it:

- PostgreSQL: ``SELECT ... FOR UPDATE`` on the credential row, refresh, write, commit.
  Others wait on the lock and then read the new token.
- SQLite: a short committed lease (``refresh_lease_owner/until``) taken with a
  conditional UPDATE; never a write transaction held across the HTTP call, which would
  block every other writer (callback ingest included) for its duration.

Every statement here runs on its own connection, independent of the caller's session.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import text

from .errors import NeedsReconnect, RetryableError
from .messages import N_
from .redaction import register_secret

TokenData = dict[str, Any]
Refresher = Callable[[TokenData], TokenData]


@dataclass(frozen=True)
class Tokens:
    data: TokenData
    version: int
    expires_at: datetime | None

    @property
    def access_token(self) -> str:
        return self.data["access_token"]


def expires_at_from(data: TokenData, now: datetime | None = None) -> datetime | None:
    """Absolute expiry from ``expires_at`` (epoch) or ``expires_in`` (seconds)."""
    now = now or datetime.now(timezone.utc)
    if data.get("expires_at"):
        return datetime.fromtimestamp(float(data["expires_at"]), tz=timezone.utc)
    if data.get("expires_in"):
        return now + timedelta(seconds=float(data["expires_in"]))
    return None


class Vault:
    def __init__(self, engine, key: str, *, clock: Callable[[], datetime] | None = None,
                 lease_seconds: float = 60.0, wait_seconds: float = 45.0) -> None:
        self.engine = engine
        self.fernet = Fernet(key.encode() if isinstance(key, str) else key)
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.lease_seconds = lease_seconds
        self.wait_seconds = wait_seconds
        register_secret(key if isinstance(key, str) else key.decode())

    # -- encryption ---------------------------------------------------------------------
    def encrypt(self, data: TokenData) -> str:
        for name in ("access_token", "refresh_token", "id_token", "api_key", "secret"):
            register_secret(data.get(name))
        return self.fernet.encrypt(json.dumps(data).encode()).decode()

    def decrypt(self, ciphertext: str) -> TokenData:
        try:
            data = json.loads(self.fernet.decrypt(ciphertext.encode()))
        except InvalidToken as exc:
            raise NeedsReconnect(N_("Stored tokens cannot be decrypted: TOKEN_ENCRYPTION_KEY changed."),
                                 fix=N_("Restore the previous TOKEN_ENCRYPTION_KEY or reconnect.")) from exc
        for name in ("access_token", "refresh_token", "id_token", "api_key", "secret"):
            register_secret(data.get(name))
        return data

    # -- storage ------------------------------------------------------------------------
    def create(self, system: str, data: TokenData) -> int:
        """Store a new credential; returns its id."""
        from .models import Credential
        from .extensions import db

        credential = Credential(system=system, ciphertext=self.encrypt(data),
                                expires_at=expires_at_from(data, self.clock()))
        db.session.add(credential)
        db.session.flush()
        return credential.id

    def replace(self, credential_id: int, data: TokenData) -> None:
        """Overwrite tokens after a fresh authorisation (connect, re-install)."""
        with self.engine.begin() as conn:
            conn.execute(text(
                "UPDATE credentials SET ciphertext = :c, expires_at = :e, version = version + 1, "
                "state = 'ok', state_message = NULL, refresh_lease_owner = NULL, refresh_lease_until = NULL, "
                "updated_at = :now WHERE id = :id"),
                {"c": self.encrypt(data), "e": _naive(expires_at_from(data, self.clock())),
                 "id": credential_id, "now": _naive(self.clock())})

    def read(self, credential_id: int) -> Tokens:
        with self.engine.connect() as conn:
            row = conn.execute(text(
                "SELECT ciphertext, version, expires_at, state, state_message FROM credentials WHERE id = :id"),
                {"id": credential_id}).mappings().first()
        if row is None:
            raise NeedsReconnect(N_("The connection was removed."), fix=N_("Connect again."))
        if row["state"] == "needs_reconnect":
            raise NeedsReconnect(row["state_message"] or N_("The connection must be renewed."),
                                 fix=N_("Reconnect in Settings."))
        return Tokens(self.decrypt(row["ciphertext"]), row["version"], _aware(row["expires_at"]))

    def mark_needs_reconnect(self, credential_id: int, message: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE credentials SET state = 'needs_reconnect', state_message = :m, "
                              "refresh_lease_owner = NULL, refresh_lease_until = NULL WHERE id = :id"),
                         {"m": message, "id": credential_id})

    # -- fresh tokens -------------------------------------------------------------------
    def fresh(self, credential_id: int, refresher: Refresher, *, margin: float = 120.0,
              stale_version: int | None = None) -> Tokens:
        """Tokens valid for at least ``margin`` seconds, refreshing once if needed.

        ``stale_version``: the caller was refused (401) with that version; refresh unless
        someone already did.
        """
        deadline = time.monotonic() + self.wait_seconds
        delay = 0.05
        while True:
            tokens = self.read(credential_id)
            if not self._needs_refresh(tokens, margin, stale_version):
                return tokens
            if self.engine.dialect.name == "postgresql":
                return self._refresh_locked(credential_id, refresher, margin, stale_version)
            owner = uuid.uuid4().hex
            if self._take_lease(credential_id, tokens.version, owner):
                return self._refresh_with_lease(credential_id, tokens, refresher, owner)
            if time.monotonic() > deadline:
                raise RetryableError(N_("Another process is renewing the connection's tokens."), retry_after=5,
                                     code="refresh_in_progress")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _needs_refresh(self, tokens: Tokens, margin: float, stale_version: int | None) -> bool:
        if stale_version is not None and tokens.version == stale_version:
            return True
        if tokens.expires_at is None:
            return False
        return tokens.expires_at <= self.clock() + timedelta(seconds=margin)

    def _take_lease(self, credential_id: int, version: int, owner: str) -> bool:
        now = self.clock()
        with self.engine.begin() as conn:
            return bool(conn.execute(text(
                "UPDATE credentials SET refresh_lease_owner = :o, refresh_lease_until = :u "
                "WHERE id = :id AND version = :v AND (refresh_lease_until IS NULL OR refresh_lease_until < :now)"),
                {"o": owner, "u": _naive(now + timedelta(seconds=self.lease_seconds)), "id": credential_id,
                 "v": version, "now": _naive(now)}).rowcount)

    def _refresh_with_lease(self, credential_id: int, tokens: Tokens, refresher: Refresher, owner: str) -> Tokens:
        try:
            new_data = self._call_refresher(credential_id, tokens.data, refresher)
        except BaseException:
            with self.engine.begin() as conn:
                conn.execute(text("UPDATE credentials SET refresh_lease_owner = NULL, refresh_lease_until = NULL "
                                  "WHERE id = :id AND refresh_lease_owner = :o"), {"id": credential_id, "o": owner})
            raise
        expires = expires_at_from(new_data, self.clock())
        with self.engine.begin() as conn:
            conn.execute(text(
                "UPDATE credentials SET ciphertext = :c, expires_at = :e, version = version + 1, "
                "refresh_lease_owner = NULL, refresh_lease_until = NULL, updated_at = :now "
                "WHERE id = :id AND refresh_lease_owner = :o"),
                {"c": self.encrypt(new_data), "e": _naive(expires), "id": credential_id, "o": owner,
                 "now": _naive(self.clock())})
        return Tokens(new_data, tokens.version + 1, expires)

    def _refresh_locked(self, credential_id: int, refresher: Refresher, margin: float,
                        stale_version: int | None) -> Tokens:
        with self.engine.begin() as conn:
            row = conn.execute(text("SELECT ciphertext, version, expires_at, state FROM credentials "
                                    "WHERE id = :id FOR UPDATE"), {"id": credential_id}).mappings().one()
            tokens = Tokens(self.decrypt(row["ciphertext"]), row["version"], _aware(row["expires_at"]))
            if row["state"] == "needs_reconnect":
                raise NeedsReconnect(N_("The connection must be renewed."), fix=N_("Reconnect in Settings."))
            if not self._needs_refresh(tokens, margin, stale_version):
                return tokens  # someone refreshed while we waited for the lock
            try:
                new_data = self._merge(tokens.data, refresher(tokens.data))
            except NeedsReconnect as exc:
                # Marked on this connection: it holds the row lock, another would wait on it.
                conn.execute(text("UPDATE credentials SET state = 'needs_reconnect', state_message = :m "
                                  "WHERE id = :id"), {"m": exc.message, "id": credential_id})
                refused = exc
            else:
                refused = None
                expires = expires_at_from(new_data, self.clock())
                conn.execute(text("UPDATE credentials SET ciphertext = :c, expires_at = :e, "
                                  "version = version + 1, updated_at = :now WHERE id = :id"),
                             {"c": self.encrypt(new_data), "e": _naive(expires), "id": credential_id,
                              "now": _naive(self.clock())})
        if refused is not None:
            raise refused
        return Tokens(new_data, tokens.version + 1, expires)

    def _call_refresher(self, credential_id: int, data: TokenData, refresher: Refresher) -> TokenData:
        try:
            return self._merge(data, refresher(data))
        except NeedsReconnect as exc:
            self.mark_needs_reconnect(credential_id, exc.message)
            raise

    @staticmethod
    def _merge(old: TokenData, new: TokenData) -> TokenData:
        """Keep what a refresh response does not repeat (tenant ids, endpoints), but never
        the old expiry."""
        kept = {k: v for k, v in old.items() if k not in ("expires_at", "expires_in")}
        return {**kept, **new}


def _naive(value: datetime | None) -> datetime | None:
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value else None


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite through a Core text() query returns strings
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def vault_for_app(app) -> Vault:
    existing = app.extensions.get("bridge_vault")
    if existing is None:
        from .extensions import db

        with app.app_context():
            existing = Vault(db.engine, app.config["TOKEN_ENCRYPTION_KEY"])
        app.extensions["bridge_vault"] = existing
    return existing
