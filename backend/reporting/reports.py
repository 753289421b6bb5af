"""The monthly and annual programme reports (HTML page and PDF, in Chinese).

A report is the dashboard for one calendar month or year, with the methodology versions in
force and those the period's reductions were quantified with, rendered from
``admin/templates/admin/reports/``. The page and the PDF share one body; the PDF is made in
the request (a few hundred milliseconds) with WeasyPrint (``backend.pdf``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from ..errors import NotFound
from ..methodology_versions import queries as methodology_queries
from ..pdf import render_pdf
from ..timeutil import utcnow
from . import charts
from .activity import versions_used_table
from .filters import Filters, InvalidFilters, Period
from .queries import DEFINITIONS, Dashboard, dashboard

REPORT_CSS = Path(__file__).resolve().parent / "report.css"
PERIOD_RE = re.compile(r"^(\d{4})(?:-(\d{2}))?$")
REPORT_LOCALE = "zh_CN"


class UnknownReportPeriod(NotFound):
    code = "unknown_report_period"
    message = _l("Reports are for a month (YYYY-MM) or a year (YYYY).")


@dataclass(frozen=True)
class ReportPeriod:
    key: str  # "2026-02" or "2026"
    period: Period
    annual: bool


def report_period(key: str) -> ReportPeriod:
    match = PERIOD_RE.match(key or "")
    if match is None:
        raise UnknownReportPeriod()
    year = int(match[1])
    try:
        if match[2] is None:
            return ReportPeriod(key, Period.year(year), True)
        return ReportPeriod(key, Period.month(year, int(match[2])), False)
    except InvalidFilters:
        raise UnknownReportPeriod() from None


def report_context(
    key: str, district: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Everything a report shows, computed in Chinese (the report's language)."""
    chosen = report_period(key)
    filters = Filters(chosen.period, district)
    now = now or utcnow()
    with force_locale(REPORT_LOCALE):
        dash: Dashboard = dashboard(filters, now)
        context = {
            "report": chosen,
            "dash": dash,
            "headline": dash.headline,
            "charts": {
                "months": charts.reductions_by_month(dash, "report-months"),
                "districts": charts.reductions_by_district(dash, "report-districts"),
                "points": charts.points_by_month(dash, "report-points"),
            },
            "overview": methodology_queries.overview(),
            "versions_used": versions_used_table(filters),
            "definitions": DEFINITIONS,
            "generated_at": now,
        }
    return context


def report_body(context: dict[str, Any]) -> Markup:
    with force_locale(REPORT_LOCALE):
        return Markup(render_template("admin/reports/_programme_body.html", **context))  # noqa: S704 - rendered by Jinja with autoescape


def report_pdf(context: dict[str, Any]) -> bytes:
    with force_locale(REPORT_LOCALE):
        html = render_template(
            "admin/reports/programme_print.html", body=report_body(context), **context
        )
    return render_pdf(html, [REPORT_CSS])
