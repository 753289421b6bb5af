"""Posting to the ledger. The one way points move; see models.py for the invariants.

``post_entry`` adds an entry to the caller's transaction (the calling service commits):
it locks the cached accounts it touches in id order (so two transfers never deadlock),
re-checks the idempotency key under those locks, refuses to take a resident or merchant
below zero, inserts the entry and its postings and moves the cached balances.

The writers, each inside its caller's transaction:

* ``post_entry``: one entry (HOLD, RELEASE, SETTLE, REFUND, EXPIRE, DONATE; ``credit_points``
  and ``reverse_entry`` go through it), for ``rewards.services``, ``events.donations`` and
  ``ledger.expiry``;
* ``credit_many``: one CREDIT entry per chunk of verified records, a leg per resident and
  one issuance leg for the total (COPY on PostgreSQL), for ``actions.verification``;
* ``post_retirements``: RETIRE entries in grams, one per retired reduction (pool ->
  retirement), for ``events.retirements``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Integer,
    bindparam,
    column,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from ..bulk import add_to_column, allocate_ids, any_of, insert_rows
from ..extensions import db
from ..timeutil import utcnow
from .exceptions import InsufficientPoints, InvalidAmount, UnbalancedEntry
from .models import CACHED_KINDS, Account, AccountKind, EntryKind, LedgerEntry, Posting


def _get_or_create(code: str, kind: AccountKind, **owner: int) -> Account:
    account: Account | None = db.session.scalar(select(Account).where(Account.code == code))
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


def locked_account(code: str, kind: AccountKind, **owner: int) -> tuple[Account, dict[int, int]]:
    """A cached account found and row-locked in one statement (created first if missing),
    with its balance as ``lock_accounts`` returns it, for ``post_entry(..., balances=...)``."""
    assert kind in CACHED_KINDS
    account: Account | None = db.session.scalar(_locked_by_code(), {"code": code})
    if account is None:
        account = _get_or_create(code, kind, **owner)
        return account, lock_accounts([account])
    return account, {account.id: account.balance}


@cache
def _locked_by_code() -> Any:
    """``locked_account``'s statement, built once per process, the code bound at execution."""
    return select(Account).where(Account.code == bindparam("code")).with_for_update()


# An account as code, kind and owner: what ``_get_or_create`` finds, or creates.
AccountSpec = tuple[str, AccountKind, dict[str, int]]


def merchant_spec(merchant_id: int) -> AccountSpec:
    return f"merchant:{merchant_id}", AccountKind.MERCHANT, {"merchant_id": merchant_id}


def system_spec(kind: AccountKind) -> AccountSpec:
    assert kind not in CACHED_KINDS
    return f"system:{kind.value}", kind, {}


def resident_account(user_id: int) -> Account:
    return _get_or_create(f"resident:{user_id}", AccountKind.RESIDENT, user_id=user_id)


def merchant_account(merchant_id: int) -> Account:
    code, kind, owner = merchant_spec(merchant_id)
    return _get_or_create(code, kind, **owner)


def system_account(kind: AccountKind) -> Account:
    code, kind, owner = system_spec(kind)
    return _get_or_create(code, kind, **owner)


def accounts(*specs: AccountSpec) -> list[Account]:
    """Several accounts found in one statement, in the order asked, without a row lock; one
    that is missing is created first. A cached account found here may only be credited, as
    ``post_entry(..., credited=...)``: no balance to check, since a credit cannot take it
    below zero. ``post_entry`` moves its balance with one ``UPDATE ... balance + n``, which
    takes the row lock itself, as the entry's last statement: a busy shared account (the
    merchant every counter settles to) is locked from there to the commit only."""
    found = {
        account.code: account
        for account in db.session.scalars(
            select(Account).where(Account.code.in_([code for code, _, _ in specs]))
        )
    }
    return [found_or_created(spec, found.get(spec[0])) for spec in specs]


