"""Reconciliation: recompute every balance from postings and check the invariants, and that
the events' retirement register and the ledger's RETIRE entries agree (models.py, 5.), and
the forest register and the FOREST_CREDIT / FOREST_CANCEL entries (models.py, 6.)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_, select

from ..extensions import db
from .models import (
    CACHED_KINDS,
    FOREST_KINDS,
    GRAMS_ENTRY_KINDS,
    GRAMS_KINDS,
    Account,
    AccountKind,
    EntryKind,
    LedgerEntry,
    Posting,
)


@dataclass
class Report:
    accounts: int = 0
    entries: int = 0
    postings: int = 0
    points_issued: int = 0
    points_in_circulation: int = 0
    grams_retired: int = 0
    forest_grams: dict[str, int] = field(default_factory=dict)  # forest account kind -> grams
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
        elif account.kind is AccountKind.RETIREMENT:
            report.grams_retired = computed
        elif account.kind in FOREST_KINDS:
            report.forest_grams[account.kind.value] = computed
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
            .outerjoin(Posting, Posting.entry_id == LedgerEntry.id)
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
    _check_retirements(report)
    _check_forest(report)
    return report


def _check_retirements(report: Report) -> None:
    """Grams and points never meet in an entry; every retirement has its RETIRE entry of the
    same grams, keyed by its serial, and the retirement account holds no more than those."""
    mixed = db.session.scalar(
        select(func.count(func.distinct(Posting.entry_id)))
        .join(Account, Account.id == Posting.account_id)
        .where(
            or_(
                and_(Posting.kind.in_(GRAMS_ENTRY_KINDS), Account.kind.not_in(GRAMS_KINDS)),
                and_(Posting.kind.not_in(GRAMS_ENTRY_KINDS), Account.kind.in_(GRAMS_KINDS)),
            )
        )
    )
    if mixed:
        report.problems.append(f"{mixed} entries mix grams (retirements) and points")
    # The register is the events' table; read through the metadata, the ledger imports no
    # feature.
    register = db.metadata.tables.get("reduction_retirements")
    if register is None:
        return
    retirement = (
        select(Posting.amount, LedgerEntry.idempotency_key)
        .join(LedgerEntry, LedgerEntry.id == Posting.entry_id)
        .join(Account, Account.id == Posting.account_id)
        .where(LedgerEntry.kind == EntryKind.RETIRE, Account.kind == AccountKind.RETIREMENT)
        .subquery()
    )
    unposted = db.session.scalars(
        select(register.c.serial)
        .outerjoin(retirement, retirement.c.idempotency_key == register.c.serial)
        .where(or_(retirement.c.amount.is_(None), retirement.c.amount != register.c.grams))
        .order_by(register.c.serial)
        .limit(5)
    ).all()
    for serial in unposted:
        report.problems.append(f"retirement {serial}: no RETIRE entry of its grams")
    registered = int(db.session.scalar(select(func.coalesce(func.sum(register.c.grams), 0))) or 0)
    if registered != report.grams_retired:
        report.problems.append(
            f"retirement account holds {report.grams_retired} g, the register {registered} g"
        )


# Register kind -> (account it adds grams to, account it takes them from).
_FOREST_ROWS = {
    "counted": (AccountKind.FOREST_COUNTED, AccountKind.FOREST_ISSUANCE),
    "buffer": (AccountKind.FOREST_BUFFER, AccountKind.FOREST_ISSUANCE),
    "cancel_buffer": (AccountKind.FOREST_CANCELLED, AccountKind.FOREST_BUFFER),
    "cancel_counted": (AccountKind.FOREST_CANCELLED, AccountKind.FOREST_COUNTED),
}


def _check_forest(report: Report) -> None:
    """Every forest register row has its entry of the same grams keyed by its serial, into
    the right account; each forest account holds what the register says; neither the buffer
    nor counted removals is ever negative."""
    register = db.metadata.tables.get("forest_credits")
    if register is None:
        return
    landed = (
        select(Posting.amount, Account.kind.label("account"), LedgerEntry.idempotency_key)
        .join(LedgerEntry, LedgerEntry.id == Posting.entry_id)
        .join(Account, Account.id == Posting.account_id)
        .where(LedgerEntry.kind.in_((EntryKind.FOREST_CREDIT, EntryKind.FOREST_CANCEL)))
        .where(Posting.amount > 0)
        .subquery()
    )
    rows = db.session.execute(
        select(
            register.c.serial, register.c.kind, register.c.grams, landed.c.amount, landed.c.account
        )
        .outerjoin(landed, landed.c.idempotency_key == register.c.serial)
        .order_by(register.c.serial)
    ).all()
    expected: dict[str, int] = {}
    for serial, kind, grams, amount, account in rows:
        into, out_of = _FOREST_ROWS[str(kind)]
        expected[into.value] = expected.get(into.value, 0) + int(grams)
        expected[out_of.value] = expected.get(out_of.value, 0) - int(grams)
        if amount is None or int(amount) != int(grams) or str(account) != into.value:
            report.problems.append(f"forest credit {serial}: no entry of its grams into {into}")
    for kind in FOREST_KINDS:
        held = report.forest_grams.get(kind.value, 0)
        if held != expected.get(kind.value, 0):
            report.problems.append(
                f"{kind.value} holds {held} g, the forest register {expected.get(kind.value, 0)} g"
            )
    for kind in (AccountKind.FOREST_BUFFER, AccountKind.FOREST_COUNTED):
        if report.forest_grams.get(kind.value, 0) < 0:
            report.problems.append(f"{kind.value} is negative")
