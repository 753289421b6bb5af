"""Read side of offers and redemptions."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..timeutil import LOCAL_TZ, local, utcnow
from .exceptions import InvalidPeriod, UnknownOffer
from .models import Offer, OfferStatus, Redemption, RedemptionStatus


@dataclass(frozen=True)
class SettlementRow:
    """One line of a settlement: a fulfilment (points > 0) or a refund (points < 0)."""

    redemption: Redemption
    event: str  # "fulfilled" | "refunded"
    at: datetime
    points: int


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


def visible_offer(offer_id: int) -> Offer:
    """An offer residents may see (one of ``offers_for_residents``), else ``UnknownOffer``:
    the offer page and ``GET /offers/<id>`` alike."""
    offer = db.session.get(Offer, offer_id)
    if offer is None or offer not in offers_for_residents():
        raise UnknownOffer()
    return offer


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


def settlement_rows(merchant_id: int, start: datetime, end: datetime) -> list[SettlementRow]:
    """What a period settles: each fulfilment in it (+points), each refund in it (-points).

    A fulfilment stays in the period it happened in even when it is refunded later; the
    refund is its own negative row in the period of ``refunded_at``, so a period's figures
    never change afterwards and add up, across periods, to the merchant's ledger account.
    """
    fulfilled = db.session.scalars(
        select(Redemption)
        .options(joinedload(Redemption.offer))
        .where(
            Redemption.merchant_id == merchant_id,
            Redemption.closed_at >= start,
            Redemption.closed_at < end,
            Redemption.status.in_((RedemptionStatus.FULFILLED, RedemptionStatus.REFUNDED)),
        )
    )
    refunded = db.session.scalars(
        select(Redemption)
        .options(joinedload(Redemption.offer))
        .where(
            Redemption.merchant_id == merchant_id,
            Redemption.refunded_at >= start,
            Redemption.refunded_at < end,
            Redemption.status == RedemptionStatus.REFUNDED,
        )
    )
    # (the WHERE clauses guarantee the timestamps; the checks are for the type checker)
    rows = [SettlementRow(r, "fulfilled", r.closed_at, r.points) for r in fulfilled if r.closed_at]
    rows += [
        SettlementRow(r, "refunded", r.refunded_at, -r.points) for r in refunded if r.refunded_at
    ]
    rows.sort(key=lambda row: (row.at, row.redemption.id, row.points < 0))
    return rows


def settlement_csv(merchant_id: int, start: datetime, end: datetime) -> str:
    """The settlement CSV of a period: one row per fulfilment or refund, then the total."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "redemption_id",
            "event",
            "at_local",
            "offer_id",
            "offer_title",
            "points",
            "points_settled",
        ]
    )
    total = 0
    for row in settlement_rows(merchant_id, start, end):
        total += row.points
        r = row.redemption
        writer.writerow(
            [
                r.id,
                row.event,
                local(row.at).strftime("%Y-%m-%d %H:%M:%S"),
                r.offer_id,
                r.offer.title_zh,
                r.points,
                row.points,
            ]
        )
    writer.writerow(["total", "", "", "", "", "", total])
    return out.getvalue()


def period_bounds(start_day: str, end_day: str) -> tuple[datetime, datetime]:
    """Local calendar days [start_day, end_day] as an aware UTC-comparable range."""
    start = datetime.fromisoformat(start_day).replace(tzinfo=LOCAL_TZ)
    end = datetime.fromisoformat(end_day).replace(tzinfo=LOCAL_TZ) + timedelta(days=1)
    return start, end


# The longest settlement period a merchant may ask for, in local calendar days.
MAX_SETTLEMENT_DAYS = 370


def settlement(merchant_id: int, start_day: str, end_day: str) -> str:
    """The settlement CSV of local calendar days [start_day, end_day] (ISO dates, both
    included), for the merchant's page and the API alike; ``InvalidPeriod`` unless they are
    dates 1 to 370 days apart, the end not before the start."""
    try:
        start, end = period_bounds(start_day, end_day)
    except ValueError:
        raise InvalidPeriod() from None
    if not timedelta(days=1) <= end - start <= timedelta(days=MAX_SETTLEMENT_DAYS):
        raise InvalidPeriod()
    return settlement_csv(merchant_id, start, end)
