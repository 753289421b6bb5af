"""Factory functions for tests: ``make.resident(phone=...)`` and friends."""

from __future__ import annotations

import itertools
from typing import Any

from backend.accounts.models import Role, User
from backend.accounts.services import create_user, register_resident
from backend.extensions import db
from backend.merchants.models import Merchant
from backend.partners.models import Partner
from backend.partners.services import create_partner

PASSWORD = "green2026"
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
        return create_user(
            role,
            overrides.get("phone") or next_phone(),
            overrides.get("password", PASSWORD),
            merchant_id=merchant_id,
            nickname=overrides.get("nickname"),
        )

    def partner(self, code: str | None = None, kind: str = "transit") -> tuple[Partner, str, str]:
        code = code or f"p{next(_phones)}"
        return create_partner(code, f"Partner {code}", kind)
