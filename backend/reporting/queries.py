"""Read side of the reporting model: the programme dashboard's figures.

Every figure is computed here from the source tables, in SQL aggregates, and nowhere else:
the dashboard, the CSV exports and the monthly and annual reports all show these tables.

Definitions (also shown on the dashboard, ``DEFINITIONS``):

* Verified reductions: the sum of ``reductions.credited_g`` (grams credited after daily caps)
  of reductions whose action took place in the period (``local_day``), by the methodology
  (action type), the resident's district and the month of the action.
* Points are read from ledger postings made in the period (local time of ``created_at``):
  issued = CREDIT postings to resident accounts; redeemed = SETTLE postings to merchant
  accounts minus REFUND postings from them (fulfilled redemptions, net of refunds);
  expired = EXPIRE postings out of resident accounts; donated = DONATE postings out of
  resident accounts (to the neutrality forest fund). The district is the resident's.
* Active residents: residents with at least one verified reduction in the period.
* Partner batch health: records partners sent in the period (by time received), by outcome;
  rejection rate = rejected / records; records per day = records / days of the period up to
  today. Partner figures are not split by district (unmatched records have no resident).
* Review queue: records waiting for an administrator now, by why they wait, and how long.
* Anomaly flags: records received in the period that verification flagged (``burst``,
  ``verifier_outlier``), by what became of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    String,
    and_,
    case,
    cast,
    distinct,
    func,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from ..accounts.models import Role, User
from ..actions.models import ActivityRecord, BatchStatus, Outcome, PartnerBatch, Reduction
from ..actions.reasons import REASONS
from ..actions.self_reports import RESIDENT_ACTIONS
from ..config import DISTRICTS
from ..extensions import db
from ..i18n import action_name, current_lang
from ..ledger.models import Account, AccountKind, EntryKind, LedgerEntry, Posting
from ..merchants.models import Merchant
from ..methodology_versions.models import MethodologyVersion
from ..partners.models import Partner
from ..timeutil import aware, local, utcnow
from .filters import Filters
from .tables import Column, Table, per_day, percent, tonnes

ANOMALY_FLAGS = ("burst", "verifier_outlier")
NO_DISTRICT = "—"
TOTAL = "total"

DEFINITIONS: list[tuple[Any, Any]] = [
    (
        _l("Verified reductions"),
        _l(
            "Grams of CO2e credited to residents after daily caps (reductions table), counted "
            "in the month the action took place, shown in tonnes (1 t = 1,000,000 g)."
        ),
    ),
    (
        _l("Points issued"),
        _l("Credit postings to residents' accounts in the period (ledger)."),
    ),
    (
        _l("Points redeemed"),
        _l(
            "Settlement postings to merchants' accounts for fulfilled redemptions, minus "
            "refund postings from them, in the period (ledger)."
        ),
    ),
    (_l("Points expired"), _l("Expiry postings out of residents' accounts in the period.")),
    (
        _l("Points donated"),
        _l("Donation postings out of residents' accounts to the neutrality forest fund."),
    ),
    (
        _l("Active residents"),
        _l("Residents with at least one verified reduction in the period."),
    ),
    (
        _l("Rejection rate"),
        _l(
            "Records a partner sent in the period that verification rejected, divided by all "
            "records it sent; records per day divides by the days of the period so far."
        ),
    ),
    (
        _l("Review queue"),
        _l("Records waiting for an administrator now, by how long they have waited."),
    ),
    (
        _l("Anomaly flags"),
        _l(
            "Records received in the period that verification sent to review as unusual: "
            "too many actions in a day, or a verifier far above peers."
        ),
    ),
]


# --- SQL: a UTC timestamp's local calendar day --------------------------------------------


class local_date(FunctionElement[str]):  # noqa: N801 - reads as a SQL function
    """'YYYY-MM-DD' of a UTC timestamp in Asia/Shanghai (UTC+8 all year, no DST)."""

    type = String()
    inherit_cache = True
    name = "local_date"


@compiles(local_date, "sqlite")
def _local_date_sqlite(element: local_date, compiler: Any, **kw: Any) -> str:
    return f"strftime('%Y-%m-%d', {compiler.process(element.clauses, **kw)}, '+8 hours')"


@compiles(local_date, "postgresql")
def _local_date_postgresql(element: local_date, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"to_char(({column}) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')"


def month_of(day: Any) -> ColumnElement[str]:
    """'YYYY-MM' of a 'YYYY-MM-DD' expression. The positions are SQL literals, not bound
    parameters, so PostgreSQL sees the same expression in SELECT and GROUP BY."""
    return func.substr(day, literal_column("1"), literal_column("7"))


def local_month(column: Any) -> ColumnElement[str]:
    return month_of(local_date(column))


# --- helpers ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A bilingual ``Text`` or {"zh_CN", "en"} dict in the request's language."""
    lang = current_lang()
    if hasattr(value, "get") and not isinstance(value, dict):
        return str(value.get(lang))
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("zh_CN") or "")
    return str(value)


