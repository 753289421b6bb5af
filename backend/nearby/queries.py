"""Nearby places for a resident: waste stations, restaurants (clean-plate and small-portion
confirmations) and merchants with live offers; by distance from where the browser says the
resident is, or, without a location, those of a district by name."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

from sqlalchemy import select

from ..extensions import db
from ..merchants.models import Merchant, MerchantKind
from ..rewards.queries import offers_for_residents

EARTH_RADIUS_M = 6_371_000


@dataclass(frozen=True)
class Place:
    merchant: Merchant
    offers: int  # live offers
    distance_m: int | None  # None without both locations

    @property
    def map_url(self) -> str:
        """Opens the place in the phone's map app (Amap's URI API; a web page without it)."""
        m = self.merchant
        if m.latitude and m.longitude:
            return (
                f"https://uri.amap.com/marker?position={m.longitude},{m.latitude}"
                f"&name={quote(m.name)}&coordinate=wgs84&callnative=1"
            )
        return f"https://uri.amap.com/search?keyword={quote(m.address or m.name)}&callnative=1"


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    """Great-circle distance (haversine), to the metre; good enough to sort a list."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return round(2 * EARTH_RADIUS_M * math.asin(math.sqrt(a)))


def parse_point(lat: str | None, lon: str | None) -> tuple[float, float] | None:
    """The browser's position from the query string, or None if absent or malformed."""
    try:
        la, lo = Decimal(str(lat)), Decimal(str(lon))
    except (InvalidOperation, ValueError):
        return None
    if not (la.is_finite() and lo.is_finite() and abs(la) <= 90 and abs(lo) <= 180):
        return None
    return float(la), float(lo)


def nearby(district: str, point: tuple[float, float] | None, limit: int = 30) -> list[Place]:
    offers: dict[int, int] = {}
    for offer in offers_for_residents():
        offers[offer.merchant_id] = offers.get(offer.merchant_id, 0) + 1
    query = select(Merchant).where(Merchant.suspended_at.is_(None))
    if point is None:
        query = query.where(Merchant.district == district)
    places = []
    for m in db.session.scalars(query.order_by(Merchant.name, Merchant.id)):
        useful = m.kind in (MerchantKind.WASTE_STATION, MerchantKind.RESTAURANT) or offers.get(m.id)
        if not useful:
            continue
        far = None
        if point is not None and m.latitude and m.longitude:
            far = distance_m(point[0], point[1], float(m.latitude), float(m.longitude))
        places.append(Place(m, offers.get(m.id, 0), far))
    if point is not None:
        places.sort(key=lambda p: (p.distance_m is None, p.distance_m or 0))
    return places[:limit]
