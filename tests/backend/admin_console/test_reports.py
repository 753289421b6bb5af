"""The monthly and annual programme reports: the page and the PDF (text read back with
pdftotext) carry the Chinese headings, the figures and the methodology versions."""

from __future__ import annotations

import subprocess

import pytest

from backend.reporting.reports import UnknownReportPeriod, report_period

HEADINGS = (
    "衢州市碳普惠",
    "一、概要",
    "二、核证减排量",
    "三、积分流转",
    "七、方法学版本",
    "八、统计口径",
)


def _pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, timeout=60
    )
    return " ".join(out.stdout.decode("utf-8").split())


@pytest.mark.pdf  # WeasyPrint, a CJK font and pdftotext: see tests/conftest.py
def test_monthly_report_page_and_pdf(client, auth, programme, frozen_now, tmp_path):
    auth.login_page(programme.admin, admin=True)
    page = client.get("/admin/reports/2026-02")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "衢州市碳普惠月度运行报告（2026年2月）" in html
    for figure in ("0.005950", "5,950", "300", "150", "60.0%"):
        assert figure in html, figure

    pdf = client.get("/admin/reports/2026-02.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    text = _pdf_text(pdf.data, tmp_path)
    assert "衢州市碳普惠月度运行报告" in text and "2026年2月" in text
    for heading in HEADINGS:
        assert heading in text, heading
    # February: 5,950 g = 0.005950 t; 5,950 issued, 300 redeemed, 0 expired, 150 donated;
    # 2 active residents; 5 partner records of which 3 rejected (60.0%)
    for figure in ("0.005950", "5,950", "300", "150", "60.0%", "柯城区", "江山市"):
        assert figure in text, figure
    assert "报告期：2026-02-01 至 2026-02-28" in text
    # the methodology versions in force and those applied in the period
    assert "现行有效版本" in text and "v1" in text


@pytest.mark.pdf
def test_annual_report_has_both_months(client, auth, programme, frozen_now, tmp_path):
    auth.login_page(programme.admin, admin=True)
    pdf = client.get("/admin/reports/2026.pdf")
    text = _pdf_text(pdf.data, tmp_path)
    assert "衢州市碳普惠年度运行报告" in text
    for figure in ("0.007950", "7,950", "2026-01", "2026-02", "2026-12", "600"):
        assert figure in text, figure


def test_reports_index_and_bad_periods(client, auth, make):
    auth.login_page(make.user("admin"), admin=True)
    index = client.get("/admin/reports")
    assert index.status_code == 200 and "/admin/reports/" in index.get_data(as_text=True)
    chosen = client.get("/admin/reports", query_string={"period": "2026-02", "format": "pdf"})
    assert chosen.headers["Location"] == "/admin/reports/2026-02.pdf"
    for bad in ("2026-13", "26-01", "latest", "2026-1"):
        assert client.get(f"/admin/reports/{bad}").status_code == 404, bad
    assert client.get("/admin/reports", query_string={"period": "x"}).status_code == 404
    with pytest.raises(UnknownReportPeriod):
        report_period("2026-00")
    assert report_period("2026").annual and not report_period("2026-02").annual
