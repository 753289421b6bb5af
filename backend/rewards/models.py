"""Offers merchants publish for points, and residents' redemptions of them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..dbtypes import UTCDateTime, str_enum
from ..extensions import db
from ..timeutil import utcnow


class OfferStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for an administrator's approval
    ACTIVE = "active"
    PAUSED = "paused"
    REJECTED = "rejected"


class Offer(db.Model):
    __tablename__ = "offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    title_zh: Mapped[str] = mapped_column(String(80))
    title_en: Mapped[str] = mapped_column(String(120), default="")
    description_zh: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    image_path: Mapped[str | None] = mapped_column(String(200))
    points_price: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    per_resident_limit: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[OfferStatus] = mapped_column(
        str_enum(OfferStatus), index=True, default=OfferStatus.PENDING
    )
    review_comment: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Yuan the city pays per point redeemed on this offer (decimal string), overriding the
    # merchant's rate; None: the merchant's rate applies.
    funded_yuan_per_point: Mapped[str | None] = mapped_column(String(20))

    merchant = relationship("Merchant")

    __table_args__ = (
        CheckConstraint("points_price > 0", name="price_positive"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("per_resident_limit > 0", name="limit_positive"),
        CheckConstraint("valid_until > valid_from", name="window_ordered"),
    )

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" and self.title_en else self.title_zh

    def description(self, lang: str) -> str:
        return self.description_en if lang == "en" and self.description_en else self.description_zh


class RedemptionStatus(enum.StrEnum):
    HELD = "held"  # points held, waiting for the merchant
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUNDED = "refunded"


class Redemption(db.Model):
    __tablename__ = "redemptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    points: Mapped[int] = mapped_column(Integer)
    status: Mapped[RedemptionStatus] = mapped_column(
        str_enum(RedemptionStatus), default=RedemptionStatus.HELD
    )
    short_code: Mapped[str] = mapped_column(String(12), unique=True)
    nonce: Mapped[str] = mapped_column(String(32), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    fulfil_key: Mapped[str | None] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # fulfilled, cancelled, expired
    # Set once by a refund; the settlement shows the refund in the period of this time, while
    # the fulfilment stays in the period of ``closed_at``.
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fulfilled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    refund_reason: Mapped[str] = mapped_column(String(200), default="")

    offer: Mapped[Offer] = relationship()
    resident = relationship("User", foreign_keys=[resident_id])

    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        Index("ix_redemptions_merchant_closed", "merchant_id", "closed_at"),
        Index("ix_redemptions_merchant_refunded", "merchant_id", "refunded_at"),
        Index("ix_redemptions_status_expires", "status", "expires_at"),
    )
