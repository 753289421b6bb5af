"""Plain notices to one user (an organiser, an administrator, a resident).

A small per-user list: what changed, in both languages, and what it concerns. Written by the
services that change something a user must hear about (a certificate suspended or restored,
a neutrality deadline coming, a methodology version changing a resident's future credits).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..dbtypes import UTCDateTime
from ..extensions import db
from ..timeutil import utcnow


class Notice(db.Model):
    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    topic: Mapped[str] = mapped_column(String(40))  # e.g. certificate.suspended
    text: Mapped[dict[str, str]] = mapped_column(JSON)  # {"zh_CN": ..., "en": ...}
    ref_type: Mapped[str | None] = mapped_column(String(40))
    ref_id: Mapped[str | None] = mapped_column(String(40))
    # Sending the same notice twice (a job re-run) is harmless: at most one per key.
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_notices_user_created", "user_id", "created_at"),)

    def text_for(self, lang: str | None) -> str:
        return self.text.get("en" if (lang or "").startswith("en") else "zh_CN", "")
