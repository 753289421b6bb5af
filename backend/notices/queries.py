"""Reading a user's notices."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from .models import Notice


def notices_of(user_id: int, limit: int = 50) -> list[Notice]:
    return list(
        db.session.scalars(
            select(Notice)
            .where(Notice.user_id == user_id)
            .order_by(Notice.created_at.desc(), Notice.id.desc())
            .limit(limit)
        )
    )
