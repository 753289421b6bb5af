"""Read-side figures for the admin dashboard."""

from __future__ import annotations

from sqlalchemy import func, select

from ..accounts.models import Role, User
from ..extensions import db
from ..merchants.models import Merchant
from ..partners.models import Partner


def programme_counts() -> dict[str, int]:
    residents = db.session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.RESIDENT, User.deleted_at.is_(None))
    )
    merchants = db.session.scalar(select(func.count()).select_from(Merchant))
    partners = db.session.scalar(select(func.count()).select_from(Partner))
    return {"residents": residents or 0, "merchants": merchants or 0, "partners": partners or 0}
