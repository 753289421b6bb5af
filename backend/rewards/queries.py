"""Read side of offers and redemptions."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..timeutil import LOCAL_TZ, local, utcnow
from .models import Offer, OfferStatus, Redemption, RedemptionStatus


def offers_for_residents(now: datetime | None = None) -> list[Offer]:
    """Live offers (approved, within their window), cheapest first; sold-out ones included."""
    now = now or utcnow()
    return list(
        db.session.scalars(
            select(Offer)
            .options(joinedload(Offer.merchant))
            .where(
                Offer.status == OfferStatus.ACTIVE, Offer.valid_from <= now, Offer.valid_until > now
            )
            .order_by(Offer.points_price, Offer.id)
        )
    )


def offers_of_merchant(merchant_id: int) -> list[Offer]:
    return list(
        db.session.scalars(
            select(Offer).where(Offer.merchant_id == merchant_id).order_by(Offer.id.desc())
        )
    )


def pending_offers() -> list[Offer]:
    return list(
        db.session.scalars(
            select(Offer).where(Offer.status == OfferStatus.PENDING).order_by(Offer.id)
        )
    )


def redemptions_of(resident_id: int) -> list[Redemption]:
    return list(
        db.session.scalars(
            select(Redemption)
            .where(Redemption.resident_id == resident_id)
            .order_by(Redemption.id.desc())
        )
    )


def local_day_bounds(day: datetime | None = None) -> tuple[datetime, datetime]:
    start_local = local(day or utcnow()).replace(hour=0, minute=0, second=0, microsecond=0)
    return start_local, start_local + timedelta(days=1)


def merchant_day(merchant_id: int, day: datetime | None = None) -> list[Redemption]:
    """A merchant's redemptions closed (fulfilled, refunded) during one local day."""
    start, end = local_day_bounds(day)
    return list(
        db.session.scalars(
            select(Redemption)
            .where(
                Redemption.merchant_id == merchant_id,
                Redemption.closed_at >= start,
                Redemption.closed_at < end,
                or_(
                    Redemption.status == RedemptionStatus.FULFILLED,
                    Redemption.status == RedemptionStatus.REFUNDED,
                ),
            )
            .order_by(Redemption.closed_at.desc())
        )
    )


def settlement_csv(merchant_id: int, start: datetime, end: datetime) -> str:
    """Fulfilled and refunded redemptions of a period, for the merchant's settlement."""
    rows = db.session.scalars(
        select(Redemption)
        .where(
            Redemption.merchant_id == merchant_id,
            Redemption.closed_at >= start,
            Redemption.closed_at < end,
            Redemption.status.in_((RedemptionStatus.FULFILLED, RedemptionStatus.REFUNDED)),
        )
        .order_by(Redemption.closed_at)
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "redemption_id",
            "fulfilled_at_local",
            "offer_id",
            "offer_title",
            "status",
            "points",
            "points_settled",
        ]
    )
    total = 0
    for r in rows:
        settled = r.points if r.status is RedemptionStatus.FULFILLED else 0
        total += settled
        writer.writerow(
            [
                r.id,
                local(r.closed_at).strftime("%Y-%m-%d %H:%M:%S") if r.closed_at else "",
                r.offer_id,
                r.offer.title_zh,
                r.status.value,
                r.points,
                settled,
            ]
        )
    writer.writerow(["total", "", "", "", "", "", total])
    return out.getvalue()


def period_bounds(start_day: str, end_day: str) -> tuple[datetime, datetime]:
    """Local calendar days [start_day, end_day] as an aware UTC-comparable range."""
    start = datetime.fromisoformat(start_day).replace(tzinfo=LOCAL_TZ)
    end = datetime.fromisoformat(end_day).replace(tzinfo=LOCAL_TZ) + timedelta(days=1)
    return start, end
