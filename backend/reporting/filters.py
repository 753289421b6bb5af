"""The period and district every dashboard figure, report and export is filtered by.

A period is a run of whole local (Asia/Shanghai) calendar months. Figures kept by local day
(reductions) compare day strings; figures kept as timestamps (postings, records, batches)
compare against the period's bounds in UTC, the local midnights that start and end it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask_babel import lazy_gettext as _l

from ..config import DISTRICTS
from ..errors import DomainError
from ..timeutil import LOCAL_TZ

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


class InvalidFilters(DomainError):
    code = "invalid_filters"
    status = 422
    message = _l(
        "Choose months as YYYY-MM (from no later than to, at most 10 years) and one of "
        "Quzhou's districts."
    )


def _month_start(year: int, month: int) -> date:
    return date(year, month, 1)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _local_midnight_utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """Whole local months from ``start`` (the 1st of a month) to ``end`` (a last day)."""

    start: date
    end: date

    @classmethod
    def months(cls, first: str, last: str) -> Period:
        a, b = MONTH_RE.match(first or ""), MONTH_RE.match(last or "")
        if a is None or b is None:
            raise InvalidFilters()
        try:
            start = _month_start(int(a[1]), int(a[2]))
            end = _next_month(_month_start(int(b[1]), int(b[2]))) - timedelta(days=1)
        except ValueError:
            raise InvalidFilters() from None
        if end < start or (end.year - start.year) > 10:
            raise InvalidFilters()
        return cls(start, end)

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        text = f"{year:04d}-{month:02d}"
        return cls.months(text, text)

    @classmethod
    def year(cls, year: int) -> Period:
        return cls.months(f"{year:04d}-01", f"{year:04d}-12")

    @property
    def first_month(self) -> str:
        return self.start.strftime("%Y-%m")

    @property
    def last_month(self) -> str:
        return self.end.strftime("%Y-%m")

    @property
    def first_day(self) -> str:
        return self.start.isoformat()

    @property
    def last_day(self) -> str:
        return self.end.isoformat()

    @property
    def start_utc(self) -> datetime:
        return _local_midnight_utc(self.start)

    @property
    def end_utc(self) -> datetime:
        """Exclusive: the local midnight after the last day."""
        return _local_midnight_utc(self.end + timedelta(days=1))

    def month_list(self) -> list[str]:
        out, day = [], self.start
        while day <= self.end:
            out.append(day.strftime("%Y-%m"))
            day = _next_month(day)
        return out

    def days_elapsed(self, today: date) -> int:
        """Days of the period up to and including ``today`` (at least 1): the divisor of
        per-day averages, so a month in progress is not diluted by days still to come."""
        last = min(self.end, today)
        return max(1, (last - self.start).days + 1)

    def label(self) -> str:
        if self.first_month == self.last_month:
            return self.first_month
        return f"{self.first_month} – {self.last_month}"


@dataclass(frozen=True)
class Filters:
    period: Period
    district: str | None = None

    def query_args(self) -> dict[str, str]:
        args = {"from": self.period.first_month, "to": self.period.last_month}
        if self.district:
            args["district"] = self.district
        return args


def default_filters(today: date) -> Filters:
    """This calendar year up to this month, every district."""
    return Filters(Period.months(f"{today.year:04d}-01", today.strftime("%Y-%m")))


def parse_filters(args: Mapping[str, str], today: date) -> Filters:
    """Filters from query arguments ``from``, ``to`` (YYYY-MM) and ``district``; missing
    values fall back to this year up to this month and every district."""
    default = default_filters(today)
    first = (args.get("from") or "").strip() or default.period.first_month
    last = (args.get("to") or "").strip() or default.period.last_month
    district = (args.get("district") or "").strip() or None
    if district is not None and district not in DISTRICTS:
        raise InvalidFilters(field="district")
    return Filters(Period.months(first, last), district)