def found_or_created(spec: AccountSpec, found: Account | None) -> Account:
    """The account ``found`` (read as ``accounts`` reads them, e.g. an ``aliased(Account)``
    joined to another statement's row by its unique code or merchant), or, when it is
    missing, created as ``accounts`` creates it."""
    code, kind, owner = spec
    return found if found is not None else _get_or_create(code, kind, **owner)


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
    balances: dict[int, int] | None = None,
    new_key: bool = False,
    credited: Account | None = None,
) -> tuple[LedgerEntry, bool]:
    """Add a balanced entry; returns (entry, created). A repeated key returns the first entry.

    ``locked=True`` when the caller already holds the row locks (bulk crediting).
    ``balances``: the caller already holds the row locks of every cached account of the legs
    and read these balances under them (``lock_accounts``, ``locked_account``): they are
    checked, not locked again. ``new_key=True`` when the key cannot have been used (it names
    a row this transaction created, or a state change this transaction made once): the
    lookup is skipped; the key's unique constraint still refuses a second entry.
    ``credited``: a cached account of the legs that the entry credits and that is not locked
    (``accounts``): its balance moves last, by the UPDATE that locks its row.
    """
    if any(leg.amount == 0 or not isinstance(leg.amount, int) for leg in legs):
        raise InvalidAmount()
    if sum(leg.amount for leg in legs) != 0 or len(legs) < 2:
        raise UnbalancedEntry()
    if credited is not None:
        assert _changes(legs).get(credited.id, 0) > 0, "an unlocked account is only credited"
    if balances is not None:
        held = {leg.account.id for leg in legs if leg.account.kind in CACHED_KINDS}
        unlocked = {credited.id} if credited is not None else set()
        assert held - unlocked <= balances.keys(), "every cached account must be locked"
    elif not locked:
        balances = lock_accounts(leg.account for leg in legs)
    else:
        balances = {}
    if not new_key:
        existing = find_entry(idempotency_key)
        if existing is not None:
            return existing, False
    if not locked:
        for account_id, change in _changes(legs).items():
            if account_id in balances and balances[account_id] + change < 0:
                raise InsufficientPoints(needed=-change, available=balances[account_id])
    entry = _insert_entry(
        legs,
        kind=kind,
        idempotency_key=idempotency_key,
        resident_id=resident_id,
        memo=memo[:200],
        reverses_id=reverses.id if reverses else None,
        ref_type=ref[0] if ref else None,
        ref_id=str(ref[1]) if ref else None,
        created_at=utcnow(),
    )
    for account_id, change in _changes(legs).items():
        if (account_id in balances or locked) and (credited is None or account_id != credited.id):
            _move_cached(account_id, change, legs)
    if credited is not None:  # last: its row lock is held from here to the commit
        _move_cached(credited.id, _changes(legs)[credited.id], legs)
    return entry, True


def _insert_entry(legs: Sequence[Leg], **row: object) -> LedgerEntry:
    """Insert an entry and its legs without the unit of work; returns the entry as stored
    (an ORM object, no flush). On PostgreSQL one statement: the entry's INSERT ... RETURNING
    as a CTE that the legs' INSERT reads (the legs as two arrays, so the statement is
    compiled once whatever their number); elsewhere the entry, then its legs in one
    multi-row INSERT. Either way the zero-sum check runs at the commit (deferred trigger)."""
    postings = Posting.__table__
    if _dialect() != "postgresql":
        stored: LedgerEntry = db.session.execute(
            insert(LedgerEntry).values(**row).returning(LedgerEntry)
        ).scalar_one()
        db.session.execute(
            insert(postings).values(
                [
                    {
                        "entry_id": stored.id,
                        "account_id": leg.account.id,
                        "amount": leg.amount,
                        "kind": stored.kind,
                        "created_at": stored.created_at,
                    }
                    for leg in legs
                ]
            )
        )
        return stored
    entry: LedgerEntry = db.session.execute(
        _entry_with_legs(),
        {
            **row,
            "leg_accounts": [leg.account.id for leg in legs],
            "leg_amounts": [leg.amount for leg in legs],
        },
    ).scalar_one()
    return entry


# The entry's columns ``_insert_entry`` is given (the rest are the table's defaults).
_ENTRY_VALUES = (
    "kind",
    "idempotency_key",
    "resident_id",
    "memo",
    "reverses_id",
    "ref_type",
    "ref_id",
    "created_at",
)


