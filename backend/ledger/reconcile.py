"""Reconciliation: recompute every balance from postings and check the invariants."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from ..extensions import db
from .models import CACHED_KINDS, Account, AccountKind, LedgerEntry, Posting


@dataclass
class Report:
    accounts: int = 0
    entries: int = 0
    postings: int = 0
    points_issued: int = 0
    points_in_circulation: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems


def reconcile() -> Report:
    report = Report()
    report.entries = db.session.scalar(select(func.count()).select_from(LedgerEntry)) or 0
    report.postings = db.session.scalar(select(func.count()).select_from(Posting)) or 0
    sums = dict(
        db.session.execute(
            select(Posting.account_id, func.sum(Posting.amount)).group_by(Posting.account_id)
        ).all()
    )
    for account in db.session.scalars(select(Account).order_by(Account.id)):
        report.accounts += 1
        computed = int(sums.get(account.id) or 0)
        if account.kind in CACHED_KINDS:
            if computed != account.balance:
                report.problems.append(
                    f"account {account.code}: cached balance "
                    f"{account.balance} != postings {computed}"
                )
            if computed < 0:
                report.problems.append(f"account {account.code}: negative balance {computed}")
            report.points_in_circulation += computed
        elif account.kind is AccountKind.ISSUANCE:
            report.points_issued = -computed
    unbalanced = db.session.execute(
        select(Posting.entry_id, func.sum(Posting.amount))
        .group_by(Posting.entry_id)
        .having(func.sum(Posting.amount) != 0)
    ).all()
    for entry_id, total in unbalanced:
        report.problems.append(f"entry {entry_id}: postings sum to {total}, not 0")
    lonely = (
        db.session.execute(
            select(LedgerEntry.id)
            .outerjoin(Posting)
            .group_by(LedgerEntry.id)
            .having(func.count(Posting.id) < 2)
        )
        .scalars()
        .all()
    )
    for entry_id in lonely:
        report.problems.append(f"entry {entry_id}: fewer than two postings")
    total = db.session.scalar(select(func.coalesce(func.sum(Posting.amount), 0)))
    if total:
        report.problems.append(f"all postings sum to {total}, not 0")
    return report
