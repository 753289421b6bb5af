"""The 碳计量报告 (HTML and PDF with Chinese text) and the sequestration chart."""

from __future__ import annotations

import re
import subprocess

import pytest

from backend.events import forest, reports, services
from backend.events.models import FootprintStage

from .helpers import WORKED_LINES, make_event, plan_data, worked_event


def _pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True)
    return out.stdout.decode("utf-8")


@pytest.mark.pdf
def test_report_pdf_renders_chinese_sources_and_results(client, auth, organiser, tmp_path):
    event = worked_event(organiser, FootprintStage.ACTUAL)
    auth.login_page(organiser)
    response = client.get(f"/organiser/events/{event.id}/report/actual.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    text = _pdf_text(response.data, tmp_path)
    assert event.name in text  # 2026 衢州数字经济大会
    for source in (
        "外购电力",
        "高铁",
        "私家车",
        "酒店住宿",
        "餐食（含肉中式餐）",
        "净购入电力和热力",
    ):
        assert source in text, source
    # activity data, factors, their sources and results, in the zh_CN default
    assert "0.5306 kgCO2e/" in text and "20,000 千瓦时" in text
    assert "生态环境部 国家统计局" in text  # the grid factor's source document
    assert "10,612.000" in text and "39,502.667" in text
    assert re.search(r"39\.503\s*(t|吨)", text)  # tonnes, in the page language
    fonts = subprocess.run(
        ["pdffonts", str(tmp_path / "report.pdf")], capture_output=True, text=True, check=True
    ).stdout
    assert "CJK-SC" in fonts or "WenQuanYi" in fonts  # Simplified Chinese forms, embedded


def test_report_html_lists_each_source_with_factor_and_source(client, auth, organiser):
    event = worked_event(organiser)
    auth.login_page(organiser)
    html = client.get(f"/organiser/events/{event.id}/report/planned?lang=en").get_data(as_text=True)
    assert "Footprint estimate" in html
    for text in ("Purchased electricity", "High-speed rail", "Hotel stay", "0.5306", "39.503"):
        assert text in html, text
    assert "300 × 2 × 300 km = 180000 pkm" in html
    assert client.get(f"/organiser/events/{event.id}/report/actual").status_code == 404


def test_sequestration_chart_is_static_accessible_svg(app, organiser):
    event = worked_event(organiser)
    plan = forest.create_plan(organiser, event.id, plan_data(horizon_years=10))
    with app.test_request_context("/?lang=en"):
        svg = str(reports.sequestration_chart(plan))
    assert svg.startswith("<svg") and "<?xml" not in svg
    assert "<script" not in svg and "<style" not in svg and "style=" not in svg
    assert 'role="img"' in svg and '<title id="chart-title">' in svg
    assert "break-even" not in svg.lower() or "2037" in svg
    assert "in 2037, 10 years after planting" in svg  # the description names the break-even
    assert svg.count('class="series') >= 3  # removal, emissions line, break-even marker


@pytest.mark.pdf
def test_the_report_pdf_fills_its_first_page(client, auth, organiser, tmp_path):
    """A long table of sources starts on the first page instead of leaving it mostly blank
    (the section is allowed to break across pages; its heading stays with its rows)."""
    event = make_event(organiser)
    services.record_footprint(organiser, event.id, FootprintStage.PLANNED, WORKED_LINES * 4)
    auth.login_page(organiser)
    response = client.get(f"/organiser/events/{event.id}/report/planned.pdf")
    assert response.status_code == 200
    path = tmp_path / "report.pdf"
    path.write_bytes(response.data)
    pages = []
    for number in (1, 2):
        out = subprocess.run(
            ["pdftotext", "-layout", "-f", str(number), "-l", str(number), str(path), "-"],
            capture_output=True,
            check=True,
        )
        pages.append(out.stdout.decode("utf-8"))
    first = pages[0]
    assert "二、" in first and "外购电力" in first, first  # the sources begin on page 1
    filled = [line for line in first.splitlines() if line.strip()]
    assert len(filled) > 40, first  # the page is used, not 70% blank
    # the totals come once, after the last row, not at the foot of every page
    assert "小计" not in first and "小计" in "".join(pages[1:] + [_rest(path)])


def _rest(path) -> str:
    out = subprocess.run(["pdftotext", "-f", "3", str(path), "-"], capture_output=True)
    return out.stdout.decode("utf-8")
