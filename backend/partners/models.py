"""Partners: operators that push activity records through the signed API."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..dbtypes import UTCDateTime, str_enum
from ..extensions import db
from ..timeutil import aware, utcnow


class PartnerKind(enum.StrEnum):
    TRANSIT = "transit"
    BIKE_SHARE = "bike_share"
    WASTE_STATION = "waste_station"
    RESTAURANT = "restaurant"


class Partner(db.Model):
    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[PartnerKind] = mapped_column(str_enum(PartnerKind))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    keys: Mapped[list[PartnerKey]] = relationship(
        back_populates="partner", order_by="PartnerKey.id"
    )

    @property
    def is_active(self) -> bool:
        return self.suspended_at is None


class PartnerKey(db.Model):
    """A signing key. Rotation adds a key and gives the old one a short grace period."""

    __tablename__ = "partner_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(40), unique=True)
    secret_encrypted: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    partner: Mapped[Partner] = relationship(back_populates="keys")

    def is_valid(self, now: datetime | None = None) -> bool:
        return self.expires_at is None or aware(self.expires_at) > (now or utcnow())


class SeenSignature(db.Model):
    """Signatures already accepted (replay guard) when Redis is not configured."""

    __tablename__ = "partner_seen_signatures"

    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
