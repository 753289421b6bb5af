"""Every dashboard figure and every CSV cell, against the known programme in dataset.py.

Worked by hand (1 point per gram; periods are local months):
  reductions 2026-01: A 1,200 transit + A 800 bike = 2,000 g
  reductions 2026-02: B 2,500 waste + C 3,000 transit + C 450 food (local day 02-01) = 5,950 g
  B's 600 g of 2023-12 is outside the period.
  points issued by posting month: Jan 2,000; Feb 5,950 (C's 450 posted 01-31 16:30 UTC is
  02-01 00:30 local, so February); redeemed Feb 300 + 1,000 - 1,000 (refund) = 300;
  expired Jan 600; donated Feb 150.
  bus-co: 6 records in the period (2 credited, 3 rejected, 1 unmatched): 3 / 6 = 50.0 %,
  6 / 59 days = 0.1017 -> 0.10 per day; daily_limit_reached 2 / 6 = 33.3 %, malformed 1 / 6 =
  16.7 %.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from flask_babel import gettext

import methodologies
from backend.actions.reasons import REASONS
from backend.reporting import queries
from backend.reporting.filters import Filters, InvalidFilters, Period, parse_filters
from backend.reporting.operations import REVIEW_CATEGORIES

from .dataset import NOW

JAN_FEB = {"from": "2026-01", "to": "2026-02"}


def zh(code: str) -> str:
    return methodologies.registry.get_class(code).name.zh_CN


@pytest.fixture
def zh_context(app):
    with app.test_request_context("/admin/", headers={"Accept-Language": "zh-CN"}):
        yield


def expected_csvs() -> dict[str, list[list[str]]]:
    total = gettext("Total")
    return {
        "reductions_by_action": [
            ["action", "action_name", "reductions", "reduction_g", "reduction_t", "points"],
            ["public_transit", zh("public_transit"), "2", "4200", "0.004200", "4200"],
            ["bike_sharing", zh("bike_sharing"), "1", "800", "0.000800", "800"],
            ["waste_sorting", zh("waste_sorting"), "1", "2500", "0.002500", "2500"],
            ["food_waste", zh("food_waste"), "1", "450", "0.000450", "450"],
            ["total", total, "5", "7950", "0.007950", "7950"],
        ],
        "reductions_by_district": [
            ["district", "reductions", "reduction_g", "reduction_t", "active_residents"],
            ["柯城区", "3", "4500", "0.004500", "2"],
            ["衢江区", "0", "0", "0.000000", "0"],
            ["龙游县", "0", "0", "0.000000", "0"],
            ["江山市", "2", "3450", "0.003450", "1"],
            ["常山县", "0", "0", "0.000000", "0"],
            ["开化县", "0", "0", "0.000000", "0"],
            [total, "5", "7950", "0.007950", "3"],
        ],
        "reductions_by_month": [
            [
                "month",
                "public_transit_t",
                "bike_sharing_t",
                "waste_sorting_t",
                "food_waste_t",
                "reduction_g",
                "reduction_t",
                "reductions",
                "active_residents",
            ],
            [
                "2026-01",
                "0.001200",
                "0.000800",
                "0.000000",
                "0.000000",
                "2000",
                "0.002000",
                "2",
                "1",
            ],
            [
                "2026-02",
                "0.003000",
                "0.000000",
                "0.002500",
                "0.000450",
                "5950",
                "0.005950",
                "3",
                "2",
            ],
            [total, "0.004200", "0.000800", "0.002500", "0.000450", "7950", "0.007950", "5", "3"],
        ],
        "points_by_month": [
            ["month", "issued", "redeemed", "expired", "donated"],
            ["2026-01", "2000", "0", "600", "0"],
            ["2026-02", "5950", "300", "0", "150"],
            [total, "7950", "300", "600", "150"],
        ],
        "residents_by_district": [
            ["district", "registered", "new", "active", "suspended"],
            ["柯城区", "2", "0", "2", "0"],
            ["衢江区", "1", "1", "0", "1"],
            ["龙游县", "0", "0", "0", "0"],
            ["江山市", "1", "1", "1", "0"],
            ["常山县", "0", "0", "0", "0"],
            ["开化县", "0", "0", "0", "0"],
            [total, "4", "2", "3", "1"],
        ],
        "partner_health": [
            [
                "partner",
                "partner_name",
                "records",
                "credited",
                "rejected",
                "unmatched",
                "duplicate",
                "in_review",
                "pending",
                "rejection_rate",
                "records_per_day",
                "batches",
                "failed_batches",
            ],
            [
                "bus-co",
                "Partner bus-co",
                "6",
                "2",
                "3",
                "1",
                "0",
                "0",
                "0",
                "50.0",
                "0.10",
                "2",
                "1",
            ],
            [
                "waste-co",
                "Partner waste-co",
                "0",
                "0",
                "0",
                "0",
                "0",
                "0",
                "0",
                "",
                "0.00",
                "0",
                "0",
            ],
            ["total", total, "6", "2", "3", "1", "0", "0", "0", "50.0", "0.10", "2", "1"],
        ],
        "partner_rejections": [
            ["partner", "reason_code", "reason", "records", "share"],
            ["bus-co", "daily_limit_reached", REASONS["daily_limit_reached"].zh_CN, "2", "33.3"],
            ["bus-co", "malformed_record", REASONS["malformed_record"].zh_CN, "1", "16.7"],
        ],
        "partner_daily": [
            ["partner", "day", "records"],
            ["bus-co", "2026-01-10", "1"],
            ["bus-co", "2026-02-20", "3"],
            ["bus-co", "2026-02-21", "2"],
        ],
        "review_queue": [
            [
                "category",
                "category_name",
                "waiting",
                "under_1_day",
                "days_1_to_3",
                "days_3_to_7",
                "over_7_days",
                "oldest",
                "oldest_age_hours",
            ],
            [
                "appeal",
                str(REVIEW_CATEGORIES["appeal"]),
                "1",
                "0",
                "1",
                "0",
                "0",
                "2026-02-27T12:00:00+08:00",
                "48.0",
            ],
            [
                "burst",
                str(REVIEW_CATEGORIES["burst"]),
                "1",
                "0",
                "0",
                "0",
                "1",
                "2026-01-05T10:00:00+08:00",
                "1322.0",
            ],
            [
                "self_report",
                str(REVIEW_CATEGORIES["self_report"]),
                "1",
                "1",
                "0",
                "0",
                "0",
                "2026-03-01T10:00:00+08:00",
                "2.0",
            ],
            ["total", total, "3", "1", "1", "0", "1", "2026-01-05T10:00:00+08:00", "1322.0"],
        ],
        "anomaly_flags": [
            ["flag", "flag_name", "raised", "in_review", "credited", "rejected", "other"],
            ["burst", REASONS["burst"].zh_CN, "2", "1", "0", "1", "0"],
            ["verifier_outlier", REASONS["verifier_outlier"].zh_CN, "2", "1", "1", "0", "0"],
        ],
    }


def _csv_rows(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")  # a BOM, so spreadsheet programs read UTF-8
    return list(csv.reader(io.StringIO(text[1:])))


def test_every_csv_cell(client, auth, programme, frozen_now, zh_context):
    expected = expected_csvs()
    assert set(expected) == set(queries.TABLE_NAMES)
    auth.login_page(programme.admin, admin=True)
    for name, rows in expected.items():
        response = client.get(f"/admin/export/{name}.csv", query_string=JAN_FEB)
        assert response.status_code == 200, name
        assert response.mimetype == "text/csv"
        assert f"{name}_2026-01_2026-02.csv" in response.headers["Content-Disposition"]
        assert _csv_rows(response.get_data(as_text=True)) == rows, name


def test_every_dashboard_figure(programme, zh_context):
    dash = queries.dashboard(Filters(Period.months("2026-01", "2026-02")), NOW)
    assert dash.headline == {
        "reduction_g": 7950,
        "reduction_t": Decimal("0.007950"),
        "reductions": 5,
        "issued": 7950,
        "redeemed": 300,
        "expired": 600,
        "donated": 150,
        "active_residents": 3,
        "registered": 4,
        "partner_records": 6,
        "rejection_rate": Decimal("50.0"),
        "review_waiting": 3,
        "review_oldest_hours": Decimal("1322.0"),
        "anomalies": 4,
    }
    # the tables on the page are the CSVs' rows (same objects, formatted)
    for name, rows in expected_csvs().items():
        from backend.reporting.tables import to_csv

        assert _csv_rows(to_csv(dash.tables[name])) == rows, name


def test_the_dashboard_page_shows_the_figures(client, auth, programme, frozen_now):
    auth.login_page(programme.admin, admin=True)
    page = client.get("/admin/", query_string=JAN_FEB)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for figure in ("0.007950", "7,950", "5,950", "4,500", "3,450", "50.0%", "0.10", "1,322.0"):
        assert figure in html, figure
    assert html.count("<svg") >= 4 and "<script" not in html.split("</main>")[0].split("<main")[1]
    assert 'role="img"' in html and "chart-months-title" in html
    for name in queries.TABLE_NAMES:
        assert f"/admin/export/{name}.csv?" in html, name


def test_district_filter(programme, zh_context):
    dash = queries.dashboard(Filters(Period.months("2026-01", "2026-02"), "柯城区"), NOW)
    by_action = {r["action"]: r["reduction_g"] for r in dash.tables["reductions_by_action"].rows}
    assert by_action == {
        "public_transit": 1200,
        "bike_sharing": 800,
        "waste_sorting": 2500,
        "food_waste": 0,
    }
    assert [r["district"] for r in dash.tables["reductions_by_district"].rows] == ["柯城区"]
    h = dash.headline
    assert (h["reduction_g"], h["issued"], h["redeemed"], h["expired"], h["donated"]) == (
        4500,
        4500,
        300,
        600,
        150,
    )
    assert (h["active_residents"], h["registered"], h["review_waiting"]) == (2, 2, 2)
    flags = {r["flag"]: r["raised"] for r in dash.tables["anomaly_flags"].rows}
    assert flags == {"burst": 1, "verifier_outlier": 2}
    # partner health is programme-wide: unmatched records have no district
    assert h["partner_records"] == 6
    months = {r["month"]: r["issued"] for r in dash.tables["points_by_month"].rows}
    assert months == {"2026-01": 2000, "2026-02": 2500}


def test_period_filter(programme, zh_context):
    dash = queries.dashboard(Filters(Period.months("2026-02", "2026-02")), NOW)
    h = dash.headline
    assert (h["reduction_g"], h["reductions"], h["issued"], h["redeemed"]) == (5950, 3, 5950, 300)
    assert (h["expired"], h["donated"], h["active_residents"]) == (0, 150, 2)
    # 5 records in February (the 03-01 00:10 local one is March): 3 rejected = 60.0 %
    health = dash.tables["partner_health"].rows[0]
    assert (health["records"], health["rejection_rate"]) == (5, Decimal("60.0"))
    assert health["records_per_day"] == Decimal("0.18")  # 5 / 28
    assert [r["month"] for r in dash.tables["reductions_by_month"].rows] == ["2026-02"]
    flags = {r["flag"]: r["raised"] for r in dash.tables["anomaly_flags"].rows}
    assert flags == {"burst": 1, "verifier_outlier": 1}
    # a year before any activity: zeros everywhere, the six districts still listed
    empty = queries.dashboard(Filters(Period.year(2024)), NOW)
    assert empty.headline["reduction_g"] == 0 and empty.headline["issued"] == 0
    assert len(empty.tables["reductions_by_district"].rows) == 6


@pytest.mark.parametrize(
    "args",
    [
        {"from": "2026-13", "to": "2026-12"},
        {"from": "2026-03", "to": "2026-01"},
        {"from": "20260", "to": "2026-01"},
        {"district": "上海市"},
        {"from": "2000-01", "to": "2026-01"},
    ],
)
def test_bad_filters_are_refused(client, auth, make, args):
    with pytest.raises(InvalidFilters):
        parse_filters(args, NOW.date())
    auth.login_page(make.user("admin"), admin=True)
    assert client.get("/admin/export/points_by_month.csv", query_string=args).status_code == 422
    page = client.get("/admin/", query_string=args)
    assert page.status_code == 422 and 'role="alert"' in page.get_data(as_text=True)


def test_unknown_export_is_404(client, auth, make):
    auth.login_page(make.user("admin"), admin=True)
    assert client.get("/admin/export/users.csv").status_code == 404


def test_the_default_dashboard_is_refreshed_ahead_and_shared(
    app, client, auth, programme, monkeypatch
):
    """The periodic job puts the default dashboard, in both languages, in the shared cache;
    the page then serves it without aggregating anything on the request."""
    import fakeredis

    monkeypatch.setitem(app.extensions, "redis", fakeredis.FakeStrictRedis())
    monkeypatch.setitem(app.config, "READ_CACHE_SECONDS", 60)
    assert queries.refresh_dashboard() == 2
    keys = {k.decode() for k in app.extensions["redis"].keys("cache:*")}
    assert len(keys) == 2 and all("dashboard" in k for k in keys)
    assert {"'en'" in k for k in keys} == {True, False}  # one in English, one in Chinese

    def no_aggregation(*args: object, **kwargs: object) -> None:
        raise AssertionError("the request aggregated instead of using the shared cache")

    monkeypatch.setattr(queries, "dashboard", no_aggregation)
    auth.login_page(programme.admin, admin=True)
    page = client.get("/admin/")
    assert page.status_code == 200 and "reductions_by_action" in page.get_data(as_text=True)