def _districts(filters: Filters, seen: set[str | None]) -> list[str]:
    """The districts to list: the one filtered on, or all six (and "—" if some residents
    have none)."""
    if filters.district:
        return [filters.district]
    return list(DISTRICTS) + ([NO_DISTRICT] if None in seen or NO_DISTRICT in seen else [])


def _action_codes(seen: set[str]) -> list[str]:
    return list(RESIDENT_ACTIONS) + sorted(seen - set(RESIDENT_ACTIONS))


def _in_district(query: Any, filters: Filters, resident_id: Any) -> Any:
    if filters.district:
        return query.join(User, User.id == resident_id).where(User.district == filters.district)
    return query


# --- verified reductions -----------------------------------------------------------------


def reductions_in(filters: Filters, *columns: Any) -> Any:
    query = (
        select(*columns)
        .select_from(Reduction)
        .join(User, User.id == Reduction.resident_id)
        .where(
            Reduction.local_day >= filters.period.first_day,
            Reduction.local_day <= filters.period.last_day,
        )
    )
    if filters.district:
        query = query.where(User.district == filters.district)
    return query


@dataclass(frozen=True)
class Active:
    """Distinct residents with a reduction in the period: overall, per district, per month."""

    total: int
    by_district: dict[str, int]
    by_month: dict[str, int]


def _active(filters: Filters) -> Active:
    """One pass over the period's reductions: their distinct (resident, month) pairs, then
    three small counts of those (a count of distinct residents over every reduction row,
    three times over, cost the dashboard seconds at a few million rows)."""
    month = month_of(Reduction.local_day)
    pairs = (
        reductions_in(
            filters,
            Reduction.resident_id.label("rid"),
            User.district.label("district"),
            month.label("month"),
        )
        .group_by(Reduction.resident_id, User.district, month)
        .cte("active_pairs")
    )
    rows = db.session.execute(
        union_all(
            select(literal("total"), literal(None, String), func.count(distinct(pairs.c.rid))),
            select(
                literal("district"), pairs.c.district, func.count(distinct(pairs.c.rid))
            ).group_by(pairs.c.district),
            select(literal("month"), pairs.c.month, func.count()).group_by(pairs.c.month),
        )
    )
    total, by_district, by_month = 0, {}, {}
    for kind, key, count in rows:
        if kind == "total":
            total = int(count)
        elif kind == "district":
            by_district[key or NO_DISTRICT] = int(count)
        else:
            by_month[key] = int(count)
    return Active(total, by_district, by_month)


