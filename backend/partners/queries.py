"""Read-side helpers of partners."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from .models import Partner


def partner_by_code(code: str) -> Partner | None:
    return db.session.scalar(select(Partner).where(Partner.code == code))
