"""The programme's activity tables: verified reductions (by action, district and month, and
the methodology versions used), points by flow and month, and residents by district."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    String,
    case,
    distinct,
    func,
    literal,
    select,
    union_all,
)

from ..accounts.models import Role, User
from ..actions.models import Reduction
from ..extensions import db
from ..i18n import action_name
from ..ledger.models import Account, AccountKind, EntryKind, LedgerEntry, Posting
from ..methodology_versions.models import MethodologyVersion
from .filters import Filters
from .sql import NO_DISTRICT, TOTAL, action_codes, districts_of, in_district, local_month, month_of
from .tables import Column, Table, tonnes


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
    codes = action_codes(set(by_action))

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
            for d in districts_of(filters, set(by_district))
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
        query = in_district(query, filters, LedgerEntry.resident_id)
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
    for district in districts_of(filters, set(counts) | set(active)):
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
