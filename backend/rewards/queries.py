"""Read side of offers and redemptions."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext as _
from sqlalchemy import or_, select, true
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

    @property
    def yuan_per_point(self) -> Decimal:
        return funding_rate(self.redemption.offer)

    @property
    def funded_yuan(self) -> Decimal:
        """What the city pays the merchant for this line (negative for a refund), to the fen."""
        funded = (self.points * self.yuan_per_point).quantize(FEN, rounding=ROUND_HALF_UP)
        return funded + 0  # never "-0.00" for an unfunded refund


FEN = Decimal("0.01")


def funding_rate(offer: Offer) -> Decimal:
    """Yuan the city funds per point redeemed on an offer: the offer's own rate, else its
    merchant's, else 0 (not funded)."""
    rate = offer.funded_yuan_per_point or offer.merchant.funded_yuan_per_point
    return Decimal(rate) if rate else Decimal(0)


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


def settlement_rows(merchant_id: int | None, start: datetime, end: datetime) -> list[SettlementRow]:
    """What a period settles: each fulfilment in it (+points), each refund in it (-points);
    of one merchant, or of every merchant (``merchant_id`` None).

    A fulfilment stays in the period it happened in even when it is refunded later; the
    refund is its own negative row in the period of ``refunded_at``, so a period's figures
    never change afterwards and add up, across periods, to the merchant's ledger account.
    """
    fulfilled = db.session.scalars(
        select(Redemption)
        .options(joinedload(Redemption.offer).joinedload(Offer.merchant))
        .where(
            true() if merchant_id is None else Redemption.merchant_id == merchant_id,
            Redemption.closed_at >= start,
            Redemption.closed_at < end,
            Redemption.status.in_((RedemptionStatus.FULFILLED, RedemptionStatus.REFUNDED)),
        )
    )
    refunded = db.session.scalars(
        select(Redemption)
        .options(joinedload(Redemption.offer).joinedload(Offer.merchant))
        .where(
            true() if merchant_id is None else Redemption.merchant_id == merchant_id,
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


def settlement_csv(
    merchant_id: int, start: datetime, end: datetime, *, for_people: bool = False
) -> str:
    """The settlement CSV of a period: one row per fulfilment or refund, then the total.

    ``for_people``: headers and kinds in the request's language (the counter page's download);
    otherwise the stable machine columns of the API."""
    out = io.StringIO()
    writer = csv.writer(out)
    columns = [
        "redemption_id",
        "event",
        "at_local",
        "offer_id",
        "offer_title",
        "points",
        "points_settled",
        "funded_yuan_per_point",
        "funded_yuan",
    ]
    if for_people:
        columns = [
            _("Voucher no."),
            _("Kind"),
            _("Time (Beijing)"),
            _("Offer no."),
            _("Offer"),
            _("Points"),
            _("Points settled"),
            _("Yuan per point (city-funded)"),
            _("Funded yuan"),
        ]
    writer.writerow(columns)
    kinds = {"fulfilled": _("fulfilled"), "refunded": _("refunded")} if for_people else {}
    total = 0
    funded = Decimal(0)
    for row in settlement_rows(merchant_id, start, end):
        total += row.points
        funded += row.funded_yuan
        r = row.redemption
        writer.writerow(
            [
                r.id,
                kinds.get(row.event, row.event),
                local(row.at).strftime("%Y-%m-%d %H:%M:%S"),
                r.offer_id,
                r.offer.title_zh,
                r.points,
                row.points,
                format(row.yuan_per_point.normalize(), "f"),
                f"{row.funded_yuan:.2f}",
            ]
        )
    writer.writerow(
        [_("Total") if for_people else "total", "", "", "", "", "", total, "", f"{funded:.2f}"]
    )
    return out.getvalue()


def period_bounds(start_day: str, end_day: str) -> tuple[datetime, datetime]:
    """Local calendar days [start_day, end_day] as an aware UTC-comparable range."""
    start = datetime.fromisoformat(start_day).replace(tzinfo=LOCAL_TZ)
    end = datetime.fromisoformat(end_day).replace(tzinfo=LOCAL_TZ) + timedelta(days=1)
    return start, end


# The longest settlement period a merchant may ask for, in local calendar days.
MAX_SETTLEMENT_DAYS = 370


def settlement(merchant_id: int, start_day: str, end_day: str, *, for_people: bool = False) -> str:
    """The settlement CSV of local calendar days [start_day, end_day] (ISO dates, both
    included), for the merchant's page and the API alike; ``InvalidPeriod`` unless they are
    dates 1 to 370 days apart, the end not before the start."""
    try:
        start, end = period_bounds(start_day, end_day)
    except ValueError:
        raise InvalidPeriod() from None
    if not timedelta(days=1) <= end - start <= timedelta(days=MAX_SETTLEMENT_DAYS):
        raise InvalidPeriod()
    return settlement_csv(merchant_id, start, end, for_people=for_people)
