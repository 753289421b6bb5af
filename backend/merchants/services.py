"""Onboarding merchants and their staff (administrators only)."""

from __future__ import annotations

from typing import Any

from ..accounts.models import Role, User
from ..accounts.services import create_user
from ..audit.services import record_audit
from ..config import DISTRICTS
from ..extensions import db
from .exceptions import InvalidMerchant
from .models import Merchant, MerchantKind


def onboard_merchant(actor: User, data: dict[str, Any]) -> Merchant:
    """Register a merchant: name, district, address, category, contact and kind."""
    name = str(data.get("name") or "").strip()
    if not 1 <= len(name) <= 120:
        raise InvalidMerchant(problem="name", field="name")
    if data.get("district") not in DISTRICTS:
        raise InvalidMerchant(problem="district", field="district")
    kind = data.get("kind") or MerchantKind.RETAIL.value
    if kind not in {k.value for k in MerchantKind}:
        raise InvalidMerchant(problem="kind", field="kind")
    merchant = Merchant(
        name=name,
        district=data["district"],
        address=str(data.get("address") or "")[:200],
        category=str(data.get("category") or "")[:40],
        contact=str(data.get("contact") or "")[:80],
        kind=MerchantKind(kind),
    )
    db.session.add(merchant)
    db.session.flush()
    record_audit(actor, "merchant.onboard", "merchant", merchant.id, name=name)
    db.session.commit()
    return merchant


def add_staff(
    actor: User, merchant_id: int, phone: str, password: str, nickname: str | None = None
) -> User:
    return create_user(
        Role.MERCHANT_STAFF,
        phone,
        password,
        actor=actor,
        merchant_id=merchant_id,
        nickname=nickname,
    )