@cache
def _entry_with_legs() -> Any:
    """PostgreSQL's entry-and-legs statement, built once per process with its values as
    bound parameters: building it per entry cost more Python than executing it."""
    entries, postings = LedgerEntry.__table__, Posting.__table__
    new = (
        insert(entries)
        .values({name: bindparam(name, type_=entries.c[name].type) for name in _ENTRY_VALUES})
        .returning(*entries.c)
        .cte("new_entry")
    )
    accounts_ = bindparam("leg_accounts", type_=ARRAY(Integer))
    amounts = bindparam("leg_amounts", type_=ARRAY(BigInteger))
    given = (
        func.unnest(accounts_, amounts)
        .table_valued(column("account_id", Integer), column("amount", BigInteger))
        .render_derived(name="legs")
    )
    legs_in = (
        insert(postings)
        .from_select(
            ["entry_id", "account_id", "amount", "kind", "created_at"],
            select(new.c.id, given.c.account_id, given.c.amount, new.c.kind, new.c.created_at)
            .select_from(new)
            .join(given, true()),
        )
        .cte("new_legs")
    )
    return select(LedgerEntry).from_statement(select(new).add_cte(legs_in))


def _changes(legs: Sequence[Leg]) -> dict[int, int]:
    changes: dict[int, int] = {}
    for leg in legs:
        changes[leg.account.id] = changes.get(leg.account.id, 0) + leg.amount
    return changes


def _move_cached(account_id: int, change: int, legs: Sequence[Leg]) -> None:
    account = next(leg.account for leg in legs if leg.account.id == account_id)
    if account.kind not in CACHED_KINDS or change == 0:
        return
    db.session.execute(_add_to_balance(), {"account_id": account_id, "change": change})
    db.session.expire(account, ["balance"])


@cache
def _add_to_balance() -> Any:
    """``_move_cached``'s ``UPDATE``, built once per process, its values bound at execution."""
    table = Account.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("account_id"))
        .values(balance=table.c.balance + bindparam("change", type_=table.c.balance.type))
    )


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
        ).all()  # one fetch of every row, not one at a time
        return {int(cast(int, user_id)): int(account_id) for user_id, account_id in rows}

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


