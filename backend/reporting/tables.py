"""Tables: what the dashboard and the report show, and what the CSV exports contain.

One ``Table`` serves all three, so an export always has the rows and figures on screen. Cells
hold exact values (integers, ``Decimal``); columns say how to show them. Tonnes are derived
from integer grams and shown with six decimals, so no gram is ever rounded away.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ..timeutil import local

G_PER_T = Decimal(1_000_000)
TONNES_PLACES = Decimal("0.000001")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def tonnes(grams: int | None) -> Decimal:
    """Integer grams as tonnes: exact, because a gram is 0.000001 t."""
    return (Decimal(grams or 0) / G_PER_T).quantize(TONNES_PLACES)


def percent(part: int, whole: int) -> Decimal | None:
    """``part`` of ``whole`` in percent, one decimal, rounded half up (None when whole is 0)."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def per_day(count: int, days: int) -> Decimal:
    return (Decimal(count) / Decimal(days)).quantize(Decimal("0.01"), ROUND_HALF_UP)


@dataclass(frozen=True)
class Column:
    key: str
    label: Any  # a lazy msgid: shown in the page's language
    kind: str = "text"  # text | int | tonnes | percent | decimal | datetime | hours
    code: bool = False  # a stable code beside its name column: only in the scripts' CSV

    @property
    def numeric(self) -> bool:
        return self.kind not in ("text", "datetime")


@dataclass
class Table:
    name: str  # stable: the CSV file name
    title: Any
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: dict[str, Any] | None = None  # shown last, in bold; also the CSV's last row
    note: Any = None

    def all_rows(self) -> list[dict[str, Any]]:
        return self.rows + ([self.total] if self.total is not None else [])

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)


def cell_text(value: Any, kind: str) -> str:
    """A cell as people read it (thousands separators, units left to the header)."""
    if value is None:
        return "—"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "tonnes":
        return f"{Decimal(value):,.6f}"
    if kind == "percent":
        return f"{Decimal(value):.1f}%"
    if kind == "decimal":
        return f"{Decimal(value):,.2f}"
    if kind == "hours":
        return f"{Decimal(value):,.1f}"
    if kind == "datetime" and isinstance(value, datetime):
        return local(value).strftime("%Y-%m-%d %H:%M")
    return str(value)


def _csv_text(text: str) -> str:
    return "'" + text if text[:1] in FORMULA_START else text


def _csv_value(value: Any, kind: str, for_people: bool = False) -> str:
    if value is None:
        return ""
    if kind == "tonnes":
        return f"{Decimal(value):.6f}"
    if kind == "percent":
        return f"{Decimal(value):.1f}"
    if kind in ("decimal",):
        return f"{Decimal(value):.2f}"
    if kind == "hours":
        return f"{Decimal(value):.1f}"
    if kind == "datetime" and isinstance(value, datetime):
        if for_people:
            return local(value).strftime("%Y-%m-%d %H:%M")
        return local(value).isoformat(timespec="seconds")
    text = str(value)
    if kind == "text":
        return _csv_text(text)  # a spreadsheet must not run a partner's name as a formula
    return text


def to_csv(table: Table, *, for_people: bool = True) -> str:
    """The table as CSV (UTF-8 with a BOM so spreadsheet programs read the Chinese), every row,
    the total last. For people (the default): a header of the columns' names in the request's
    language, the same words as the page (no code columns), times in Beijing time to the
    minute. For scripts (``for_people=False``): a header of stable column keys, the codes
    too, times as ISO 8601 with their offset."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    columns = [c for c in table.columns if not (for_people and c.code)]
    writer.writerow([_csv_text(str(c.label)) if for_people else c.key for c in columns])
    for row in table.all_rows():
        writer.writerow([_csv_value(row.get(c.key), c.kind, for_people) for c in columns])
    return out.getvalue()
