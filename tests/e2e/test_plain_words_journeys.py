"""Every role's journey in the browser (Chromium, 360x640; administrators at 1366x768), in
Chinese and English, speaks plain words on every page, CSV and PDF it receives (the
``rendered`` fixture scans them all for snake_case words and file names afterwards; here each
journey also checks that it really received the CSV and PDF files it is about):

* the restaurant counter forgives a typo (the resident's code stays valid) and its today
  list shows what was credited;
* the merchant's settlement CSV, the resident's export CSV, the organiser's report PDF and
  the administrator's monthly report PDF are read as people read them (PDF text by
  pdftotext);
* the administrator's console, and a partner key rotation previewed before it is done."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from backend.accounts.models import Role, User
from backend.events.models import Event
from backend.extensions import db
from backend.timeutil import LOCAL_TZ

from ..factories import PASSWORD, Factories
from ..helpers import totp_code
from .conftest import ATTENDANT, ORGANISER, STAFF, Rendered, _text, sign_in

pytestmark = pytest.mark.e2e

RESIDENT = "13800000001"
WAITER = "13800000013"  # the demo restaurant's staff
DESKTOP = {"width": 1366, "height": 768}


def _fetch(page, url: str, rendered: list[Rendered], kind: str) -> str:
    """A file the page links to, fetched with the page's cookies, kept for the scan."""
    response = page.request.get(url)
    assert response.ok, (url, response.status)
    assert kind in response.headers["content-type"], response.headers["content-type"]
    item = Rendered(url, "pdf" if kind == "pdf" else "csv", response.body())
    rendered.append(item)
    text = _text(item)
    assert text.strip(), url  # read as text (pdftotext for a PDF), not skipped
    return text


def _in_english(page) -> None:
    page.get_by_role("link", name="English").click()  # the top bar's switch, kept by a cookie
    expect(page.locator("html")).to_have_attribute("lang", re.compile("^en"))


def test_the_restaurant_counter_keeps_the_code_on_a_typo_and_lists_what_it_credited(
    open_page, journey_data, rendered
):
    resident = open_page()
    sign_in(resident, RESIDENT)
    resident.goto("/my-qr")
    code = resident.locator(".short-code").inner_text().strip()

    waiter = open_page()
    sign_in(waiter, WAITER)
    expect(waiter).to_have_url(re.compile(r"/merchant$"))
    waiter.locator("#code").fill(code)
    waiter.locator("#kind").select_option("small_portion")
    waiter.locator("#diners").fill("50")  # a typo: five diners
    waiter.locator("#scan-form button[type=submit]").click()
    # every problem on its field at once (the kg of a small portion is missing too), in words
    expect(waiter.locator("#diners-error")).to_be_visible()
    expect(waiter.locator("#portion_reduction_kg-error")).to_contain_text("千克")
    expect(waiter.locator("#form-error")).to_contain_text("居民的码未使用")
    expect(waiter.locator("#code")).to_have_value(code)
    expect(waiter.locator(".result")).to_have_count(0)

    waiter.locator("#diners").fill("5")
    waiter.locator("#portion_reduction_kg").fill("0.4")
    waiter.locator("#scan-form button[type=submit]").click()
    if 5 <= datetime.now(LOCAL_TZ).hour < 22:  # meal times (the methodology's slots)
        result = waiter.locator(".result")
        expect(result.locator(".badge")).to_have_text("已加分")
        expect(result).to_contain_text("居民 138****0001")
        row = waiter.locator(".today-row").first
        expect(row).to_contain_text("138****0001")
        expect(row).to_contain_text("积分")
    else:  # outside meal times the counter says so, and the code is still not used
        expect(waiter.locator("#form-error")).to_contain_text("用餐时段")
        expect(waiter.locator("#code")).to_have_value(code)

    # the same counter in English
    waiter.goto("/merchant")
    _in_english(waiter)
    expect(waiter.locator("main")).to_contain_text("Diners")


