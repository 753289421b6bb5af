"""SQL helpers of the reporting tables: a UTC timestamp's local calendar day and month, and
the districts and action codes a table lists."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    String,
    func,
    literal_column,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from ..accounts.models import User
from ..actions.catalogue import RESIDENT_ACTIONS
from ..config import DISTRICTS
from ..i18n import current_lang
from .filters import Filters

NO_DISTRICT = "—"


TOTAL = "total"


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


def text_of(value: Any) -> str:
    """A bilingual ``Text`` or {"zh_CN", "en"} dict in the request's language."""
    lang = current_lang()
    if hasattr(value, "get") and not isinstance(value, dict):
        return str(value.get(lang))
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("zh_CN") or "")
    return str(value)


def districts_of(filters: Filters, seen: set[str | None]) -> list[str]:
    """The districts to list: the one filtered on, or all six (and "—" if some residents
    have none)."""
    if filters.district:
        return [filters.district]
    return list(DISTRICTS) + ([NO_DISTRICT] if None in seen or NO_DISTRICT in seen else [])


def action_codes(seen: set[str]) -> list[str]:
    return list(RESIDENT_ACTIONS) + sorted(seen - set(RESIDENT_ACTIONS))


def in_district(query: Any, filters: Filters, resident_id: Any) -> Any:
    if filters.district:
        return query.join(User, User.id == resident_id).where(User.district == filters.district)
    return query
