"""Factory functions for tests: ``make.resident(phone=...)`` and friends."""

from __future__ import annotations

import itertools
from typing import Any

import pyotp

from backend.accounts.models import Role, User
from backend.accounts.services import create_user, register_resident
from backend.accounts.two_factor import install_secret
from backend.extensions import db
from backend.merchants.models import Merchant
from backend.partners.models import Partner
from backend.partners.services import create_partner
from backend.rewards.models import Offer, OfferStatus

PASSWORD = "green-river-2026"
_phones = itertools.count(13900000000)


def next_phone() -> str:
    return str(next(_phones))


class Factories:
    def resident(self, **overrides: Any) -> User:
        return register_resident(
            overrides.get("phone") or next_phone(),
            overrides.get("password", PASSWORD),
            overrides.get("district", "柯城区"),
            overrides.get("nickname"),
        )

    def merchant(self, **overrides: Any) -> Merchant:
        fields = {
            "name": "测试商户",
            "district": "柯城区",
            "address": "府山街道1号",
            "category": "餐饮",
            "contact": "0570-1234567",
            **overrides,
        }
        merchant = Merchant(**fields)
        db.session.add(merchant)
        db.session.commit()
        return merchant

    def user(self, role: Role | str, **overrides: Any) -> User:
        role = Role(role)
        if role is Role.RESIDENT:
            return self.resident(**overrides)
        merchant_id = overrides.get("merchant_id")
        if role is Role.MERCHANT_STAFF and merchant_id is None:
            merchant_id = self.merchant().id
        user = create_user(
            role,
            overrides.get("phone") or next_phone(),
            overrides.get("password", PASSWORD),
            merchant_id=merchant_id,
            nickname=overrides.get("nickname"),
        )
        if role is Role.ADMIN and overrides.get("totp", True):
            # administrators have a confirmed authenticator unless a test sets one up itself
            install_secret(user, pyotp.random_base32())
        return user

    def offer(self, merchant: Merchant | None = None, **overrides: Any) -> Offer:
        from datetime import timedelta

        from backend.timeutil import utcnow

        merchant = merchant or self.merchant()
        fields = {
            "title_zh": "环保咖啡杯",
            "title_en": "Reusable cup",
            "points_price": 100,
            "stock": 10,
            "per_resident_limit": 5,
            "status": OfferStatus.ACTIVE,
            "valid_from": utcnow() - timedelta(days=1),
            "valid_until": utcnow() + timedelta(days=30),
            **overrides,
        }
        offer = Offer(merchant_id=merchant.id, **fields)
        db.session.add(offer)
        db.session.commit()
        return offer

    def points(self, user: User, amount: int) -> None:
        from backend.ledger.services import credit_points

        credit_points(user.id, amount, f"test-credit:{user.id}:{next(_phones)}")
        db.session.commit()

    def staff(self, merchant: Merchant) -> User:
        return self.user(Role.MERCHANT_STAFF, merchant_id=merchant.id)

    def partner(self, code: str | None = None, kind: str = "transit") -> tuple[Partner, str, str]:
        code = code or f"p{next(_phones)}"
        return create_partner(code, f"Partner {code}", kind)
