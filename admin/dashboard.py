"""Admin pages: the programme dashboard, its CSV exports, and the monthly and annual reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, redirect, render_template, request, url_for
from flask_babel import format_timedelta, gettext

from backend.cache import cached
from backend.config import DISTRICTS
from backend.errors import NotFound
from backend.reporting import charts, queries, reports
from backend.reporting.filters import InvalidFilters, default_filters, parse_filters
from backend.reporting.tables import cell_text, to_csv
from backend.timeutil import local, utcnow

from . import bp
from .views import NO_STORE, admin_only

bp.add_app_template_filter(lambda value, kind="text": cell_text(value, kind), "dash_cell")


def _today() -> Any:
    return local(utcnow()).date()


@bp.get("/")
@admin_only
def dashboard() -> Any:
    error = None
    try:
        filters = parse_filters(request.args, _today())
    except InvalidFilters as exc:
        filters, error = default_filters(_today()), exc.localized_message()
    # Seconds of aggregation at a city's volume (the tables, and the economics over every
    # posting): served as last computed, never computed on the request; a job keeps them fresh
    # (queries.refresh_dashboard, every 4 minutes) and computes a new view the first time.
    snapshot = queries.dashboard_snapshot(filters)
    econ = queries.economics_snapshot(_today())
    if snapshot is None:
        return render_template("admin/dashboard_pending.html", error=error), 202, NO_STORE
    dash = snapshot.value
    return render_template(
        "admin/dashboard.html",
        dash=dash,
        computed=_computed(snapshot.computed_at, snapshot.stale),
        # the charts are a pure function of the kept figures and the language: drawn once
        charts=cached(
            ("dashboard-charts", queries.dashboard_key(filters), snapshot.computed_at),
            lambda: charts.dashboard_charts(dash),
        ),
        definitions=queries.DEFINITIONS,
        econ=econ.value if econ is not None else None,
        error=error,
    ), (422 if error else 200)


def _computed(at: datetime, stale: bool) -> str:
    """When the figures were computed, in words ("computed 3 minutes ago")."""
    ago = format_timedelta(at - utcnow(), threshold=1, add_direction=True)
    if stale:
        return gettext("Figures computed %(ago)s; new ones are being computed.", ago=ago)
    return gettext("Figures computed %(ago)s.", ago=ago)


@bp.get("/export/<name>.csv")
@admin_only
def export_csv(name: str) -> Any:
    """Any table of the dashboard as CSV, for the same period and district: in the page's
    words for people, or with stable column keys and codes for scripts (``?columns=keys``)."""
    if name not in queries.TABLE_NAMES:
        raise NotFound()
    filters = parse_filters(request.args, _today())
    table = queries.table(name, filters)
    parts = [name, filters.period.first_month, filters.period.last_month]
    if filters.district:
        parts.append(f"d{DISTRICTS.index(filters.district) + 1}")
    return Response(
        to_csv(table, for_people=request.args.get("columns") != "keys"),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{"_".join(parts)}.csv"',
            "Cache-Control": "no-store",
        },
    )


@bp.get("/reports", endpoint="reports")
@admin_only
def reports_index() -> Any:
    chosen = (request.args.get("period") or "").strip()
    if chosen:
        reports.report_period(chosen)  # 404 with a message when it is not a month or year
        suffix = ".pdf" if request.args.get("format") == "pdf" else ""
        return redirect(url_for("admin.report", key=chosen) + suffix)
    today = _today()
    months = []
    year, month = today.year, today.month
    for _ in range(12):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    years = [f"{today.year - i:04d}" for i in range(3)]
    return render_template(
        "admin/reports/index.html",
        months=months,
        years=years,
    )


@bp.get("/reports/<key>")
@admin_only
def report(key: str) -> Any:
    context = reports.report_context(key)
    return render_template("admin/reports/page.html", body=reports.report_body(context), **context)


@bp.get("/reports/<key>.pdf")
@admin_only
def report_pdf(key: str) -> Any:
    context = reports.report_context(key)
    return Response(
        reports.report_pdf(context),
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="quzhou-carbon-report-{key}.pdf"',
            "Cache-Control": "no-store",
        },
    )
