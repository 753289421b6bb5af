"""Read side of accounts for the admin console: finding people without showing their numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from ..extensions import db
from ..ledger.models import Account
from ..timeutil import utcnow
from .models import Role, User, mask_phone

MASKED_RE = re.compile(r"^(1\d{2})\*{2,4}(\d{4})$")
STATUSES = ("active", "suspended", "locked")
PER_PAGE = 50


@dataclass(frozen=True)
class PeopleFilters:
    query: str = ""
    district: str | None = None
    status: str | None = None  # active | suspended | locked


def _phone_condition(text: str) -> Any:
    """A masked number (138****5678), a full number or its last 4 digits; else a nickname."""
    compact = re.sub(r"[\s\-()]", "", text)
    if compact.startswith("+86"):
        compact = compact[3:]
    masked = MASKED_RE.match(compact)
    if masked:
        return (User.phone.like(f"{masked[1]}%{masked[2]}")) & (func.length(User.phone) == 11)
    if re.fullmatch(r"1\d{10}", compact):
        return User.phone == compact
    if re.fullmatch(r"\d{4}", compact):
        return User.phone.like(f"%{compact}")
    if compact.startswith("#") and compact[1:].isdigit():
        return User.id == int(compact[1:])
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return User.nickname.ilike(f"%{escaped}%", escape="\\")


def shown_query(text: str) -> str:
    """The search text as the page shows it back: a full number only masked."""
    compact = re.sub(r"[\s\-()]", "", text)
    if compact.startswith("+86"):
        compact = compact[3:]
    return mask_phone(compact) if re.fullmatch(r"1\d{10}", compact) else text


def people_query(role: Role, filters: PeopleFilters) -> Select[Any]:
    query = select(User).where(User.role == role, User.deleted_at.is_(None))
    text = filters.query.strip()
    if text:
        query = query.where(_phone_condition(text))
    if filters.district:
        query = query.where(User.district == filters.district)
    if filters.status == "suspended":
        query = query.where(User.suspended_at.is_not(None))
    elif filters.status == "active":
        query = query.where(User.suspended_at.is_(None))
    elif filters.status == "locked":
        query = query.where(User.locked_until > utcnow())
    return query.order_by(User.id.desc())


def search_people(role: Role, filters: PeopleFilters, page: int = 1) -> Any:
    """A page of accounts of one role (Flask-SQLAlchemy ``Pagination``), newest first."""
    return db.paginate(
        people_query(role, filters), page=max(1, page), per_page=PER_PAGE, error_out=False
    )


def balances(user_ids: list[int]) -> dict[int, int]:
    if not user_ids:
        return {}
    rows = db.session.execute(
        select(Account.user_id, Account.balance).where(Account.user_id.in_(user_ids))
    )
    return {int(user_id): int(balance) for user_id, balance in rows if user_id is not None}


def count_by_role() -> dict[Role, int]:
    rows = db.session.execute(
        select(User.role, func.count()).where(User.deleted_at.is_(None)).group_by(User.role)
    )
    counts = dict.fromkeys(Role, 0)
    counts.update({role: int(n) for role, n in rows})
    return counts


def administrators() -> list[User]:
    return list(
        db.session.scalars(
            select(User).where(User.role == Role.ADMIN, User.deleted_at.is_(None)).order_by(User.id)
        )
    )
