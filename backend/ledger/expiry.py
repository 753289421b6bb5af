"""Points expiry: earned points expire at the end of the Nth month after the month earned
(default 24), and spending consumes the oldest points first.

Nothing is stored besides the ledger itself: with credits C(T) whose expiry is on or before T,
net spending S (holds, donations, settlements, net of releases and refunds) and expiries
already posted E, the cumulative expiry due at T is max(0, C(T) - S) - E, because the oldest
points are spent first. A credit reversal counts as spending (it consumes the oldest points).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..timeutil import LOCAL_TZ, aware, utcnow
from .models import Account, AccountKind, EntryKind, Posting
from .services import Leg, post_entry, system_account


def expires_at(earned_at: datetime, months: int | None = None) -> datetime:
    """The instant points earned at ``earned_at`` expire: the end of the Nth following month."""
    months = months if months is not None else current_app.config["POINTS_EXPIRY_MONTHS"]
    local = aware(earned_at).astimezone(LOCAL_TZ)
    index = local.year * 12 + (local.month - 1) + months + 1
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=LOCAL_TZ).astimezone(UTC)


@dataclass(frozen=True)
class ExpiryState:
    buckets: list[tuple[datetime, int]]  # (expires_at, points credited), ascending
    spent: int
    expired: int

    def target(self, at: datetime) -> int:
        credited = sum(amount for when, amount in self.buckets if when <= at)
        return max(0, credited - self.spent)

    def due(self, at: datetime) -> int:
        return max(0, self.target(at) - self.expired)

    def schedule(self, after: datetime) -> list[tuple[datetime, int]]:
        """Points that will expire at each future date if nothing else changes."""
        out = []
        already = max(self.expired, self.target(after))
        for when, _ in self.buckets:
            if when <= after:
                continue
            amount = self.target(when) - already
            if amount > 0:
                out.append((when, amount))
                already += amount
        return out


def expiry_state(account: Account) -> ExpiryState:
    return _state(
        db.session.execute(
            select(Posting.kind, Posting.amount, Posting.created_at).where(
                Posting.account_id == account.id
            )
        )
    )


def _state(rows: Iterable[Any]) -> ExpiryState:  # rows of (kind, amount, created_at)
    buckets: dict[datetime, int] = defaultdict(int)
    spent = expired = 0
    for kind, amount, created_at in rows:
        if kind is EntryKind.CREDIT and amount > 0:
            buckets[expires_at(created_at)] += amount
        elif kind is EntryKind.EXPIRE:
            expired -= amount
        else:
            spent -= amount
    return ExpiryState(sorted(buckets.items()), spent, expired)


def upcoming_expiries(user_id: int, now: datetime | None = None) -> list[tuple[datetime, int]]:
    """A resident's points that will expire, by date (one query: the account's postings)."""
    rows = db.session.execute(
        select(Posting.kind, Posting.amount, Posting.created_at)
        .join(Account, Account.id == Posting.account_id)
        .where(Account.user_id == user_id)
    )
    return _state(rows).schedule(now or utcnow())


def expire_account(account: Account, now: datetime) -> int:
    """Post the expiry due on one resident account; returns the points expired."""
    state = expiry_state(account)
    due = state.due(now)
    if due <= 0:
        return 0
    key = f"expire:{account.id}:{state.expired}->{state.expired + due}"
    post_entry(
        EntryKind.EXPIRE,
        [Leg(account, -due), Leg(system_account(AccountKind.EXPIRY), due)],
        key,
        resident_id=account.user_id,
        memo=f"points expired by {now.date()}",
    )
    return due


def expire_due_points(now: datetime | None = None) -> tuple[int, int]:
    """The scheduled job: expire what is due on every resident account. (accounts, points)."""
    now = now or utcnow()
    months = current_app.config["POINTS_EXPIRY_MONTHS"]
    # Points earned before this instant have reached their expiry.
    local = now.astimezone(LOCAL_TZ)
    index = local.year * 12 + (local.month - 1) - months - 1
    earned_before = datetime(index // 12, index % 12 + 1, 1, tzinfo=LOCAL_TZ)
    candidates = db.session.scalars(
        select(Account)
        .where(
            Account.kind == AccountKind.RESIDENT,
            Account.balance > 0,
            Account.id.in_(
                select(Posting.account_id).where(
                    Posting.kind == EntryKind.CREDIT,
                    Posting.created_at < earned_before.astimezone(UTC),
                )
            ),
        )
        .order_by(Account.id)
    ).all()
    accounts = points = 0
    for account in candidates:
        expired = expire_account(account, now)
        db.session.commit()
        if expired:
            accounts += 1
            points += expired
    return accounts, points
