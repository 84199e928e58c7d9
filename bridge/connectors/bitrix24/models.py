"""Tables of the Bitrix24 connector.

``Bitrix24Viewer`` remembers which portal user an iframe access token (AUTH_ID) belongs
to, so each token is confirmed with the portal once (a ``profile`` call) and not on every
page. Only a SHA-256 of the token is kept.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ...extensions import db
from ...models import UTCDateTime, utcnow


class Bitrix24Viewer(db.Model):
    __tablename__ = "bitrix24_viewers"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    installation_id: Mapped[int] = mapped_column(ForeignKey("installations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(Integer)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(255), default="")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
