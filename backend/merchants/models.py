"""Merchants that accept points, and the staff who work for them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..dbtypes import UTCDateTime, str_enum
from ..extensions import db
from ..timeutil import utcnow


class MerchantKind(enum.StrEnum):
    RETAIL = "retail"  # accepts points
    RESTAURANT = "restaurant"  # also confirms clean plates and small portions
    WASTE_STATION = "waste_station"  # also weighs sorted waste


class Merchant(db.Model):
    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    district: Mapped[str] = mapped_column(String(10))
    address: Mapped[str] = mapped_column(String(200), default="")
    category: Mapped[str] = mapped_column(String(40), default="")
    kind: Mapped[MerchantKind] = mapped_column(str_enum(MerchantKind), default=MerchantKind.RETAIL)
    contact: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # WGS-84 decimal degrees as strings (as area_mu in events): where "Nearby" puts it
    latitude: Mapped[str | None] = mapped_column(String(12))
    longitude: Mapped[str | None] = mapped_column(String(12))
    # Yuan the city pays per point this merchant redeems (a decimal string; None: not
    # funded). An offer's own rate, where set, takes precedence.
    funded_yuan_per_point: Mapped[str | None] = mapped_column(String(20))

    staff = relationship("User", back_populates="merchant")
