"""Read side of actions: a resident's actions, the review queue, batch health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

import methodologies.afforestation as forest
from methodologies.base import local_day

from ..accounts.models import User
from ..extensions import db
from ..methodology_versions.exceptions import NoActiveVersion
from ..methodology_versions.services import active_version
from ..partners.models import Partner
from ..timeutil import local, utcnow
from .models import ActivityRecord, Outcome, PartnerBatch, Reduction


def actions_of(resident_id: int, limit: int = 50) -> list[ActivityRecord]:
    """A resident's actions, the most recent real-world action first."""
    when = func.coalesce(ActivityRecord.occurred_start, ActivityRecord.received_at)
    return list(
        db.session.scalars(
            select(ActivityRecord)
            .where(ActivityRecord.resident_id == resident_id)
            .order_by(when.desc(), ActivityRecord.id.desc())
            .limit(limit)
        )
    )


def verified_by(staff_id: int, limit: int = 30) -> list[ActivityRecord]:
    """What a station or restaurant staff member confirmed today, newest first."""
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


def _month(day_column: Any, month: str) -> Any:
    return day_column.like(f"{month}-%")


def grams_by_action_and_month(resident_id: int) -> dict[tuple[str, str], int]:
    """Credited grams per (methodology, local month "YYYY-MM"): one grouped query from which
    the home's total, months, trend and breakdown are all summed."""
    month = func.substr(Reduction.local_day, 1, 7)
    return {
        (code, str(m)): int(grams)
        for code, m, grams in db.session.execute(
            select(Reduction.methodology_code, month, func.sum(Reduction.credited_g))
            .where(Reduction.resident_id == resident_id)
            .group_by(Reduction.methodology_code, month)
        )
    }


def leaderboard(district: str, month: str, limit: int = 10) -> list[tuple[str, int]]:
    """This month's top residents of a district who opted in, by nickname only."""
    rows = db.session.execute(
        select(User.nickname, func.sum(Reduction.credited_g).label("grams"))
        .join(Reduction, Reduction.resident_id == User.id)
        .where(
            User.district == district,
            User.leaderboard_opt_in.is_(True),
            User.nickname.is_not(None),
            User.deleted_at.is_(None),
            _month(Reduction.local_day, month),
        )
        .group_by(User.id, User.nickname)
        .order_by(func.sum(Reduction.credited_g).desc())
        .limit(limit)
    )
    return [(nickname, int(grams)) for nickname, grams in rows]


def last_months(count: int = 12) -> list[str]:
    """The last ``count`` local months, oldest first, as "YYYY-MM"."""
    today = local(utcnow())
    index = today.year * 12 + today.month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - count + 1, index + 1)]


@dataclass(frozen=True)
class ResidentSummary:
    grams: int
    this_month_g: int
    last_month_g: int
    trees: Decimal | None
    breakdown: dict[str, int]
    months: list[str]
    trend: list[int]


def resident_summary(resident_id: int) -> ResidentSummary:
    """Everything the resident home shows about reductions (points come from the ledger)."""
    months = last_months(12)
    cells = grams_by_action_and_month(resident_id)
    by_month: dict[str, int] = {}
    by_action: dict[str, int] = {}
    for (code, month), grams in cells.items():
        by_month[month] = by_month.get(month, 0) + grams
        by_action[code] = by_action.get(code, 0) + grams
    total = sum(cells.values())
    try:
        trees = forest.trees_equivalent(total, active_version("afforestation").decimal_params())
    except NoActiveVersion:
        trees = None
    return ResidentSummary(
        grams=total,
        this_month_g=by_month.get(months[-1], 0),
        last_month_g=by_month.get(months[-2], 0),
        trees=trees,
        breakdown=dict(sorted(by_action.items())),
        months=months,
        trend=[by_month.get(month, 0) for month in months],
    )
