"""What the screenshot review at 360 px and 1366 px found: chart labels sized by their real
width, the dashboard cached per language, the current tab kept in view, no raw codes in the
admin console, and the self-report form showing the chosen action's fields."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: S405 - our own chart output
from pathlib import Path

import pytest

from backend import cache
from backend.actions.models import BatchStatus, PartnerBatch
from backend.charts import bar_chart, label_width, wrap_label
from backend.methodology_versions.models import MethodologyVersion
from backend.methodology_versions.services import seed_versions

from ..helpers import link_proven

SVG = "{http://www.w3.org/2000/svg}"
STATIC = Path(__file__).resolve().parents[2] / "backend" / "static"


def _layout(svg: str) -> tuple[float, float, list[list[str]], list[float]]:
    """(left edge of the plot, its width, the lines of each label, the value-axis ticks)."""
    root = ET.fromstring(svg)  # noqa: S314 - our own chart output
    plot = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "plot")
    left = float(re.match(r"translate\(([\d.]+)", plot.get("transform", "")).group(1))
    width = float(next(plot.iter(f"{SVG}rect")).get("width"))
    axes = {g.get("class"): g for g in plot.iter(f"{SVG}g") if "axis" in (g.get("class") or "")}
    labels = [
        [t.text for t in text.iter(f"{SVG}tspan")] or [text.text]
        for text in axes["axis y"].iter(f"{SVG}text")
    ]
    ticks = [
        float(text.text)
        for text in next(a for k, a in axes.items() if "x" in k.split()).iter(f"{SVG}text")
    ]
    return left, width, labels, ticks


@pytest.mark.parametrize(
    "labels",
    [
        ["Bus and rail trips"],
        [
            "Bus and rail trips",
            "Shared-bike rides",
            "Sorted waste handed in",
            "Clean plates and smaller portions",
        ],
        ["公交与轨道出行", "共享单车骑行", "垃圾分类回收", "光盘与小份点餐"],
        ["碳汇造林（碳中和林）"],
    ],
)
def test_horizontal_bars_leave_their_labels_the_room_they_take_and_no_more(labels):
    values = [3.76, 0.42, 1.2, 0.08][: len(labels)]
    svg = bar_chart(
        labels,
        values,
        title="t",
        description="d",
        element_id="b",
        horizontal=True,
        height=60 + 40 * len(labels),
    )
    left, width, lines, ticks = _layout(str(svg))
    assert sorted(" ".join(parts) for parts in lines) == sorted(labels)
    widest = max(label_width(line) for parts in lines for line in parts)
    assert left - 5 - widest >= 5  # the label text ends 5 units left of the plot
    assert left - 5 - widest <= 12  # ... and no room is wasted: the bars get the rest
    assert width >= 360 * 0.45
    # value-axis numbers side by side within the plot, never overlapping
    assert ticks[0] == 0 and ticks[-1] >= max(values)
    assert len(ticks) * max(label_width(f"{t:g}") for t in ticks) < width


def test_a_long_label_wraps_at_a_space_and_a_cjk_one_before_its_bracket():
    assert wrap_label("Clean plates and smaller portions", 137) == [
        "Clean plates and",
        "smaller portions",
    ]
    assert wrap_label("Bus and rail trips", 137) == ["Bus and rail trips"]
    assert wrap_label("碳汇造林（碳中和林）", 100) == ["碳汇造林", "（碳中和林）"]


@pytest.fixture
def admin(client, auth, make):
    seed_versions()
    user = make.user("admin")
    assert auth.login_page(user, admin=True).status_code == 302
    return user


def test_the_cached_dashboard_is_the_one_of_the_pages_language(app, client, admin):
    app.config["READ_CACHE_SECONDS"] = 300
    try:
        zh = client.get("/admin/?lang=zh_CN").get_data(as_text=True)
        en = client.get("/admin/?lang=en").get_data(as_text=True)
        again = client.get("/admin/?lang=zh_CN").get_data(as_text=True)
    finally:
        app.config["READ_CACHE_SECONDS"] = 0
        cache._STORE.clear()
    assert "公交与轨道出行" in zh and "合计" in zh
    assert "Bus and rail trips" in en and '<th scope="row">Total</th>' in en
    assert "公交与轨道出行" not in en and "合计" not in en
    assert "合计" in again


def _visible_codes(html: str) -> set[str]:
    """Text between tags that is a bare machine code."""
    texts = {t.strip() for t in re.findall(r">([^<>]+)<", html)}
    return texts & {
        "total",
        "burst",
        "verifier_outlier",
        "done",
        "file",
        "json",
        "queued",
        "daily_points_cap",
        "crediting_paused",
    }


def test_chinese_admin_pages_show_names_not_codes(client, admin, make):
    partner, _key, _secret = make.partner("layout-bus")
    from backend.extensions import db

    db.session.add(PartnerBatch(partner_id=partner.id, status=BatchStatus.DONE, source="file"))
    db.session.commit()
    for path in ("/admin/", "/admin/reports/2026-02", "/admin/batches", "/admin/settings"):
        html = client.get(f"{path}?lang=zh_CN").get_data(as_text=True)
        assert not _visible_codes(html), path
    batches = client.get("/admin/batches").get_data(as_text=True)
    assert "每日文件导入" in batches and "已完成" in batches
    settings = client.get("/admin/settings").get_data(as_text=True)
    assert "每位居民每日积分上限" in settings and "暂停积分发放" in settings
    saved = client.post(
        "/admin/settings", data={"key": "daily_points_cap", "value": "500"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "每位居民每日积分上限 已设为 500" in saved
    assert "daily_points_cap" not in re.sub(r'[\w-]+="[^"]*"', "", saved)  # but attributes
    english = client.get("/admin/batches?lang=en").get_data(as_text=True)
    assert "Daily file import" in english and "batch done" in english


def test_the_seeded_version_notes_read_in_the_pages_language(client, admin, db):
    from sqlalchemy import select

    version = db.session.scalar(
        select(MethodologyVersion).where(MethodologyVersion.code == "public_transit")
    )
    zh = client.get(f"/admin/methodology-versions/{version.id}?lang=zh_CN").get_data(as_text=True)
    assert "Published defaults of module" not in zh and "seeded from" not in zh
    assert "“公交与轨道出行”方法学模块公布的缺省参数" in zh and "平台依据模块引用的缺省值批准" in zh
    listing = client.get("/admin/methodologies/public_transit").get_data(as_text=True)
    assert "Published defaults of module" not in listing and ", module " not in listing
    en = client.get(f"/admin/methodology-versions/{version.id}?lang=en").get_data(as_text=True)
    assert "Published defaults of the Bus and rail trips module, version" in en


def test_partner_and_merchant_lists_take_the_width_beside_their_form(client, admin):
    for path in ("/admin/partners", "/admin/merchants", "/admin/organisers"):
        html = client.get(path).get_data(as_text=True)
        assert '<div class="list-and-form">' in html and "grid two" not in html, path
    css = (STATIC / "app.css").read_text()
    assert re.search(r"\.list-and-form \{[^}]*minmax\(0, 1fr\) minmax\(280px, 340px\)", css)


def test_resident_tab_bar_has_five_tabs_with_my_qr(client, make, auth):
    auth.login_page(make.resident())
    html = client.get("/points").get_data(as_text=True)
    bar = re.search(r'<nav class="tabbar"[^>]*>(.*?)</nav>', html, re.S).group(1)
    assert re.findall(r'href="([^"]+)"', bar) == ["/home", "/my-qr", "/actions", "/offers", "/more"]
    assert re.search(r'href="/more"\s+aria-current="page"', bar)  # points live under "More"
    more = client.get("/more").get_data(as_text=True)
    assert 'href="/points"' in more and 'action="/logout"' in more
    # a page under a tab marks that tab: logging an action is under "My actions"
    log = client.get("/log").get_data(as_text=True)
    bar = re.search(r'<nav class="tabbar"[^>]*>(.*?)</nav>', log, re.S).group(1)
    assert re.findall(r'href="([^"]+)"\s+aria-current="page"', bar) == ["/actions"]


def test_staff_tabs_bring_the_current_one_into_view(client, make, auth):
    auth.login_page(make.staff(make.merchant()))
    html = client.get("/merchant").get_data(as_text=True)
    assert re.search(r'href="/merchant"\s+aria-current="page"', html)
    assert 'src="/static/tabs.js' in html
    script = (STATIC / "tabs.js").read_text()
    assert 'aria-current="page"' in script and "scrollLeft" in script
    css = (STATIC / "app.css").read_text()
    assert ".tabs.more-right" in css and ".tabs.more-left" in css


def test_unlink_button_and_dates_do_not_break_mid_word(client, make, auth):
    resident = make.resident()
    make.partner("layout-bus")
    link_proven(resident, "layout-bus", "CARD4321")
    auth.login_page(resident)
    html = client.get("/sources").get_data(as_text=True)
    assert 'class="card source-row"' in html
    assert re.search(
        r'<span class="nowrap">授权于 \d{4}-\d{2}-\d{2}</span>|'
        r'<span class="nowrap">\d{4}-\d{2}-\d{2} 授权</span>',
        html,
    )
    assert 'class="button small danger"' in html
    css = (STATIC / "app.css").read_text()
    assert re.search(r"\.nowrap, \.button\.small \{ white-space: nowrap; \}", css)
    assert ".settle-form" not in css


def test_the_self_report_form_marks_each_field_with_its_actions(client, make, auth):
    auth.login_page(make.resident())
    html = client.get("/report").get_data(as_text=True)
    assert re.search(r'data-for="public_transit"><label for="mode">', html)
    assert re.search(r'data-for="bike_sharing"><label for="bike_type">', html)
    assert 'data-for="waste_sorting"' in html and 'data-for="food_waste"' in html
    script = (STATIC / "report.js").read_text()
    assert 'querySelectorAll("[data-for]")' in script


def test_events_state_emissions_with_one_unit_and_precision(client, make, auth):
    from backend.events import services

    from .test_events_pages import EVENT_FORM, _footprint_form

    seed_versions()
    organiser = make.user("organiser")
    auth.login_page(organiser)
    event = services.create_event(organiser, {**EVENT_FORM})
    url = f"/organiser/events/{event.id}/footprint/planned"
    assert client.post(url, data=_footprint_form()).status_code == 302  # 39,502.667 kg
    listed = client.get("/organiser?lang=zh_CN").get_data(as_text=True)
    assert "39.50 吨二氧化碳当量（预估）" in listed and "t CO2e" not in listed
    detail = client.get(f"/organiser/events/{event.id}").get_data(as_text=True)
    assert "39.50" in detail and "排放量（吨二氧化碳当量，预估）" in detail
    english = client.get("/organiser?lang=en").get_data(as_text=True)
    assert "39.50 t CO2e (estimate)" in english
