"""The operations tables: partner batch health, the review queue and the anomaly flags."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    String,
    and_,
    case,
    cast,
    func,
    select,
)

from ..actions.models import ActivityRecord, BatchStatus, Outcome, PartnerBatch
from ..actions.reasons import REASONS
from ..extensions import db
from ..partners.models import Partner
from ..timeutil import aware
from .filters import Filters
from .sql import TOTAL, in_district, local_date, text_of
from .tables import Column, Table, per_day, percent

ANOMALY_FLAGS = ("burst", "verifier_outlier")


def _reason_names(codes: set[str]) -> dict[str, str]:
    """Reason codes in the request's language: the platform's own, else the text a
    methodology stored with one of the records."""
    names = {code: text_of(REASONS[code]) for code in codes if code in REASONS}
    for code in codes - set(names):
        stored = db.session.scalar(
            select(ActivityRecord.reason).where(ActivityRecord.reason_code == code).limit(1)
        )
        names[code] = text_of(stored) if stored else code
    return names


def partner_tables(filters: Filters, today: date) -> list[Table]:
    period = filters.period
    in_period = (
        ActivityRecord.received_at >= period.start_utc,
        ActivityRecord.received_at < period.end_utc,
    )
    partners = db.session.execute(
        select(Partner.id, Partner.code, Partner.name).order_by(Partner.code)
    ).all()
    outcomes: dict[Any, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for partner_id, outcome, count in db.session.execute(
        select(ActivityRecord.partner_id, ActivityRecord.outcome, func.count())
        .where(ActivityRecord.partner_id.is_not(None), *in_period)
        .group_by(ActivityRecord.partner_id, ActivityRecord.outcome)
    ):
        outcomes[partner_id][outcome.value] += int(count)
    batches: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for partner_id, status, count in db.session.execute(
        select(PartnerBatch.partner_id, PartnerBatch.status, func.count())
        .where(
            PartnerBatch.received_at >= period.start_utc,
            PartnerBatch.received_at < period.end_utc,
        )
        .group_by(PartnerBatch.partner_id, PartnerBatch.status)
    ):
        batches[partner_id][0] += int(count)
        if status is BatchStatus.FAILED:
            batches[partner_id][1] += int(count)
    days = period.days_elapsed(today)
    outcome_columns = [
        ("credited", Outcome.CREDITED, _l("Credited")),
        ("rejected", Outcome.REJECTED, _l("Rejected")),
        ("unmatched", Outcome.UNMATCHED, _l("Unmatched")),
        ("duplicate", Outcome.DUPLICATE, _l("Duplicate")),
        ("in_review", Outcome.REVIEW, _l("In review")),
        ("pending", Outcome.PENDING, _l("Pending")),
    ]
    health = Table(
        "partner_health",
        _l("Partner batch health"),
        [
            Column("partner", _l("Partner code")),
            Column("partner_name", _l("Partner")),
            Column("records", _l("Records"), "int"),
            *[Column(key, label, "int") for key, _o, label in outcome_columns],
            Column("rejection_rate", _l("Rejection rate"), "percent"),
            Column("records_per_day", _l("Records per day"), "decimal"),
            Column("batches", _l("Batches"), "int"),
            Column("failed_batches", _l("Failed batches"), "int"),
        ],
        note=_l(
            "Records per day: records divided by %(days)s days of the period so far.", days=days
        ),
    )
    total: dict[str, Any] = {"partner": TOTAL, "partner_name": str(_l("Total")), "records": 0}
    total.update({key: 0 for key, _o, _l_ in outcome_columns})
    total.update(batches=0, failed_batches=0)
    for partner_id, code, name in partners:
        counts = outcomes.get(partner_id, {})
        records = sum(counts.values())
        row: dict[str, Any] = {"partner": code, "partner_name": name, "records": records}
        for key, outcome, _label in outcome_columns:
            row[key] = counts.get(outcome.value, 0)
            total[key] += row[key]
        row["rejection_rate"] = percent(row["rejected"], records)
        row["records_per_day"] = per_day(records, days)
        row["batches"], row["failed_batches"] = batches.get(partner_id, [0, 0])
        total["records"] += records
        total["batches"] += row["batches"]
        total["failed_batches"] += row["failed_batches"]
        health.rows.append(row)
    total["rejection_rate"] = percent(total["rejected"], total["records"])
    total["records_per_day"] = per_day(total["records"], days)
    health.total = total

    codes: dict[Any, str] = {pid: code for pid, code, _name in partners}
    reasons = db.session.execute(
        select(ActivityRecord.partner_id, ActivityRecord.reason_code, func.count())
        .where(
            ActivityRecord.partner_id.is_not(None),
            ActivityRecord.outcome == Outcome.REJECTED,
            *in_period,
        )
        .group_by(ActivityRecord.partner_id, ActivityRecord.reason_code)
    ).all()
    names = _reason_names({code for _p, code, _n in reasons if code})
    rejections = Table(
        "partner_rejections",
        _l("Rejections by reason"),
        [
            Column("partner", _l("Partner code")),
            Column("reason_code", _l("Reason code")),
            Column("reason", _l("Reason")),
            Column("records", _l("Records"), "int"),
            Column("share", _l("Share of the partner's records"), "percent"),
        ],
    )
    for partner_id, reason_code, count in sorted(
        reasons, key=lambda r: (codes.get(r[0], ""), -int(r[2]), r[1] or "")
    ):
        records = int(sum(outcomes.get(partner_id, {}).values()))
        rejections.rows.append(
            {
                "partner": codes.get(partner_id, str(partner_id)),
                "reason_code": reason_code or "",
                "reason": names.get(reason_code or "", reason_code or ""),
                "records": int(count),
                "share": percent(int(count), records),
            }
        )

    day = local_date(ActivityRecord.received_at)
    daily = Table(
        "partner_daily",
        _l("Partner records per day"),
        [
            Column("partner", _l("Partner code")),
            Column("day", _l("Day received")),
            Column("records", _l("Records"), "int"),
        ],
    )
    for partner_id, received_day, count in db.session.execute(
        select(ActivityRecord.partner_id, day, func.count())
        .where(ActivityRecord.partner_id.is_not(None), *in_period)
        .group_by(ActivityRecord.partner_id, day)
        .order_by(day)
    ):
        daily.rows.append(
            {
                "partner": codes.get(partner_id, str(partner_id)),
                "day": received_day,
                "records": int(count),
            }
        )
    daily.rows.sort(key=lambda r: (r["partner"], r["day"]))
    return [health, rejections, daily]


AGE_BUCKETS: list[tuple[str, Any, timedelta | None]] = [
    ("under_1_day", _l("Under 1 day"), timedelta(days=1)),
    ("days_1_to_3", _l("1–3 days"), timedelta(days=3)),
    ("days_3_to_7", _l("3–7 days"), timedelta(days=7)),
    ("over_7_days", _l("Over 7 days"), None),
]


REVIEW_CATEGORIES = {
    "appeal": _l("Appeals"),
    "self_report": _l("Self-reports"),
    "burst": _l("Burst of actions"),
    "verifier_outlier": _l("Verifier outlier"),
}


def _age_buckets(now: datetime) -> list[Any]:
    """One 0/1 sum per age bucket: (newer than the bucket's limit, not newer than the last)."""
    sums, previous = [], None
    for _key, _label, limit in AGE_BUCKETS:
        conditions = []
        if limit is not None:
            conditions.append(ActivityRecord.received_at > now - limit)
        if previous is not None:
            conditions.append(ActivityRecord.received_at <= now - previous)
        sums.append(func.sum(case((and_(*conditions), 1), else_=0)))
        previous = limit
    return sums


def review_table(filters: Filters, now: datetime) -> Table:
    """The queue as it is now (the period does not apply; the district does)."""
    category = case(
        (ActivityRecord.appealed_at.is_not(None), "appeal"),
        else_=func.coalesce(ActivityRecord.reason_code, "other"),
    )
    query = (
        select(category, func.count(), func.min(ActivityRecord.received_at), *_age_buckets(now))
        .select_from(ActivityRecord)
        .where(ActivityRecord.outcome == Outcome.REVIEW)
        .group_by(category)
    )
    query = in_district(query, filters, ActivityRecord.resident_id)
    table = Table(
        "review_queue",
        _l("Review queue now"),
        [
            Column("category", _l("Waiting because")),
            Column("category_name", _l("Reason")),
            Column("waiting", _l("Waiting"), "int"),
            *[Column(key, label, "int") for key, label, _limit in AGE_BUCKETS],
            Column("oldest", _l("Oldest since"), "datetime"),
            Column("oldest_age_hours", _l("Oldest waiting (hours)"), "hours"),
        ],
    )
    total: dict[str, Any] = {"category": TOTAL, "category_name": str(_l("Total")), "waiting": 0}
    total.update({key: 0 for key, _label, _limit in AGE_BUCKETS})
    rows = sorted(db.session.execute(query).all(), key=lambda r: (-int(r[1]), r[0]))
    names = _reason_names({r[0] for r in rows if r[0] not in REVIEW_CATEGORIES})
    oldest_all: datetime | None = None
    for code, count, oldest, *buckets in rows:
        label = REVIEW_CATEGORIES.get(code)
        row: dict[str, Any] = {
            "category": code,
            "category_name": str(label) if label is not None else names.get(code, code),
            "waiting": int(count),
            "oldest": oldest,
            "oldest_age_hours": _hours(now, oldest),
        }
        for (key, _label, _limit), value in zip(AGE_BUCKETS, buckets, strict=True):
            row[key] = int(value or 0)
            total[key] += row[key]
        total["waiting"] += row["waiting"]
        if oldest is not None and (oldest_all is None or oldest < oldest_all):
            oldest_all = oldest
        table.rows.append(row)
    total["oldest"] = oldest_all
    total["oldest_age_hours"] = _hours(now, oldest_all)
    table.total = total
    return table


def _hours(now: datetime, then: datetime | None) -> Decimal | None:
    if then is None:
        return None
    seconds = Decimal(int((now - aware(then)).total_seconds()))
    return (seconds / 3600).quantize(Decimal("0.1"), ROUND_HALF_UP)


def anomaly_table(filters: Filters) -> Table:
    period = filters.period
    table = Table(
        "anomaly_flags",
        _l("Anomaly flags"),
        [
            Column("flag", _l("Flag")),
            Column("flag_name", _l("Meaning")),
            Column("raised", _l("Raised"), "int"),
            Column("in_review", _l("Still in review"), "int"),
            Column("credited", _l("Credited after review"), "int"),
            Column("rejected", _l("Rejected"), "int"),
            Column("other", _l("Other outcome"), "int"),
        ],
        note=_l("A record can carry both flags; it is then counted under each."),
    )
    flags_text = cast(ActivityRecord.flags, String)
    for flag in ANOMALY_FLAGS:
        query = (
            select(ActivityRecord.outcome, func.count())
            .select_from(ActivityRecord)
            .where(
                flags_text.like(f'%"{flag}"%'),
                ActivityRecord.received_at >= period.start_utc,
                ActivityRecord.received_at < period.end_utc,
            )
            .group_by(ActivityRecord.outcome)
        )
        query = in_district(query, filters, ActivityRecord.resident_id)
        counts = {outcome.value: int(n) for outcome, n in db.session.execute(query)}
        raised = sum(counts.values())
        known = counts.get("review", 0) + counts.get("credited", 0) + counts.get("rejected", 0)
        table.rows.append(
            {
                "flag": flag,
                "flag_name": text_of(REASONS[flag]),
                "raised": raised,
                "in_review": counts.get("review", 0),
                "credited": counts.get("credited", 0),
                "rejected": counts.get("rejected", 0),
                "other": raised - known,
            }
        )
    return table
