"""Read side of the reporting model: the programme dashboard and its tables.

Every figure is computed in this package from the source tables, in SQL aggregates, and
nowhere else: the dashboard, the CSV exports and the monthly and annual reports all show
these tables. The tables are made in ``activity`` (reductions, points, residents) and
``operations`` (partner batches, review queue, anomaly flags), with the SQL helpers of
``sql``; this module gathers them into the dashboard.

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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    func,
    select,
)

from ..accounts.models import Role, User
from ..cache import store
from ..extensions import db
from ..i18n import current_lang
from ..merchants.models import Merchant
from ..partners.models import Partner
from ..timeutil import local, utcnow
from .activity import POINT_FLOWS, points_table, reduction_tables, residents_table
from .filters import Filters, default_filters
from .operations import anomaly_table, partner_tables, review_table
from .tables import Table

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
