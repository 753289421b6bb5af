"""Programme economics for administrators: what the points outstanding owe, and when the
budget runs out at the current pace.

* **Outstanding points** = issued − redeemed (net of refunds) − expired − donated, from the
  ledger (the same flows as the dashboard's points table, ``queries.POINT_FLOWS``): what
  residents could still redeem (their balances and the points held for open redemptions).
* **Liability in yuan**: where the city funds redemptions at an agreed yuan-per-point rate
  per merchant or offer (``rewards.queries.funding_rate``), the outstanding points at the
  average funded rate of the points redeemed in the last 90 days (Σ funded yuan ÷ Σ points
  redeemed): what redeeming them all would cost at today's mix of merchants.
* **Rates** over the last 90 days: redeemed ÷ issued and expired ÷ issued.
* **Forecast**: the next 12 calendar months at the last 90 days' daily pace (each flow ÷ 90 ×
  the month's days): points issued, redeemed, expired, donated, outstanding at each month's
  end, and the funded yuan. With an annual budget (``annual_budget_yuan``, a programme
  setting; budget years are calendar years), the month the year's funded redemptions —
  spent so far plus the forecast — first exceed it.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select

from ..extensions import db
from ..ledger.models import Account, Posting
from ..rewards.queries import settlement_rows
from ..settings.services import get_setting
from ..timeutil import LOCAL_TZ, local, utcnow
from .activity import POINT_FLOWS

WINDOW_DAYS = 90
FORECAST_MONTHS = 12
FEN = Decimal("0.01")
FLOWS = tuple(POINT_FLOWS)  # issued, redeemed, expired, donated


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=LOCAL_TZ)


def point_flows(start: datetime | None, end: datetime) -> dict[str, int]:
    """Points issued, redeemed (net of refunds), expired and donated in [start, end)."""
    wanted = {(pk, ak): (flow, sign) for flow, legs in POINT_FLOWS.items() for pk, ak, sign in legs}
    query = (
        select(Posting.kind, Account.kind, func.sum(Posting.amount))
        .select_from(Posting)
        .join(Account, Account.id == Posting.account_id)
        .where(
            Posting.created_at < end,
            Posting.kind.in_({pk for pk, _ak in wanted}),
            Account.kind.in_({ak for _pk, ak in wanted}),
        )
        .group_by(Posting.kind, Account.kind)
    )
    if start is not None:
        query = query.where(Posting.created_at >= start)
    out = dict.fromkeys(FLOWS, 0)
    for posting_kind, account_kind, amount in db.session.execute(query):
        match = wanted.get((posting_kind, account_kind))
        if match is not None:
            flow, sign = match
            out[flow] += sign * int(amount or 0)
    return out


def funded_yuan(start: datetime, end: datetime) -> tuple[Decimal, int]:
    """Yuan the city funds for the redemptions settled in [start, end) (net of refunds),
    and the points they settled."""
    rows = settlement_rows(None, start, end)
    return sum((r.funded_yuan for r in rows), Decimal(0)), sum(r.points for r in rows)


def outstanding(flows: Mapping[str, int]) -> int:
    return flows["issued"] - flows["redeemed"] - flows["expired"] - flows["donated"]


@dataclass(frozen=True)
class MonthForecast:
    month: str  # YYYY-MM
    flows: dict[str, int]
    outstanding_end: int
    funded_yuan: Decimal
    budget_left_yuan: Decimal | None  # of that month's budget year, at the month's end


@dataclass(frozen=True)
class Economics:
    as_of: date  # the last local day counted
    totals: dict[str, int]  # all-time flows
    window: dict[str, int]  # the last WINDOW_DAYS days
    window_funded_yuan: Decimal
    window_redeemed_points: int
    budget_yuan: int | None
    spent_this_year_yuan: Decimal
    forecast: list[MonthForecast] = field(default_factory=list)
    runs_out: str | None = None  # YYYY-MM, or None if the budget lasts the forecast

    @property
    def outstanding(self) -> int:
        return outstanding(self.totals)

    @property
    def yuan_per_point(self) -> Decimal:
        """Average funded yuan per point redeemed in the window (0 without redemptions)."""
        if not self.window_redeemed_points:
            return Decimal(0)
        return self.window_funded_yuan / self.window_redeemed_points

    @property
    def liability_yuan(self) -> Decimal:
        return (self.outstanding * self.yuan_per_point).quantize(FEN, rounding=ROUND_HALF_UP)

    def rate(self, flow: str) -> Decimal | None:
        """``flow`` ÷ issued over the window (None when nothing was issued)."""
        if not self.window["issued"]:
            return None
        return Decimal(self.window[flow]) / Decimal(self.window["issued"])


def _months_after(day: date, count: int) -> list[tuple[int, int]]:
    out, year, month = [], day.year, day.month
    for _ in range(count):
        month += 1
        if month > 12:
            year, month = year + 1, 1
        out.append((year, month))
    return out


def economics(today: date | None = None) -> Economics:
    """The programme's points liability, rates and 12-month forecast, up to ``today``
    (local; the window is the WINDOW_DAYS days ending with it)."""
    today = today or local(utcnow()).date()
    end = _start_of(today + timedelta(days=1))
    start = end - timedelta(days=WINDOW_DAYS)
    totals = point_flows(None, end)
    window = point_flows(start, end)
    window_yuan, window_points = funded_yuan(start, end)
    spent, _settled = funded_yuan(_start_of(date(today.year, 1, 1)), end)
    budget = get_setting("annual_budget_yuan") or None
    per_day = {flow: Decimal(window[flow]) / WINDOW_DAYS for flow in FLOWS}
    yuan_per_day = window_yuan / WINDOW_DAYS
    # the rest of this month first, then twelve whole months
    left_this_month = calendar.monthrange(today.year, today.month)[1] - today.day
    balance = Decimal(outstanding(totals)) + left_this_month * (
        per_day["issued"] - per_day["redeemed"] - per_day["expired"] - per_day["donated"]
    )
    year_spent = {today.year: spent + left_this_month * yuan_per_day}
    runs_out = None
    if budget is not None and year_spent[today.year] > budget:
        runs_out = f"{today.year:04d}-{today.month:02d}"
    forecast = []
    for year, month in _months_after(today, FORECAST_MONTHS):
        days = calendar.monthrange(year, month)[1]
        flows = {flow: _points(per_day[flow] * days) for flow in FLOWS}
        balance += days * (
            per_day["issued"] - per_day["redeemed"] - per_day["expired"] - per_day["donated"]
        )
        yuan = (yuan_per_day * days).quantize(FEN, rounding=ROUND_HALF_UP)
        year_spent[year] = year_spent.get(year, Decimal(0)) + yuan_per_day * days
        left = None
        if budget is not None:
            left = (budget - year_spent[year]).quantize(FEN, rounding=ROUND_HALF_UP)
            if left < 0 and runs_out is None:
                runs_out = f"{year:04d}-{month:02d}"
        forecast.append(
            MonthForecast(f"{year:04d}-{month:02d}", flows, _points(balance), yuan, left)
        )
    return Economics(
        as_of=today,
        totals=totals,
        window=window,
        window_funded_yuan=window_yuan,
        window_redeemed_points=window_points,
        budget_yuan=budget,
        spent_this_year_yuan=spent,
        forecast=forecast,
        runs_out=runs_out,
    )


def _points(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))
