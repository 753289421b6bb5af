"""Where a station or merchant is: administrators set its coordinates."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l

from ..accounts.models import Role, User
from ..audit.services import record_audit
from ..errors import DomainError, Forbidden, NotFound
from ..extensions import db
from ..merchants.models import Merchant


class InvalidLocation(DomainError):
    code = "invalid_location"
    status = 422
    message = _l(
        "Give both latitude (-90 to 90) and longitude (-180 to 180) in decimal degrees, "
        "or leave both empty."
    )


def _degrees(raw: Any, limit: int, field: str) -> Decimal:
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise InvalidLocation(field=field) from None
    if not value.is_finite() or abs(value) > limit:
        raise InvalidLocation(field=field)
    return value.quantize(Decimal("0.000001"))


def set_location(admin: User, merchant_id: int, latitude: Any, longitude: Any) -> Merchant:
    """Set (or clear, with both empty) where a station or merchant is; audited."""
    if admin.role is not Role.ADMIN:
        raise Forbidden()
    merchant = db.session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound()
    lat, lon = str(latitude or "").strip(), str(longitude or "").strip()
    if not lat and not lon:
        merchant.latitude = merchant.longitude = None
    elif not lat or not lon:
        raise InvalidLocation(field="latitude" if not lat else "longitude")
    else:
        merchant.latitude = str(_degrees(lat, 90, "latitude"))
        merchant.longitude = str(_degrees(lon, 180, "longitude"))
    record_audit(
        admin,
        "merchant.location",
        "merchant",
        merchant.id,
        latitude=merchant.latitude,
        longitude=merchant.longitude,
    )
    db.session.commit()
    return merchant
