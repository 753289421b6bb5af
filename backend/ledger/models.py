"""The points ledger: double-entry, append-only, integer points (and retired grams, 5.).

Invariants (DESIGN.md, tested, and enforced by the database where it can):
1. Every entry's postings sum to zero (a deferred constraint trigger on PostgreSQL).
2. Entries and postings are never updated or deleted (triggers on PostgreSQL); corrections are
   reversing entries linked to what they reverse.
3. Every entry has a unique idempotency key: repeating a write returns the first result.
4. Resident and merchant accounts carry a cached balance, changed only in the transaction that
   inserts their postings, under a row lock, and never negative (CHECK constraint).
   System accounts (issuance, holds, expiry, forest fund, retirement) keep no cached balance:
   they take part in every credit and would serialise all writes; their balance is the sum of
   their postings.
5. One exception to the unit: the two reduction accounts (``GRAMS_KINDS``) count grams CO2e,
   not points. A retirement of a verified reduction for an event (the events' retirement
   register) is one RETIRE entry keyed by its serial number, moving the retired grams from the
   reduction pool to the retirement account; RETIRE is the only kind that touches them and
   touches nothing else, so no entry mixes grams and points and each still sums to zero.
   Residents' points do not move: they were earned for the action, the reduction is the
   platform's to retire. The pool is a contra account, as issuance is for points: minus its
   balance is what was retired from it; what is left is the verified reductions' credited
   grams less that (``events.queries.pool_g``). Grams, not a points equivalent: the
   register counts grams, a points rule may change between versions and a capped reduction
   earned fewer points than its rule gives, so grams are the one amount both sides agree on.
6. Forest removals credited after measurement are grams too (``FOREST_KINDS``): a measured
   removal comes into being on the forest issuance account (a contra account, like issuance)
   and goes to the pooled buffer and to counted removals (FOREST_CREDIT); a reversal moves
   grams from the buffer, then from counted removals, to the cancelled account
   (FOREST_CANCEL). Each entry is keyed by the serial of its row in the forest register
   (``events.models.ForestCredit``), and only these two kinds touch these four accounts.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..dbtypes import UTCDateTime, str_enum
from ..extensions import db
from ..timeutil import utcnow


class AccountKind(enum.StrEnum):
    RESIDENT = "resident"
    MERCHANT = "merchant"
    ISSUANCE = "issuance"  # points come into being here (negative balance = points issued)
    HOLDS = "holds"  # points held for pending redemptions
    EXPIRY = "expiry"  # expired points end here
    FOREST_FUND = "forest_fund"  # residents' donations to the 碳中和林
    RETIREMENT = "retirement"  # grams of reductions retired for event neutrality
    REDUCTION_POOL = "reduction_pool"  # grams: the verified reductions retirements draw on
    FOREST_ISSUANCE = "forest_issuance"  # grams: measured forest removals come into being here
    FOREST_BUFFER = "forest_buffer"  # grams: the pooled buffer against reversal
    FOREST_COUNTED = "forest_counted"  # grams: measured removals counted for events
    FOREST_CANCELLED = "forest_cancelled"  # grams: buffer or counted removals cancelled by a loss


CACHED_KINDS = (AccountKind.RESIDENT, AccountKind.MERCHANT)
RETIRE_KINDS = (AccountKind.REDUCTION_POOL, AccountKind.RETIREMENT)
FOREST_KINDS = (
    AccountKind.FOREST_ISSUANCE,
    AccountKind.FOREST_BUFFER,
    AccountKind.FOREST_COUNTED,
    AccountKind.FOREST_CANCELLED,
)
GRAMS_KINDS = RETIRE_KINDS + FOREST_KINDS  # grams CO2e, not points


class EntryKind(enum.StrEnum):
    CREDIT = "credit"  # verified reduction -> points
    HOLD = "hold"  # resident -> holds, when redeeming
    RELEASE = "release"  # holds -> resident, cancelled or expired redemption
    SETTLE = "settle"  # holds -> merchant, fulfilled redemption
    REFUND = "refund"  # merchant -> resident, reversing a settlement
    EXPIRE = "expire"  # resident -> expiry
    DONATE = "donate"  # resident -> forest fund
    RETIRE = "retire"  # reduction pool -> retirement, in grams: a reduction retired for an event
    REVERSAL = "reversal"  # correction of an earlier entry
    FOREST_CREDIT = "forest_credit"  # grams: forest issuance -> buffer or counted (measured)
    FOREST_CANCEL = "forest_cancel"  # grams: buffer or counted -> cancelled (a reversal)


GRAMS_ENTRY_KINDS = (EntryKind.RETIRE, EntryKind.FOREST_CREDIT, EntryKind.FOREST_CANCEL)


class Account(db.Model):
    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[AccountKind] = mapped_column(str_enum(AccountKind))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"), unique=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint(
            "kind NOT IN ('resident', 'merchant') OR balance >= 0", name="balance_not_negative"
        ),
        CheckConstraint(
            "kind IN ('resident', 'merchant') OR balance = 0", name="system_balance_derived"
        ),
    )


class LedgerEntry(db.Model):
    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[EntryKind] = mapped_column(str_enum(EntryKind))
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    # no index: nothing reads entries by time (the reports read the postings' own)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The resident the entry concerns (partition key for scale-out), if any.
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    ref_type: Mapped[str | None] = mapped_column(String(40))
    ref_id: Mapped[str | None] = mapped_column(String(40))
    memo: Mapped[str] = mapped_column(String(200), default="")

    postings: Mapped[list[Posting]] = relationship(
        back_populates="entry",
        order_by="Posting.id",
        primaryjoin="LedgerEntry.id == foreign(Posting.entry_id)",
    )

    __table_args__ = (
        # only entries that name a reference (credits, most entries, name none)
        Index(
            "ix_ledger_entries_ref",
            "ref_type",
            "ref_id",
            sqlite_where=text("ref_type IS NOT NULL"),
            postgresql_where=text("ref_type IS NOT NULL"),
        ),
    )


class Posting(db.Model):
    __tablename__ = "ledger_postings"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # Not a foreign key: entries are never updated or deleted (the append-only trigger), so a
    # statement-level trigger checks once per statement that the entries named exist
    # (migration 0017h; PostgreSQL), instead of a check per leg.
    entry_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    # Copied from the entry so balance, expiry and reconciliation read one table.
    kind: Mapped[EntryKind] = mapped_column(str_enum(EntryKind))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    entry: Mapped[LedgerEntry] = relationship(
        back_populates="postings", primaryjoin="LedgerEntry.id == foreign(Posting.entry_id)"
    )
    account: Mapped[Account] = relationship()

    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        Index("ix_ledger_postings_account_kind", "account_id", "kind", "created_at"),
        # (entry, id): the zero-sum trigger finds an entry's last leg without reading them all
        Index("ix_ledger_postings_entry_id", "entry_id", "id"),
    )
