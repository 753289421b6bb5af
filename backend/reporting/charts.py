"""The dashboard's and the reports' charts: pygal SVG rendered on the server, no script.

``backend.charts.clean_svg`` strips pygal's script, styles and tooltips (the CSP allows
neither inline scripts nor inline styles). The colours are then written as SVG presentation
attributes (``fill``, ``stroke``), which the CSP allows and WeasyPrint understands, so the
same chart looks the same on the page and in the PDF. Each chart has a title and a text
description, and the page shows its data as a table next to it.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own pygal output only
from decimal import Decimal
from typing import Any

import pygal
from flask_babel import gettext as _
from markupsafe import Markup
from pygal.style import Style

from ..charts import SVG_NS, clean_svg
from .activity import POINT_FLOWS
from .queries import Dashboard

# Dark enough for 3:1 against white (WCAG 1.4.11), distinguishable with colour-blindness.
PALETTE = ("#1f7a4d", "#2f6fb0", "#b35900", "#7a4d9c", "#a33b3b", "#3d7f7f")
INK, MUTED, GUIDE, AXIS = "#1d2521", "#55605a", "#d5ddd8", "#8a958f"
FONT = "Noto Sans CJK SC, WenQuanYi Micro Hei, PingFang SC, Microsoft YaHei, sans-serif"
LABEL_SIZE, LEGEND_SIZE = 16, 17


def _style() -> Any:
    """Font sizes pygal lays the chart out with (the same as ``_paint`` writes)."""
    return Style(
        font_family=FONT,
        label_font_size=LABEL_SIZE,
        major_label_font_size=LABEL_SIZE,
        legend_font_size=LEGEND_SIZE,
        title_font_size=LEGEND_SIZE,
        colors=PALETTE,
    )


def _options(**extra: Any) -> dict[str, Any]:
    return {
        "style": _style(),
        "disable_xml_declaration": True,
        "js": [],
        "css": [],
        "no_prefix": True,
        "explicit_size": False,
        "width": 800,
        "height": 360,
        "margin": 10,
        "spacing": 10,
        "dynamic_print_values": False,
        "legend_at_bottom": True,
        "legend_box_size": 16,
        "truncate_legend": -1,
        "truncate_label": -1,
        **extra,
    }


def _classes(element: ET.Element) -> list[str]:
    return (element.get("class") or "").split()


def _color_index(classes: list[str]) -> int | None:
    for name in classes:
        if name.startswith("color-") and name[6:].isdigit():
            return int(name[6:]) % len(PALETTE)
    return None


def _paint(svg: Markup) -> Markup:
    """Colours, lines and text sizes as presentation attributes; no ids inside (several
    charts share a page)."""
    ET.register_namespace("", SVG_NS)
    root = ET.fromstring(str(svg))  # noqa: S314 - our own pygal output, not user input
    root.set("font-family", FONT)
    parents = {child: parent for parent in root.iter() for child in parent}
    # horizontal charts put the categories (the x axis) on the left
    horizontal = any("horizontal" in _classes(e) for e in root.iter())
    left_axis = "x" if horizontal else "y"
    for element in list(root.iter()):
        tag = element.tag.rsplit("}", 1)[-1]
        classes = _classes(element)
        if element is not root and element.get("id", "").startswith("activate-serie"):
            element.attrib.pop("id")
        if tag == "title" and parents.get(element) is not root:
            parents[element].remove(element)
            continue
        ancestors = []
        node = parents.get(element)
        while node is not None:
            ancestors.extend(_classes(node))
            node = parents.get(node)
        color = _color_index(classes)
        if color is None:
            color = _color_index(ancestors)
        if tag == "rect" and "background" in classes:
            element.set("fill", "#ffffff")
        elif tag == "rect" and color is not None:
            element.set("fill", PALETTE[color])
        elif tag == "path" and "guide" in classes:
            element.set("stroke", AXIS if "major" in classes else GUIDE)
            element.set("fill", "none")
        elif tag == "path" and "line" in classes and color is not None:
            element.set("stroke", PALETTE[color])
            element.set("stroke-width", "3")
            element.set("fill", "none")
        elif tag == "path" and "line" in classes:
            element.set("stroke", AXIS)
            element.set("fill", "none")
        elif tag == "circle" and color is not None:
            element.set("fill", PALETTE[color])
        elif tag == "text":
            element.set("fill", INK if "legends" in ancestors else MUTED)
            element.set("font-size", str(LEGEND_SIZE if "legends" in ancestors else LABEL_SIZE))
            if "axis" in ancestors and left_axis in ancestors:
                element.set("text-anchor", "end")
            elif "axis" in ancestors:
                element.set("text-anchor", "middle")
    return Markup(ET.tostring(root, encoding="unicode"))  # noqa: S704 - escaped by ElementTree


def _tonnes_formatter(values: list[float]) -> Any:
    """Axis labels with enough decimals that neighbouring ticks differ (0.0005 t steps need
    four, thousands of tonnes none)."""
    top = max([abs(v) for v in values] + [0.0])
    places = 0 if top <= 0 else min(6, max(0, 1 - math.floor(math.log10(top / 5))))
    return lambda v: f"{v:,.{places}f}"


def _t(value: Any) -> float:
    return float(Decimal(value or 0))  # chart coordinates only; the tables carry exact values


def _render(chart: Any, title: str, description: str, element_id: str) -> Markup:
    return _paint(
        clean_svg(chart.render(is_unicode=True), title, description, element_id=element_id)
    )


def _month_labels(chart: Any, months: list[str]) -> None:
    """Every month labelled when they fit, else every second or third one."""
    chart.x_labels = months
    if len(months) > 8:
        chart.show_minor_x_labels = False
        chart.x_labels_major = months[:: (len(months) + 7) // 8]


def reductions_by_month(dash: Dashboard, element_id: str = "chart-months") -> Markup:
    """Stacked bars: tonnes CO2e per month, one colour per action type."""
    table = dash.tables["reductions_by_month"]
    action_columns = [c for c in table.columns if c.key.endswith("_t") and c.key != "reduction_t"]
    totals = [_t(row["reduction_t"]) for row in table.rows]
    chart = pygal.StackedBar(
        **_options(show_legend=True, value_formatter=_tonnes_formatter(totals), y_title=_("t CO2e"))
    )
    _month_labels(chart, [row["month"] for row in table.rows])
    for column in action_columns:
        chart.add(str(column.label), [_t(row[column.key]) for row in table.rows])
    title = _("Verified reductions by month")
    description = _(
        "t CO2e per month from %(first)s to %(last)s, stacked by action type; %(total)s t in "
        "all. The table below gives the exact figures.",
        first=dash.filters.period.first_month,
        last=dash.filters.period.last_month,
        total=table.total["reduction_t"] if table.total else 0,
    )
    return _render(chart, title, description, element_id)


def reductions_by_district(dash: Dashboard, element_id: str = "chart-districts") -> Markup:
    table = dash.tables["reductions_by_district"]
    rows = list(reversed(table.rows))  # pygal draws the first label at the bottom
    chart = pygal.HorizontalBar(
        **_options(
            show_legend=False,
            height=300,
            y_title=_("t CO2e"),
            value_formatter=_tonnes_formatter([_t(row["reduction_t"]) for row in rows]),
        )
    )
    chart.x_labels = [row["district"] for row in rows]
    chart.add(_("t CO2e"), [_t(row["reduction_t"]) for row in rows])
    title = _("Verified reductions by district")
    description = _(
        "t CO2e per district: %(values)s.",
        values="; ".join(f"{row['district']} {row['reduction_t']}" for row in table.rows),
    )
    return _render(chart, title, description, element_id)


def points_by_month(dash: Dashboard, element_id: str = "chart-points") -> Markup:
    table = dash.tables["points_by_month"]
    chart = pygal.Bar(**_options(show_legend=True, value_formatter=lambda v: f"{v:,.0f}"))
    _month_labels(chart, [row["month"] for row in table.rows])
    for flow in POINT_FLOWS:
        chart.add(str(table.column(flow).label), [row[flow] for row in table.rows])
    total = table.total or {}
    title = _("Points by month")
    description = _(
        "Points issued, redeemed, expired and donated per month; in all %(issued)s issued, "
        "%(redeemed)s redeemed, %(expired)s expired and %(donated)s donated.",
        **{flow: f"{total.get(flow, 0):,}" for flow in POINT_FLOWS},
    )
    return _render(chart, title, description, element_id)


def partner_records_per_day(dash: Dashboard, element_id: str = "chart-partners") -> Markup | None:
    """One line per partner: records received per day (days without records are zero)."""
    daily = dash.tables["partner_daily"].rows
    if not daily:
        return None
    days = sorted({row["day"] for row in daily})
    if len(days) < 2:
        return None  # one day is a number, not a trend: the table says it
    per_partner: dict[str, dict[str, int]] = {}
    for row in daily:
        per_partner.setdefault(row["partner"], {})[row["day"]] = row["records"]
    step = max(1, len(days) // 8)
    chart = pygal.Line(
        **_options(
            show_legend=True,
            show_dots=len(days) <= 31,
            dots_size=3,
            show_minor_x_labels=False,
            value_formatter=lambda v: f"{v:,.0f}",
        )
    )
    chart.x_labels = days
    chart.x_labels_major = days[::step]
    for code, counts in sorted(per_partner.items()):
        chart.add(code, [counts.get(day, 0) for day in days])
    title = _("Partner records per day")
    description = _(
        "Records received per day from %(n)s partners between %(first)s and %(last)s.",
        n=len(per_partner),
        first=days[0],
        last=days[-1],
    )
    return _render(chart, title, description, element_id)


def dashboard_charts(dash: Dashboard) -> dict[str, Markup | None]:
    return {
        "months": reductions_by_month(dash),
        "districts": reductions_by_district(dash),
        "points": points_by_month(dash),
        "partners": partner_records_per_day(dash),
    }