def reduction_tables(filters: Filters) -> list[Table]:
    month = month_of(Reduction.local_day)
    rows = db.session.execute(
        reductions_in(
            filters,
            Reduction.methodology_code,
            User.district,
            month,
            func.count(),
            func.sum(Reduction.credited_g),
            func.sum(Reduction.points),
        ).group_by(Reduction.methodology_code, User.district, month)
    ).all()
    by_action: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    by_district: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_month: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    total = [0, 0, 0]
    for code, district, mon, count, grams, points in rows:
        count, grams, points = int(count), int(grams or 0), int(points or 0)
        by_action[code][0] += count
        by_action[code][1] += grams
        by_action[code][2] += points
        key = district or NO_DISTRICT
        by_district[key][0] += count
        by_district[key][1] += grams
        by_month[mon][code] += grams
        by_month[mon]["#count"] += count
        total[0] += count
        total[1] += grams
        total[2] += points
    active = _active(filters)
    active_total, active_district, active_month = (
        active.total,
        active.by_district,
        active.by_month,
    )
    codes = _action_codes(set(by_action))

    actions = Table(
        "reductions_by_action",
        _l("Verified reductions by action type"),
        [
            Column("action", _l("Action code")),
            Column("action_name", _l("Action type")),
            Column("reductions", _l("Credited actions"), "int"),
            Column("reduction_g", _l("g CO2e"), "int"),
            Column("reduction_t", _l("t CO2e"), "tonnes"),
            Column("points", _l("Points"), "int"),
        ],
        [
            {
                "action": code,
                "action_name": action_name(code),
                "reductions": by_action[code][0],
                "reduction_g": by_action[code][1],
                "reduction_t": tonnes(by_action[code][1]),
                "points": by_action[code][2],
            }
            for code in codes
        ],
        {
            "action": TOTAL,
            "action_name": str(_l("Total")),
            "reductions": total[0],
            "reduction_g": total[1],
            "reduction_t": tonnes(total[1]),
            "points": total[2],
        },
    )
    districts = Table(
        "reductions_by_district",
        _l("Verified reductions by district"),
        [
            Column("district", _l("District")),
            Column("reductions", _l("Credited actions"), "int"),
            Column("reduction_g", _l("g CO2e"), "int"),
            Column("reduction_t", _l("t CO2e"), "tonnes"),
            Column("active_residents", _l("Active residents"), "int"),
        ],
        [
            {
                "district": d,
                "reductions": by_district[d][0],
                "reduction_g": by_district[d][1],
                "reduction_t": tonnes(by_district[d][1]),
                "active_residents": active_district.get(d, 0),
            }
            for d in _districts(filters, set(by_district))
        ],
        {
            "district": str(_l("Total")),
            "reductions": total[0],
            "reduction_g": total[1],
            "reduction_t": tonnes(total[1]),
            "active_residents": active_total,
        },
    )
    months = Table(
        "reductions_by_month",
        _l("Verified reductions by month (t CO2e)"),
        [Column("month", _l("Month"))]
        + [Column(f"{code}_t", action_name(code), "tonnes") for code in codes]
        + [
            Column("reduction_g", _l("Total g CO2e"), "int"),
            Column("reduction_t", _l("Total t CO2e"), "tonnes"),
            Column("reductions", _l("Credited actions"), "int"),
            Column("active_residents", _l("Active residents"), "int"),
        ],
        note=_l("Active residents in the total row are counted once over the whole period."),
    )
    for mon in filters.period.month_list():
        values = by_month.get(mon, {})
        grams = sum(v for k, v in values.items() if not k.startswith("#"))
        row: dict[str, Any] = {"month": mon}
        row.update({f"{code}_t": tonnes(values.get(code, 0)) for code in codes})
        row.update(
            reduction_g=grams,
            reduction_t=tonnes(grams),
            reductions=values.get("#count", 0),
            active_residents=active_month.get(mon, 0),
        )
        months.rows.append(row)
    months.total = {"month": str(_l("Total"))}
    months.total.update({f"{code}_t": tonnes(by_action[code][1]) for code in codes})
    months.total.update(
        reduction_g=total[1],
        reduction_t=tonnes(total[1]),
        reductions=total[0],
        active_residents=active_total,
    )
    return [actions, districts, months]


def versions_used_table(filters: Filters) -> Table:
    """The methodology versions the period's verified reductions were quantified with."""
    query = (
        reductions_in(
            filters,
            MethodologyVersion.code,
            MethodologyVersion.number,
            MethodologyVersion.params_hash,
            func.count(),
            func.sum(Reduction.credited_g),
        )
        .join(MethodologyVersion, MethodologyVersion.id == Reduction.version_id)
        .group_by(
            MethodologyVersion.code, MethodologyVersion.number, MethodologyVersion.params_hash
        )
        .order_by(MethodologyVersion.code, MethodologyVersion.number)
    )
    return Table(
        "versions_used",
        _l("Methodology versions applied in the period"),
        [
            Column("methodology", _l("Methodology")),
            Column("version", _l("Version")),
            Column("params_hash", _l("Parameter hash")),
            Column("reductions", _l("Credited actions"), "int"),
            Column("reduction_t", _l("t CO2e"), "tonnes"),
        ],
        [
            {
                "methodology": action_name(code),
                "version": f"v{number}",
                "params_hash": params_hash[:12],
                "reductions": int(count),
                "reduction_t": tonnes(int(grams or 0)),
            }
            for code, number, params_hash, count, grams in db.session.execute(query)
        ],
    )


# --- points ------------------------------------------------------------------------------

# (posting kind, account kind, sign): the postings each flow is made of, and the sign that
# makes it a positive number of points.
POINT_FLOWS: dict[str, list[tuple[EntryKind, AccountKind, int]]] = {
    "issued": [(EntryKind.CREDIT, AccountKind.RESIDENT, 1)],
    "redeemed": [
        (EntryKind.SETTLE, AccountKind.MERCHANT, 1),
        (EntryKind.REFUND, AccountKind.MERCHANT, 1),  # negative amounts: net of refunds
    ],
    "expired": [(EntryKind.EXPIRE, AccountKind.RESIDENT, -1)],
    "donated": [(EntryKind.DONATE, AccountKind.RESIDENT, -1)],
}


