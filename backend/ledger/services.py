"""Posting to the ledger. The one way points move; see models.py for the invariants.

``post_entry`` adds an entry to the caller's transaction (the calling service commits):
it locks the cached accounts it touches in id order (so two transfers never deadlock),
re-checks the idempotency key under those locks, refuses to take a resident or merchant
below zero, inserts the entry and its postings and moves the cached balances.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from ..bulk import add_to_column, allocate_ids, any_of, insert_returning, insert_rows
from ..extensions import db
from ..timeutil import utcnow
from .exceptions import InsufficientPoints, InvalidAmount, UnbalancedEntry
from .models import CACHED_KINDS, Account, AccountKind, EntryKind, LedgerEntry, Posting


def _get_or_create(code: str, kind: AccountKind, **owner: int) -> Account:
    account = db.session.scalar(select(Account).where(Account.code == code))
    if account is not None:
        return account
    try:
        with db.session.begin_nested():
            account = Account(code=code, kind=kind, balance=0, **owner)
            db.session.add(account)
    except IntegrityError:  # created concurrently
        account = db.session.scalar(select(Account).where(Account.code == code))
        assert account is not None
    return account


def resident_account(user_id: int) -> Account:
    return _get_or_create(f"resident:{user_id}", AccountKind.RESIDENT, user_id=user_id)


def merchant_account(merchant_id: int) -> Account:
    return _get_or_create(f"merchant:{merchant_id}", AccountKind.MERCHANT, merchant_id=merchant_id)


def system_account(kind: AccountKind) -> Account:
    assert kind not in CACHED_KINDS
    return _get_or_create(f"system:{kind.value}", kind)


@dataclass(frozen=True)
class Leg:
    account: Account
    amount: int


def find_entry(idempotency_key: str) -> LedgerEntry | None:
    return db.session.scalar(
        select(LedgerEntry).where(LedgerEntry.idempotency_key == idempotency_key)
    )


def lock_accounts(accounts: Iterable[Account]) -> dict[int, int]:
    """Row-lock the cached accounts (ascending id) and return their current balances."""
    ids = sorted({a.id for a in accounts if a.kind in CACHED_KINDS})
    if not ids:
        return {}
    rows = db.session.execute(
        select(Account.id, Account.balance)
        .where(Account.id.in_(ids))
        .order_by(Account.id)
        .with_for_update()
    )
    return {row.id: row.balance for row in rows}


def post_entry(
    kind: EntryKind,
    legs: Sequence[Leg],
    idempotency_key: str,
    *,
    resident_id: int | None = None,
    memo: str = "",
    reverses: LedgerEntry | None = None,
    ref: tuple[str, object] | None = None,
    locked: bool = False,
) -> tuple[LedgerEntry, bool]:
    """Add a balanced entry; returns (entry, created). A repeated key returns the first entry.

    ``locked=True`` when the caller already holds the row locks (bulk crediting).
    """
    if any(leg.amount == 0 or not isinstance(leg.amount, int) for leg in legs):
        raise InvalidAmount()
    if sum(leg.amount for leg in legs) != 0 or len(legs) < 2:
        raise UnbalancedEntry()
    balances = {} if locked else lock_accounts(leg.account for leg in legs)
    existing = find_entry(idempotency_key)
    if existing is not None:
        return existing, False
    if not locked:
        for account_id, change in _changes(legs).items():
            if account_id in balances and balances[account_id] + change < 0:
                raise InsufficientPoints(needed=-change, available=balances[account_id])
    entry = LedgerEntry(
        kind=kind,
        idempotency_key=idempotency_key,
        resident_id=resident_id,
        memo=memo[:200],
        reverses_id=reverses.id if reverses else None,
        ref_type=ref[0] if ref else None,
        ref_id=str(ref[1]) if ref else None,
    )
    db.session.add(entry)
    db.session.flush()
    db.session.add_all(
        Posting(
            entry_id=entry.id,
            account_id=leg.account.id,
            amount=leg.amount,
            kind=kind,
            created_at=entry.created_at,
        )
        for leg in legs
    )
    for account_id, change in _changes(legs).items():
        if account_id in balances or locked:
            _move_cached(account_id, change, legs)
    db.session.flush()
    return entry, True


def _changes(legs: Sequence[Leg]) -> dict[int, int]:
    changes: dict[int, int] = {}
    for leg in legs:
        changes[leg.account.id] = changes.get(leg.account.id, 0) + leg.amount
    return changes


def _move_cached(account_id: int, change: int, legs: Sequence[Leg]) -> None:
    account = next(leg.account for leg in legs if leg.account.id == account_id)
    if account.kind not in CACHED_KINDS or change == 0:
        return
    db.session.execute(
        update(Account).where(Account.id == account_id).values(balance=Account.balance + change)
    )
    db.session.expire(account, ["balance"])


def reverse_entry(
    original: LedgerEntry,
    idempotency_key: str,
    *,
    memo: str = "",
    kind: EntryKind = EntryKind.REVERSAL,
) -> tuple[LedgerEntry, bool]:
    """A correction: the same postings with opposite signs, linked to what they reverse."""
    legs = [Leg(p.account, -p.amount) for p in original.postings]
    return post_entry(
        kind,
        legs,
        idempotency_key,
        resident_id=original.resident_id,
        memo=memo or f"reverses entry {original.id}",
        reverses=original,
        ref=(original.ref_type, original.ref_id) if original.ref_type else None,
    )


def balance_of(account: Account) -> int:
    """The balance from postings (the truth the cached balance must equal)."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(Posting.amount), 0)).where(
                Posting.account_id == account.id
            )
        )
        or 0
    )


