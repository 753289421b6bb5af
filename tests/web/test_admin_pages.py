"""The admin console's pages render for a signed-in administrator, in both languages, with
the navigation only after both sign-in steps."""

from __future__ import annotations

import re

import pytest

from backend.demo.data import load_demo
from backend.methodology_versions.services import seed_versions

from .plain_words import visible_text

PAGES = [
    "/admin/",
    "/admin/?from=2026-01&to=2026-06&district=江山市",
    "/admin/reports",
    "/admin/reports/2026-02",
    "/admin/people",
    "/admin/residents",
    "/admin/residents?q=1234&status=suspended",
    "/admin/organisers",
    "/admin/administrators",
    "/admin/audit",
    "/admin/audit?actor=system&action=account.",
    "/admin/settings",
]


@pytest.fixture
def signed_in(client, auth, make):
    seed_versions()
    make.resident(nickname="页面居民")
    make.partner("page-bus")
    admin = make.user("admin")
    assert auth.login_page(admin, admin=True).status_code == 302
    return admin


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_admin_page_renders(client, signed_in, lang):
    for path in PAGES:
        sep = "&" if "?" in path else "?"
        response = client.get(f"{path}{sep}lang={lang}")
        html = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert 'class="tabs"' in html, path
        assert response.headers["Cache-Control"] == "no-store", path
        assert not re.search(r"(?<![\d.])1[3-9]\d{9}(?![\d.])", html), path  # masked only


def test_navigation_reaches_people_and_their_existing_pages(client, signed_in):
    html = client.get("/admin/people").get_data(as_text=True)
    for path in (
        "/admin/residents",
        "/admin/merchants",
        "/admin/organisers",
        "/admin/partners",
        "/admin/administrators",
    ):
        assert f'href="{path}"' in html, path
    nav = client.get("/admin/merchants").get_data(as_text=True)
    assert re.search(r'href="/admin/people"\s+aria-current="page"', nav)


def test_dashboard_states_its_definitions_in_english(client, signed_in):
    html = client.get("/admin/?lang=en").get_data(as_text=True)
    assert "How the figures are defined" in html
    assert "Settlement postings to merchants" in html
    assert "Credit postings to residents" in html


def test_half_signed_in_pages_have_no_console_navigation(client, make):
    from ..factories import PASSWORD

    admin = make.user("admin")
    client.post("/admin/login", data={"phone": admin.phone, "password": PASSWORD})
    page = client.get("/admin/2fa")
    assert page.status_code == 200 and 'class="tabs"' not in page.get_data(as_text=True)
    assert 'autocomplete="one-time-code"' in page.get_data(as_text=True)


def test_the_audit_log_says_channels_methodologies_and_times_in_words(client, db, signed_in):
    """Detail values read as words too: a claim's channel, a methodology's name, a version's
    time in Beijing time (the stored values stay under "as recorded")."""
    load_demo()
    html = client.get("/admin/audit?lang=zh_CN").get_data(as_text=True)
    shown = visible_text(html.split("<tbody>", 1)[1])
    assert "渠道: 工作人员确认" in shown and "渠道: claim" not in shown
    assert "编码: 垃圾分类回收" in shown and "waste sorting" not in shown
    assert "活动 · 已录入计划数据" in shown
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", shown)  # no stored ISO times
    assert "channel=claim" in html  # the record as stored, one tap away
