"""Read side of actions: a resident's actions, the review queue, batch health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from ..extensions import db
from ..partners.models import Partner
from ..timeutil import utcnow
from .models import ActivityRecord, Outcome, PartnerBatch, Reduction


def actions_of(resident_id: int, limit: int = 50) -> list[ActivityRecord]:
    return list(
        db.session.scalars(
            select(ActivityRecord)
            .where(ActivityRecord.resident_id == resident_id)
            .order_by(ActivityRecord.id.desc())
            .limit(limit)
        )
    )


def verified_by(staff_id: int, limit: int = 30) -> list[ActivityRecord]:
    """What a station or restaurant staff member confirmed today, newest first."""
    from methodologies.base import local_day

    return list(
        db.session.scalars(
            select(ActivityRecord)
            .where(
                ActivityRecord.verifier_id == staff_id,
                ActivityRecord.local_day == local_day(utcnow()),
            )
            .order_by(ActivityRecord.id.desc())
            .limit(limit)
        )
    )


def totals_of(resident_id: int) -> tuple[int, int]:
    """(credited grams, points earned) over all of a resident's reductions."""
    grams, points = db.session.execute(
        select(
            func.coalesce(func.sum(Reduction.credited_g), 0),
            func.coalesce(func.sum(Reduction.points), 0),
        ).where(Reduction.resident_id == resident_id)
    ).one()
    return int(grams), int(points)


def review_queue(limit: int = 100) -> list[ActivityRecord]:
    return list(
        db.session.scalars(
            select(ActivityRecord)
            .where(ActivityRecord.outcome == Outcome.REVIEW)
            .order_by(ActivityRecord.received_at)
            .limit(limit)
        )
    )


def review_queue_size() -> int:
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(ActivityRecord)
            .where(ActivityRecord.outcome == Outcome.REVIEW)
        )
        or 0
    )


@dataclass(frozen=True)
class BatchRow:
    batch: PartnerBatch
    partner: Partner


def recent_batches(limit: int = 50) -> list[BatchRow]:
    rows = db.session.execute(
        select(PartnerBatch, Partner)
        .join(Partner, Partner.id == PartnerBatch.partner_id)
        .order_by(PartnerBatch.id.desc())
        .limit(limit)
    ).all()
    return [BatchRow(batch, partner) for batch, partner in rows]


def outcome_counts(since_days: int = 7) -> dict[str, dict[str, int]]:
    """Per partner code, records per outcome over the last days (batch health)."""
    since = utcnow() - timedelta(days=since_days)
    out: dict[str, dict[str, int]] = {}
    for code, outcome, count in db.session.execute(
        select(Partner.code, ActivityRecord.outcome, func.count())
        .join(Partner, Partner.id == ActivityRecord.partner_id)
        .where(ActivityRecord.received_at >= since)
        .group_by(Partner.code, ActivityRecord.outcome)
    ):
        out.setdefault(code, {})[outcome.value] = int(count)
    return out