def points_table(filters: Filters) -> Table:
    month = local_month(Posting.created_at)
    wanted = {(pk, ak): (flow, sign) for flow, legs in POINT_FLOWS.items() for pk, ak, sign in legs}
    query = (
        select(month, Posting.kind, Account.kind, func.sum(Posting.amount))
        .select_from(Posting)
        .join(Account, Account.id == Posting.account_id)
        .where(
            Posting.created_at >= filters.period.start_utc,
            Posting.created_at < filters.period.end_utc,
            Posting.kind.in_({pk for pk, _ak in wanted}),
            Account.kind.in_({ak for _pk, ak in wanted}),
        )
        .group_by(month, Posting.kind, Account.kind)
    )
    if filters.district:
        query = query.join(LedgerEntry, LedgerEntry.id == Posting.entry_id)
        query = _in_district(query, filters, LedgerEntry.resident_id)
    flows: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(POINT_FLOWS, 0))
    for mon, posting_kind, account_kind, amount in db.session.execute(query):
        match = wanted.get((posting_kind, account_kind))
        if match is not None:
            flow, sign = match
            flows[mon][flow] += sign * int(amount or 0)
    table = Table(
        "points_by_month",
        _l("Points by month"),
        [
            Column("month", _l("Month")),
            Column("issued", _l("Issued"), "int"),
            Column("redeemed", _l("Redeemed"), "int"),
            Column("expired", _l("Expired"), "int"),
            Column("donated", _l("Donated"), "int"),
        ],
        note=_l("Points are counted in the month they were posted to the ledger (local time)."),
    )
    total: dict[str, Any] = {"month": str(_l("Total")), **dict.fromkeys(POINT_FLOWS, 0)}
    for mon in filters.period.month_list():
        row = {"month": mon, **flows.get(mon, dict.fromkeys(POINT_FLOWS, 0))}
        table.rows.append(row)
        for flow in POINT_FLOWS:
            total[flow] += row[flow]
    table.total = total
    return table


# --- residents ---------------------------------------------------------------------------


def residents_table(filters: Filters) -> Table:
    period = filters.period
    query = (
        select(
            User.district,
            func.count(),
            func.sum(case((User.created_at >= period.start_utc, 1), else_=0)),
            func.sum(case((User.suspended_at.is_not(None), 1), else_=0)),
        )
        .where(
            User.role == Role.RESIDENT,
            User.deleted_at.is_(None),
            User.created_at < period.end_utc,
        )
        .group_by(User.district)
    )
    if filters.district:
        query = query.where(User.district == filters.district)
    counts = {
        d or NO_DISTRICT: (int(n), int(new or 0), int(s or 0))
        for d, n, new, s in db.session.execute(query)
    }
    period_active = _active(filters)
    active = period_active.by_district
    table = Table(
        "residents_by_district",
        _l("Residents by district"),
        [
            Column("district", _l("District")),
            Column("registered", _l("Registered by the end of the period"), "int"),
            Column("new", _l("Registered in the period"), "int"),
            Column("active", _l("Active residents"), "int"),
            Column("suspended", _l("Suspended now"), "int"),
        ],
    )
    total: dict[str, Any] = {
        "district": str(_l("Total")),
        "registered": 0,
        "new": 0,
        "suspended": 0,
    }
    for district in _districts(filters, set(counts) | set(active)):
        registered, new, suspended = counts.get(district, (0, 0, 0))
        table.rows.append(
            {
                "district": district,
                "registered": registered,
                "new": new,
                "active": active.get(district, 0),
                "suspended": suspended,
            }
        )
        total["registered"] += registered
        total["new"] += new
        total["suspended"] += suspended
    total["active"] = period_active.total
    table.total = total
    return table


# --- partner batch health ------------------------------------------------------------------


def _reason_names(codes: set[str]) -> dict[str, str]:
    """Reason codes in the request's language: the platform's own, else the text a
    methodology stored with one of the records."""
    names = {code: _text(REASONS[code]) for code in codes if code in REASONS}
    for code in codes - set(names):
        stored = db.session.scalar(
            select(ActivityRecord.reason).where(ActivityRecord.reason_code == code).limit(1)
        )
        names[code] = _text(stored) if stored else code
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