def test_csv_and_pdf_files_people_download_speak_plain_words(
    open_page, journey_data, live_app, rendered
):
    shop = open_page()
    sign_in(shop, STAFF)
    day = datetime.now(LOCAL_TZ).date().isoformat()
    settlement = _fetch(shop, f"/merchant/settlement.csv?from={day}&to={day}", rendered, "csv")
    assert "积分" in settlement.splitlines()[0]

    resident = open_page()
    sign_in(resident, RESIDENT)
    export = _fetch(resident, "/privacy/export.csv", rendered, "csv")
    assert "北京时间" in export and "已加分" in export
    resident.goto("/points")
    _in_english(resident)
    export_en = _fetch(resident, "/privacy/export.csv", rendered, "csv")
    assert "Time (Beijing)" in export_en and "points added" in export_en

    attendant = open_page()
    sign_in(attendant, ATTENDANT)
    attendant.goto("/merchant")  # the station's counter

    with live_app.app_context():
        organiser = db.session.scalar(select(User).where(User.phone == ORGANISER))
        event_id = db.session.scalar(select(Event.id).where(Event.organiser_id == organiser.id))
        db.session.remove()
    page = open_page()
    sign_in(page, ORGANISER)
    page.goto(f"/organiser/events/{event_id}/report/planned")
    pdf = _fetch(page, f"/organiser/events/{event_id}/report/planned.pdf", rendered, "pdf")
    assert "碳" in pdf
    # factor sources are cited as documents, never as our file names
    assert not re.search(r"\w+\.(md|py)\b", pdf)
    _in_english(page)
    pdf_en = _fetch(page, f"/organiser/events/{event_id}/report/planned.pdf", rendered, "pdf")
    assert "CO2e" in pdf_en
    assert {item.kind for item in rendered} >= {"html", "csv", "pdf"}


def _admin(open_page, live_app):
    """An administrator signs in at desktop width with the authenticator's code."""
    with live_app.app_context():
        admin = Factories().user(Role.ADMIN, nickname="值班管理员")
        phone = admin.phone
        code = totp_code(admin)
        db.session.remove()
    page = open_page()
    page.set_viewport_size(DESKTOP)
    page.goto("/admin/login")
    page.locator("#phone").fill(phone)
    page.locator("#password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/admin/2fa$"))
    page.locator("#code").fill(code)
    page.locator("main form button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    return page


ADMIN_PAGES = ["/admin/", "/admin/review", "/admin/audit", "/admin/partners", "/admin/events"]


def test_the_admin_console_previews_a_key_rotation_and_speaks_plain_words(
    open_page, journey_data, live_app, rendered
):
    page = _admin(open_page, live_app)
    for url in ADMIN_PAGES:
        page.goto(url)
        expect(page.locator("main h1").first).to_be_visible()

    page.goto("/admin/partners")
    row = page.locator("tr").filter(has_text="衢州城市公共自行车")
    row.get_by_role("button", name="更换密钥").click()
    preview = page.locator("#preview")
    expect(preview).to_contain_text("衢州城市公共自行车")
    expect(preview).to_contain_text("24 小时")
    page.get_by_role("link", name="不，返回").click()
    expect(page).to_have_url(re.compile(r"/admin/partners$"))
    expect(page.locator(".secret")).to_have_count(0)  # nothing rotated
    row.get_by_role("button", name="更换密钥").click()
    page.get_by_role("button", name="更换密钥").click()
    shown = page.locator(".secret")
    expect(shown).to_be_visible()
    expect(shown).to_contain_text("密钥编号")

    month = datetime.now(LOCAL_TZ).strftime("%Y-%m")
    report = _fetch(page, f"/admin/reports/{month}.pdf", rendered, "pdf")
    assert "碳普惠" in report

    page.goto("/admin/")
    _in_english(page)
    for url in ADMIN_PAGES:
        page.goto(url)
        expect(page.locator("html")).to_have_attribute("lang", re.compile("^en"))
    report_en = _fetch(page, f"/admin/reports/{month}.pdf", rendered, "pdf")
    assert "碳普惠" in report_en  # the programme's report is an official document in Chinese
