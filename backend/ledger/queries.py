"""Read side of the ledger for residents and merchants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..extensions import db
from .expiry import upcoming_expiries
from .models import Account, EntryKind, LedgerEntry, Posting


def resident_balance(user_id: int) -> int:
    return int(db.session.scalar(select(Account.balance).where(Account.user_id == user_id)) or 0)


def merchant_balance(merchant_id: int) -> int:
    return int(
        db.session.scalar(select(Account.balance).where(Account.merchant_id == merchant_id)) or 0
    )


@dataclass(frozen=True)
class HistoryRow:
    entry_id: int
    kind: EntryKind
    amount: int
    at: datetime
    memo: str
    ref_type: str | None
    ref_id: str | None


def history(user_id: int, limit: int = 50, before_id: int | None = None) -> list[HistoryRow]:
    """A resident's postings, newest first (points in and out, with what caused them)."""
    query = (
        select(
            Posting.entry_id,
            Posting.kind,
            Posting.amount,
            Posting.created_at,
            LedgerEntry.memo,
            LedgerEntry.ref_type,
            LedgerEntry.ref_id,
        )
        .join(LedgerEntry, LedgerEntry.id == Posting.entry_id)
        .join(Account, Account.id == Posting.account_id)
        .where(Account.user_id == user_id)
        .order_by(Posting.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(Posting.entry_id < before_id)
    return [HistoryRow(*row) for row in db.session.execute(query)]


@dataclass(frozen=True)
class PointsOverview:
    """What a resident sees of their points: the balance, what expires by when (soonest
    first) and the latest movements (newest first)."""

    balance: int
    expiring: list[tuple[datetime, int]]
    history: list[HistoryRow]


def points_overview(user_id: int, limit: int) -> PointsOverview:
    """The points page and ``GET /me/points`` alike (``limit`` movements)."""
    return PointsOverview(
        resident_balance(user_id), upcoming_expiries(user_id), history(user_id, limit)
    )