def credit_points(
    user_id: int,
    points: int,
    idempotency_key: str,
    *,
    memo: str = "",
    ref: tuple[str, object] | None = None,
) -> tuple[LedgerEntry, bool]:
    """Issue points to a resident (issuance -> resident). The caller commits."""
    if points <= 0:
        raise InvalidAmount()
    return post_entry(
        EntryKind.CREDIT,
        [
            Leg(system_account(AccountKind.ISSUANCE), -points),
            Leg(resident_account(user_id), points),
        ],
        idempotency_key,
        resident_id=user_id,
        memo=memo,
        ref=ref,
    )


def resident_account_ids(user_ids: Iterable[int]) -> dict[int, int]:
    """User id -> ledger account id for many residents, accounts created where missing (a
    few statements however many residents; plain rows, no ORM objects)."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}

    def found(among: list[int]) -> dict[int, int]:
        rows = db.session.execute(
            select(Account.user_id, Account.id).where(any_of(Account.user_id, among))
        )
        return {int(user_id): int(account_id) for user_id, account_id in rows}

    accounts = found(ids)
    missing = [i for i in ids if i not in accounts]
    if missing:
        dialect = db.session.get_bind().dialect.name
        module = postgresql if dialect == "postgresql" else sqlite
        db.session.execute(
            module.insert(Account).on_conflict_do_nothing(),
            [
                {"code": f"resident:{i}", "kind": AccountKind.RESIDENT, "user_id": i, "balance": 0}
                for i in missing
            ],
        )
        accounts.update(found(missing))
    return accounts


def lock_account_ids(account_ids: Iterable[int]) -> None:
    """Row-lock cached accounts by id, in ascending order (so two writers never deadlock)."""
    ids = sorted(set(account_ids))
    if ids:
        db.session.execute(
            select(Account.id).where(any_of(Account.id, ids)).order_by(Account.id).with_for_update()
        )


def credit_many(
    credits: Sequence[tuple[int, int, str]], account_ids: dict[int, int], *, memo: str = ""
) -> dict[str, int]:
    """Issue points to many residents at once: (user id, points, idempotency key) each.

    ``account_ids`` maps each user id to its account (``resident_account_ids``); the caller
    holds their row locks (``lock_account_ids``) and commits. Keys already used are skipped;
    returns idempotency key -> entry id for every credit. Entries and postings are written in
    bulk (COPY on PostgreSQL), and the cached balances moved by one statement.
    """
    if any(points <= 0 for _, points, _ in credits):
        raise InvalidAmount()
    now = utcnow()
    created = insert_returning(
        LedgerEntry.__table__,
        [
            {
                "kind": EntryKind.CREDIT,
                "idempotency_key": key,
                "resident_id": user_id,
                "memo": memo[:200],
                "created_at": now,
                "reverses_id": None,
                "ref_type": None,
                "ref_id": None,
            }
            for user_id, _, key in credits
        ],
        conflict=["idempotency_key"],
        returning=["idempotency_key", "id"],
    )
    ids = {key: int(entry_id) for key, entry_id in created}
    used = [key for _, _, key in credits if key not in ids]  # posted before: nothing to do
    done = (
        dict(
            db.session.execute(
                select(LedgerEntry.idempotency_key, LedgerEntry.id).where(
                    any_of(LedgerEntry.idempotency_key, used)
                )
            ).all()
        )
        if used
        else {}
    )
    todo = [credit for credit in credits if credit[2] in ids]
    issuance = system_account(AccountKind.ISSUANCE)
    postings = []
    for user_id, points, key in todo:
        postings.append(
            {
                "entry_id": ids[key],
                "account_id": issuance.id,
                "amount": -points,
                "kind": EntryKind.CREDIT,
                "created_at": now,
            }
        )
        postings.append(
            {
                "entry_id": ids[key],
                "account_id": account_ids[user_id],
                "amount": points,
                "kind": EntryKind.CREDIT,
                "created_at": now,
            }
        )
    insert_rows(Posting.__table__, postings)
    add_to_column(
        Account.__table__,
        "id",
        "balance",
        [(account_ids[user_id], points) for user_id, points, _ in todo],
    )
    db.session.expire_all()  # ORM copies of these accounts hold old balances
    return {**done, **ids}


@dataclass(frozen=True)
class Retired:
    """One reduction retired for an event, as the ledger records it (see models.py, 5.)."""

    serial: str  # the retirement's serial number: the entry's idempotency key
    grams: int
    resident_id: int  # whose reduction it was (partition key)
    reduction_id: int


def post_retirements(retired: Sequence[Retired], *, memo: str = "") -> list[int]:
    """One RETIRE entry per retired reduction, reduction pool -> retirement, in grams CO2e;
    returns the entry ids in order. Written in bulk (multi-row INSERTs: an event may retire
    thousands of small reductions at once). A serial already in the ledger is refused
    (IntegrityError), never skipped: the caller's register row and its entry go together or
    not at all. Neither account keeps a cached balance, so nothing is locked. The caller
    commits."""
    if any(item.grams <= 0 or not isinstance(item.grams, int) for item in retired):
        raise InvalidAmount()
    if not retired:
        return []
    pool = system_account(AccountKind.REDUCTION_POOL)
    retirement = system_account(AccountKind.RETIREMENT)
    now = utcnow()
    ids = allocate_ids(LedgerEntry.__table__, len(retired))
    db.session.execute(
        insert(LedgerEntry.__table__),
        [
            {
                "id": entry_id,
                "kind": EntryKind.RETIRE,
                "idempotency_key": item.serial,
                "resident_id": item.resident_id,
                "memo": memo[:200],
                "created_at": now,
                "reverses_id": None,
                "ref_type": "reduction",
                "ref_id": str(item.reduction_id),
            }
            for entry_id, item in zip(ids, retired, strict=True)
        ],
    )
    db.session.execute(
        insert(Posting.__table__),
        [
            {
                "entry_id": entry_id,
                "account_id": account.id,
                "amount": sign * item.grams,
                "kind": EntryKind.RETIRE,
                "created_at": now,
            }
            for entry_id, item in zip(ids, retired, strict=True)
            for account, sign in ((pool, -1), (retirement, 1))
        ],
    )
    return ids