# --- review queue and anomaly flags ----------------------------------------------------------

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
    query = _in_district(query, filters, ActivityRecord.resident_id)
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
        query = _in_district(query, filters, ActivityRecord.resident_id)
        counts = {outcome.value: int(n) for outcome, n in db.session.execute(query)}
        raised = sum(counts.values())
        known = counts.get("review", 0) + counts.get("credited", 0) + counts.get("rejected", 0)
        table.rows.append(
            {
                "flag": flag,
                "flag_name": _text(REASONS[flag]),
                "raised": raised,
                "in_review": counts.get("review", 0),
                "credited": counts.get("credited", 0),
                "rejected": counts.get("rejected", 0),
                "other": raised - known,
            }
        )
    return table


# --- the dashboard -----------------------------------------------------------------------


@dataclass
class Dashboard:
    filters: Filters
    generated_at: datetime
    tables: dict[str, Table]

    def total(self, table: str, column: str) -> Any:
        total = self.tables[table].total
        return None if total is None else total.get(column)

    @property
    def headline(self) -> dict[str, Any]:
        """The figures on the cards: the totals of the tables below them."""
        anomalies = self.tables["anomaly_flags"].rows
        return {
            "reduction_g": self.total("reductions_by_action", "reduction_g"),
            "reduction_t": self.total("reductions_by_action", "reduction_t"),
            "reductions": self.total("reductions_by_action", "reductions"),
            **{flow: self.total("points_by_month", flow) for flow in POINT_FLOWS},
            "active_residents": self.total("residents_by_district", "active"),
            "registered": self.total("residents_by_district", "registered"),
            "partner_records": self.total("partner_health", "records"),
            "rejection_rate": self.total("partner_health", "rejection_rate"),
            "review_waiting": self.total("review_queue", "waiting"),
            "review_oldest_hours": self.total("review_queue", "oldest_age_hours"),
            "anomalies": sum(row["raised"] for row in anomalies),
        }


# Which function makes which tables (a CSV export computes only its own group).
TABLE_GROUPS: list[tuple[tuple[str, ...], Callable[[Filters, datetime], list[Table]]]] = [
    (
        ("reductions_by_action", "reductions_by_district", "reductions_by_month"),
        lambda f, now: reduction_tables(f),
    ),
    (("points_by_month",), lambda f, now: [points_table(f)]),
    (("residents_by_district",), lambda f, now: [residents_table(f)]),
    (
        ("partner_health", "partner_rejections", "partner_daily"),
        lambda f, now: partner_tables(f, local(now).date()),
    ),
    (("review_queue",), lambda f, now: [review_table(f, now)]),
    (("anomaly_flags",), lambda f, now: [anomaly_table(f)]),
]
TABLE_NAMES = tuple(name for names, _make in TABLE_GROUPS for name in names)


def dashboard(filters: Filters, now: datetime | None = None) -> Dashboard:
    """Every figure of the dashboard for a period and (optionally) a district."""
    now = now or utcnow()
    tables = [table for _names, make in TABLE_GROUPS for table in make(filters, now)]
    return Dashboard(filters, now, {t.name: t for t in tables})


def dashboard_key(filters: Filters) -> tuple[str, str, Filters]:
    """The cache key of a dashboard: its tables carry names in the request's language."""
    return ("dashboard", current_lang(), filters)


def refresh_dashboard() -> int:
    """The periodic job: compute the default dashboard (this year, every district) in each
    language and put it in the shared cache, so no administrator waits for it. Returns how
    many were stored."""
    from flask_babel import force_locale

    from ..cache import store
    from .filters import default_filters

    filters = default_filters(local(utcnow()).date())
    for language in current_app.config["LANGUAGES"]:
        with force_locale(language):
            store(dashboard_key(filters), dashboard(filters))
    return len(current_app.config["LANGUAGES"])


def table(name: str, filters: Filters, now: datetime | None = None) -> Table:
    """One of the dashboard's tables (KeyError if there is none of that name)."""
    for names, make in TABLE_GROUPS:
        if name in names:
            return next(t for t in make(filters, now or utcnow()) if t.name == name)
    raise KeyError(name)


def programme_counts() -> dict[str, int]:
    residents = db.session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.RESIDENT, User.deleted_at.is_(None))
    )
    merchants = db.session.scalar(select(func.count()).select_from(Merchant))
    partners = db.session.scalar(select(func.count()).select_from(Partner))
    return {"residents": residents or 0, "merchants": merchants or 0, "partners": partners or 0}
