"""Credits on the way: for each linked source, when its last batch arrived and when the next
is expected; and the resident's records still waiting, with why and until when.

The expected time of the next batch is read from the partner's own rhythm: its last batch
plus the median gap between its recent batches (none is promised with fewer than two).
Pending records wait for the verification job (every ``VERIFY_EVERY`` minutes); records in
review wait for an administrator, with no promised date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from sqlalchemy import func, select

from ..actions.models import (
    ActivityRecord,
    BindingStatus,
    Channel,
    IdentityBinding,
    Outcome,
    PartnerBatch,
)
from ..extensions import db
from ..partners.models import Partner
from ..timeutil import aware

RECENT_BATCHES = 10
VERIFY_EVERY = timedelta(minutes=10)  # backend/jobs.py: verify_pending runs every 10 minutes


@dataclass(frozen=True)
class SourceRhythm:
    partner: Partner
    identity_hint: str
    last_batch_at: datetime | None
    next_expected_at: datetime | None
    last_record_at: datetime | None  # the last record about this resident from the source
    # A claimed link (not yet proven): its records wait, unnamed, until the partner or a
    # counter confirms it (DESIGN.md invariant 6); the link code shown on the sources page
    # is valid until ``code_until``.
    claimed: bool = False
    code_until: datetime | None = None


@dataclass(frozen=True)
class Waiting:
    record: ActivityRecord
    why: str  # pending | review | appeal | flagged
    until: datetime | None  # when it should be decided, if anyone can say


def _rhythm(partner_id: int) -> tuple[datetime | None, datetime | None]:
    times = [
        aware(t)
        for t in db.session.scalars(
            select(PartnerBatch.received_at)
            .where(PartnerBatch.partner_id == partner_id)
            .order_by(PartnerBatch.received_at.desc())
            .limit(RECENT_BATCHES)
        )
    ]
    if not times:
        return None, None
    # newest first: each gap is a batch's time minus the one before it
    gaps = [later - earlier for later, earlier in zip(times, times[1:], strict=False)]
    expected = (
        times[0] + timedelta(seconds=median(g.total_seconds() for g in gaps)) if gaps else None
    )
    return times[0], expected


def sources_on_the_way(resident_id: int) -> list[SourceRhythm]:
    out = []
    bindings = db.session.scalars(
        select(IdentityBinding)
        .where(
            IdentityBinding.resident_id == resident_id,
            IdentityBinding.status.in_((BindingStatus.ACTIVE, BindingStatus.CLAIMED)),
        )
        .order_by(IdentityBinding.id)
    )
    for binding in bindings:
        last_batch, expected = _rhythm(binding.partner_id)
        last_record = db.session.scalar(
            select(func.max(ActivityRecord.received_at)).where(
                ActivityRecord.resident_id == resident_id,
                ActivityRecord.partner_id == binding.partner_id,
            )
        )
        out.append(
            SourceRhythm(
                binding.partner,
                binding.identity_hint,
                last_batch,
                expected,
                aware(last_record) if last_record else None,
                claimed=binding.status is BindingStatus.CLAIMED,
                code_until=aware(binding.link_code_expires_at)
                if binding.link_code_expires_at
                else None,
            )
        )
    return out


def waiting_records(resident_id: int, limit: int = 50) -> list[Waiting]:
    records = db.session.scalars(
        select(ActivityRecord)
        .where(
            ActivityRecord.resident_id == resident_id,
            ActivityRecord.outcome.in_((Outcome.PENDING, Outcome.REVIEW)),
        )
        .order_by(ActivityRecord.received_at.desc())
        .limit(limit)
    )
    out = []
    for record in records:
        if record.outcome is Outcome.PENDING:
            out.append(Waiting(record, "pending", aware(record.received_at) + VERIFY_EVERY))
        elif record.appealed_at is not None:
            out.append(Waiting(record, "appeal", None))
        elif record.flags and record.channel is not Channel.SELF_REPORT:
            out.append(Waiting(record, "flagged", None))
        else:
            out.append(Waiting(record, "review", None))
    return out
