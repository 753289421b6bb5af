"""Residents' green actions as received, and the verified reductions they produced.

An ``ActivityRecord`` is what arrived (a partner's record, a counter-signed claim, a
self-report), kept with its outcome forever, duplicates and rejections included. A
``Reduction`` is the verified result: the methodology version and parameter hash used, the
inputs, the arithmetic and the grams and points credited, written in the same transaction as
the ledger entry that credits the points (DESIGN.md invariants 1 and 2).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..dbtypes import UTCDateTime, str_enum
from ..extensions import db
from ..timeutil import LOCAL_TZ, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class Channel(enum.StrEnum):
    PARTNER = "partner"  # an operator's record (transit, bike share, waste station, restaurant)
    CLAIM = "claim"  # the resident's QR counter-signed by station or restaurant staff
    CARD = "card"  # a printed household card, at a staffed station only
    SELF_REPORT = "self_report"  # the resident's own report with photo evidence


class Outcome(enum.StrEnum):
    PENDING = "pending"  # received, not yet verified
    REVIEW = "review"  # waiting for an administrator (self-report, anomaly, appeal)
    CREDITED = "credited"
    REJECTED = "rejected"
    UNMATCHED = "unmatched"  # no resident bound to this identity (with consent)
    DUPLICATE = "duplicate"  # the same real-world action was already counted


class ActivityRecord(db.Model):
    __tablename__ = "activity_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    action: Mapped[str] = mapped_column(String(40))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    partner_record_id: Mapped[str | None] = mapped_column(String(80))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("partner_batches.id"), index=True)
    identity_hash: Mapped[str | None] = mapped_column(String(64))
    activity: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    occurred_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    occurred_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    local_day: Mapped[str | None] = mapped_column(String(10))
    dedupe_group: Mapped[str | None] = mapped_column(String(20))
    outcome: Mapped[Outcome] = mapped_column(str_enum(Outcome), default=Outcome.PENDING)
    reason_code: Mapped[str | None] = mapped_column(String(60))
    reason: Mapped[dict[str, str] | None] = mapped_column(JSON)  # {"zh_CN": ..., "en": ...}
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("activity_records.id"))
    verifier_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verifier_merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"))
    evidence_path: Mapped[str | None] = mapped_column(String(200))
    evidence_hash: Mapped[str | None] = mapped_column(String(64))
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_comment: Mapped[str] = mapped_column(Text, default="")
    appeal_text: Mapped[str | None] = mapped_column(Text)
    appealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    appeal_reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    reduction: Mapped[Reduction | None] = relationship(back_populates="record", uselist=False)

    @property
    def happened_at(self) -> datetime:
        """When the action happened, as people remember it: the meal or hand-over time given,
        the trip's start, else when it arrived (not the start of a meal slot: a meal at 06:12
        is shown at 06:12, not at 05:00)."""
        for name in ("meal_at", "collected_at"):
            raw = (self.activity or {}).get(name) if isinstance(self.activity, dict) else None
            if isinstance(raw, str):
                try:
                    moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
                except ValueError:
                    continue
                return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)
        return self.occurred_start or self.received_at

    __table_args__ = (
        UniqueConstraint("partner_id", "partner_record_id", name="uq_activity_partner_record"),
        Index("ix_activity_resident_window", "resident_id", "dedupe_group", "occurred_start"),
        Index("ix_activity_resident_day", "resident_id", "local_day"),
        # only the records still waiting: no query looks up the settled outcomes by
        # outcome alone, and every stored record would pay the insertion (migration 0017e)
        Index(
            "ix_activity_outcome",
            "outcome",
            sqlite_where=text("outcome IN ('pending', 'review')"),
            postgresql_where=text("outcome IN ('pending', 'review')"),
        ),
        # records waiting for a claimed identity to be proven (``identities.credit_waiting``)
        Index(
            "ix_activity_waiting_identity",
            "partner_id",
            "identity_hash",
            sqlite_where=text("reason_code = 'identity_unconfirmed'"),
            postgresql_where=text("reason_code = 'identity_unconfirmed'"),
        ),
        Index(
            "uq_activity_evidence_hash",
            "evidence_hash",
            unique=True,
            sqlite_where=text("evidence_hash IS NOT NULL"),
            postgresql_where=text("evidence_hash IS NOT NULL"),
        ),
    )


class Reduction(db.Model):
    __tablename__ = "reductions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("activity_records.id"), unique=True)
    # indexed by ix_reductions_resident_day, whose first column it is
    resident_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    methodology_code: Mapped[str] = mapped_column(String(40))
    module_version: Mapped[str] = mapped_column(String(20))
    version_id: Mapped[int] = mapped_column(ForeignKey("methodology_versions.id"))
    params_hash: Mapped[str] = mapped_column(String(64))
    activity: Mapped[dict[str, Any]] = mapped_column(JSON)
    baseline_g: Mapped[int] = mapped_column(BigInteger)
    project_g: Mapped[int] = mapped_column(BigInteger)
    reduction_g: Mapped[int] = mapped_column(BigInteger)  # what the methodology gives
    credited_g: Mapped[int] = mapped_column(BigInteger)  # after the daily cap
    points: Mapped[int] = mapped_column(BigInteger)
    # The programme's daily points cap gave fewer points than the points rule would
    # (``recompute --check`` then expects fewer, never more).
    programme_capped: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    local_day: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # The credit's entry. Not a foreign key: ledger entries are never updated or deleted (the
    # append-only trigger), so a statement-level trigger checks once per statement that the
    # entries named exist (migration 0017h; PostgreSQL), instead of a check per row.
    ledger_entry_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite")
    )

    record: Mapped[ActivityRecord] = relationship(back_populates="reduction")

    __table_args__ = (Index("ix_reductions_resident_day", "resident_id", "local_day"),)


class BindingStatus(enum.StrEnum):
    CLAIMED = "claimed"  # the resident's word only: credits nothing (DESIGN.md invariant 6)
    ACTIVE = "active"  # ownership proven by the partner or at a counter: credits
    REVOKED = "revoked"  # unlinked by the resident (consent withdrawn)
    RELEASED = "released"  # another resident proved ownership of the same identity


class IdentityBinding(db.Model):
    """A resident's external identity at one partner, with consent to receive its data.

    The identity (card number, account id) is stored only as a keyed hash. A new link is
    ``claimed`` and credits nothing until its ownership is proven (``identities``): by the
    partner, who confirms it with the one-time ``link_code`` the resident shows in the
    partner's app or at its counter, or by station staff who see the card and the resident's
    QR together. Several residents may claim one identity; one at most holds it ``active``.
    """

    __tablename__ = "identity_bindings"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    identity_hash: Mapped[str] = mapped_column(String(64))
    identity_hint: Mapped[str] = mapped_column(String(20))  # e.g. "****5678"
    status: Mapped[BindingStatus] = mapped_column(
        str_enum(BindingStatus), default=BindingStatus.ACTIVE
    )
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # revoked or released
    link_code: Mapped[str | None] = mapped_column(String(12))  # while claimed (one use)
    link_code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_via: Mapped[str | None] = mapped_column(String(20))  # partner | counter | demo
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # counter staff

    partner = relationship("Partner")

    __table_args__ = (
        Index(
            "uq_binding_active_identity",
            "partner_id",
            "identity_hash",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        # one open link (claimed or proven) per resident and identity
        Index(
            "uq_binding_open_claim",
            "resident_id",
            "partner_id",
            "identity_hash",
            unique=True,
            sqlite_where=text("status IN ('claimed', 'active')"),
            postgresql_where=text("status IN ('claimed', 'active')"),
        ),
        Index("ix_binding_identity", "partner_id", "identity_hash"),
    )


class BatchStatus(enum.StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


class PartnerBatch(db.Model):
    __tablename__ = "partner_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    status: Mapped[BatchStatus] = mapped_column(str_enum(BatchStatus), default=BatchStatus.QUEUED)
    source: Mapped[str] = mapped_column(String(10))  # json | csv | file
    total: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[str | None] = mapped_column(Text)  # the body as received, until processed
    # Records of this batch already received (earlier, or twice in it): all are counted, the
    # first ones listed, at most as many as one request may carry (``ingest.ingest_chunk``).
    resent: Mapped[list[str]] = mapped_column(JSON, default=list)  # the listed record ids
    resent_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)


class ClaimCode(db.Model):
    """A resident's dynamic claim QR (about 60 s) and the short code that stands for it.

    Single use is enforced by the database: a conditional UPDATE sets ``used_at`` once.
    """

    __tablename__ = "claim_codes"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class HouseholdCard(db.Model):
    """A printed card with a static QR for residents without a smartphone.

    Accepted only by staff at a waste station, under tighter caps; re-issuing revokes it.
    """

    __tablename__ = "household_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    nonce: Mapped[str] = mapped_column(String(32), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ClaimKey(db.Model):
    """The ``Idempotency-Key`` a staff member sent with a claim, and the record it made.

    Unique per staff member, so a retry with the same key finds the first record (and its
    credit) instead of crediting again, across restarts; ``request_hash`` tells a retry from
    another claim sent with a reused key.
    """

    __tablename__ = "claim_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int] = mapped_column(ForeignKey("activity_records.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    record: Mapped[ActivityRecord] = relationship()

    __table_args__ = (UniqueConstraint("staff_id", "key", name="uq_claim_key_staff"),)
