"""Read side of the audit log for the admin console's viewer (entries are never changed)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from ..accounts.models import mask_phone
from ..extensions import db
from ..timeutil import LOCAL_TZ
from .models import AuditEntry

PER_PAGE = 50
PHONE_RE = re.compile(r"(?<!\d)(?:\+?86)?(1[3-9]\d{9})(?!\d)")


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""  # a user id ("12"), or a label ("admin:12", "partner:bus-co", "system")
    object_type: str = ""
    object_id: str = ""
    action: str = ""  # exact ("account.suspend") or a prefix ending in "." ("account.")
    day_from: date | None = None  # local calendar days, inclusive
    day_to: date | None = None


def _utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ).astimezone(UTC)


def audit_query(filters: AuditFilters) -> Any:
    query = select(AuditEntry)
    actor = filters.actor.strip()
    if actor.isdigit():
        query = query.where(AuditEntry.actor_id == int(actor))
    elif actor:
        query = query.where(AuditEntry.actor_label == actor)
    if filters.object_type.strip():
        query = query.where(AuditEntry.object_type == filters.object_type.strip())
    if filters.object_id.strip():
        query = query.where(AuditEntry.object_id == filters.object_id.strip())
    action = filters.action.strip()
    if action.endswith("."):
        escaped = action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(AuditEntry.action.like(f"{escaped}%", escape="\\"))
    elif action:
        query = query.where(AuditEntry.action == action)
    if filters.day_from is not None:
        query = query.where(AuditEntry.at >= _utc_midnight(filters.day_from))
    if filters.day_to is not None:
        query = query.where(AuditEntry.at < _utc_midnight(filters.day_to + timedelta(days=1)))
    return query.order_by(AuditEntry.id.desc())


def search_audit(filters: AuditFilters, page: int = 1) -> Any:
    """A page of entries, newest first (Flask-SQLAlchemy ``Pagination``)."""
    return db.paginate(audit_query(filters), page=max(1, page), per_page=PER_PAGE, error_out=False)


def object_types() -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEntry.object_type).distinct().order_by(AuditEntry.object_type)
        )
    )


def actions() -> list[str]:
    return list(
        db.session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    )


def masked(value: Any) -> Any:
    """Details as shown: any mobile number that slipped into them is masked (PIPL)."""
    if isinstance(value, str):
        return PHONE_RE.sub(lambda m: mask_phone(m.group(1)), value)
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value