def lock_resident_accounts(user_ids: Iterable[int]) -> dict[int, int]:
    """User id -> ledger account id for many residents, row-locked in ascending id order:
    found and locked in one statement, those missing created (``resident_account_ids``)
    and then locked the same way. For ``credit_many``'s callers."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(Account.user_id, Account.id)
        .where(any_of(Account.user_id, ids))
        .order_by(Account.id)
        .with_for_update()
    ).all()
    accounts = {int(cast(int, user_id)): int(account_id) for user_id, account_id in rows}
    missing = [i for i in ids if i not in accounts]
    if missing:
        created = resident_account_ids(missing)
        lock_account_ids(created.values())
        accounts.update(created)
    return accounts


def lock_account_ids(account_ids: Iterable[int]) -> None:
    """Row-lock cached accounts by id, in ascending order (so two writers never deadlock)."""
    ids = sorted(set(account_ids))
    if ids:
        db.session.execute(
            select(Account.id).where(any_of(Account.id, ids)).order_by(Account.id).with_for_update()
        )


def credit_many(
    credits: Sequence[tuple[int, int]],
    key: str,
    account_ids: dict[int, int],
    *,
    memo: str = "",
    new_key: bool = False,
) -> int:
    """Issue points to many residents in one CREDIT entry: (user id, points) each, one user
    at most once; returns the entry's id.

    The entry has one leg per resident and one issuance leg for the total (double entry: the
    legs sum to zero); its ``resident_id`` is the resident's when there is one, else empty
    (each leg's account names its resident). ``account_ids`` maps each user id to its
    account, whose row lock the caller holds (``lock_resident_accounts``); the caller
    commits. A ``key`` used before means the credit was posted:
    nothing is done and that entry's id returned. The entry and its legs are written in bulk
    (COPY on PostgreSQL), and the cached balances moved by one statement.

    ``new_key``: the caller knows the key cannot have been used (it names records whose ids
    were drawn in this transaction), so the entry goes in by COPY with its id drawn ahead,
    without looking the key up; should it exist after all, the unique constraint refuses the
    whole transaction (nothing is credited twice).
    """
    if not credits:
        raise InvalidAmount()
    if any(points <= 0 for _, points in credits):
        raise InvalidAmount()
    if len({user_id for user_id, _ in credits}) != len(credits):
        raise UnbalancedEntry()
    now = utcnow()
    row = {
        "kind": EntryKind.CREDIT,
        "idempotency_key": key,
        "resident_id": credits[0][0] if len(credits) == 1 else None,
        "memo": memo[:200],
        "created_at": now,
        "reverses_id": None,
        "ref_type": None,
        "ref_id": None,
    }
    issuance_id: int | None = None
    if new_key:
        (entry_id,) = allocate_ids(LedgerEntry.__table__, 1)
        insert_rows(LedgerEntry.__table__, [{**row, "id": entry_id}])
    else:
        created = db.session.execute(_credit_entry_insert(_dialect()), row).first()
        if created is None:  # posted before: nothing to do
            return int(
                db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.idempotency_key == key))
                or 0
            )
        entry_id, issuance_id = int(created[0]), created[1]
    if issuance_id is None:
        issuance_id = system_account(AccountKind.ISSUANCE).id
    legs = [
        {
            "entry_id": entry_id,
            "account_id": account_ids[user_id],
            "amount": points,
            "kind": EntryKind.CREDIT,
            "created_at": now,
        }
        for user_id, points in credits
    ]
    legs.append(
        {
            "entry_id": entry_id,
            "account_id": issuance_id,
            "amount": -sum(points for _, points in credits),
            "kind": EntryKind.CREDIT,
            "created_at": now,
        }
    )
    insert_rows(Posting.__table__, legs)
    add_to_column(
        Account.__table__,
        "id",
        "balance",
        [(account_ids[user_id], points) for user_id, points in credits],
    )
    db.session.expire_all()  # ORM copies of these accounts hold old balances
    return entry_id


@cache
def _credit_entry_insert(dialect: str) -> Any:
    """``credit_many``'s entry, built once per process with its values as bound parameters;
    the issuance account's id comes back with the entry's (a statement less per credit;
    should the account not exist yet, ``credit_many`` creates it). Core (the table, not the
    entity): the ORM's INSERT path cost a counter claim ~5% of its Python for two ids."""
    entries = LedgerEntry.__table__
    issuance_code, _, _ = system_spec(AccountKind.ISSUANCE)
    return (
        (postgresql if dialect == "postgresql" else sqlite)
        .insert(entries)
        .values({name: bindparam(name, type_=entries.c[name].type) for name in _ENTRY_VALUES})
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(
            entries.c.id,
            select(Account.id).where(Account.code == issuance_code).scalar_subquery(),
        )
    )


def _dialect() -> str:
    return db.session.get_bind().dialect.name


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


# Where each forest register kind moves its grams (models.py, 6.): (entry kind, from, to).
FOREST_MOVES: dict[str, tuple[EntryKind, AccountKind, AccountKind]] = {
    "counted": (EntryKind.FOREST_CREDIT, AccountKind.FOREST_ISSUANCE, AccountKind.FOREST_COUNTED),
    "buffer": (EntryKind.FOREST_CREDIT, AccountKind.FOREST_ISSUANCE, AccountKind.FOREST_BUFFER),
    "cancel_buffer": (
        EntryKind.FOREST_CANCEL,
        AccountKind.FOREST_BUFFER,
        AccountKind.FOREST_CANCELLED,
    ),
    "cancel_counted": (
        EntryKind.FOREST_CANCEL,
        AccountKind.FOREST_COUNTED,
        AccountKind.FOREST_CANCELLED,
    ),
}


@dataclass(frozen=True)
class ForestMove:
    """One row of the forest register as the ledger records it (grams CO2e)."""

    serial: str  # the register row's serial: the entry's idempotency key
    kind: str  # a key of FOREST_MOVES
    grams: int
    planting_id: int


def post_forest_moves(moves: Sequence[ForestMove], *, memo: str = "") -> list[LedgerEntry]:
    """One FOREST_CREDIT or FOREST_CANCEL entry per forest register row, keyed by its serial.
    A serial already in the ledger is refused (IntegrityError), never skipped: the register
    row and its entry go together or not at all. No cached balance moves. The caller
    commits."""
    out = []
    for move in moves:
        if move.grams <= 0 or not isinstance(move.grams, int):
            raise InvalidAmount()
        kind, source, target = FOREST_MOVES[move.kind]
        entry = LedgerEntry(
            kind=kind,
            idempotency_key=move.serial,
            memo=memo[:200],
            ref_type="planting",
            ref_id=str(move.planting_id),
        )
        db.session.add(entry)
        db.session.flush()
        db.session.add_all(
            Posting(
                entry_id=entry.id,
                account_id=system_account(account).id,
                amount=amount,
                kind=kind,
                created_at=entry.created_at,
            )
            for account, amount in ((source, -move.grams), (target, move.grams))
        )
        out.append(entry)
    db.session.flush()
    return out
