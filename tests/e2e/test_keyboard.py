"""Keyboard only: the sign-in and registration pages, the resident's home, the offers list to a
redeemed voucher, the merchant staff's counter, an organiser's new-event form and the admin
console's sign-in and dashboard filters can be worked with Tab, arrows and Enter.

Every stop is visible on the 360 px screen, has an accessible name and a focus ring, the
order follows the page (skip link first, no positive tabindex), and a form error is
announced (role=alert) and tied to its fields with aria-describedby.
"""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

from .conftest import DEMO_PASSWORD, ORGANISER, STAFF, sign_in

pytestmark = pytest.mark.e2e

RESIDENT = "13800000001"  # the demo resident
ADMIN = "13800000031"  # the demo administrator

FOCUSED = """(step) => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  if (el.hasAttribute("data-tab-step")) {
    return {revisit: true, step: Number(el.getAttribute("data-tab-step"))};
  }
  el.setAttribute("data-tab-step", step);
  const r = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  return {
    tag: el.tagName.toLowerCase(), id: el.id, cls: el.className,
    href: el.getAttribute("href"), step: Number(el.getAttribute("data-tab-step")),
    inView: r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0
      && r.top < innerHeight && r.left < innerWidth,
    ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
  };
}"""
DOCUMENT_ORDER = """() => [...document.querySelectorAll("[data-tab-step]")]
  .map((el) => Number(el.getAttribute("data-tab-step")))"""


def tab_through(page: Any, limit: int = 80) -> list[dict[str, Any]]:
    """Press Tab from the top of the page until focus leaves it; check every stop."""
    page.locator("body").focus()
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    stops: list[dict[str, Any]] = []
    for step in range(limit):
        page.keyboard.press("Tab")
        stop = page.evaluate(FOCUSED, step)
        if stop and stop.get("revisit") and stops and stop["step"] == stops[-1]["step"]:
            continue  # the next part of the same field (a date's year, month and day)
        if stop is None or stop.get("revisit"):
            break  # back to the browser chrome, or round to an element already visited
        focused = page.locator(":focus")
        where = f"stop {step}: {stop}"
        assert stop["inView"], f"focus went off screen, {where}"
        assert stop["ring"], f"no visible focus ring, {where}"
        expect(focused, where).to_have_accessible_name(re.compile(r"\S"))
        stops.append(stop)
    else:
        pytest.fail(f"more than {limit} tab stops")
    order = page.evaluate(DOCUMENT_ORDER)
    assert order == sorted(order), "tab order differs from the reading order"
    assert page.locator("[tabindex]:not([tabindex='-1']):not([tabindex='0'])").count() == 0
    return stops


def _names(stops: list[dict[str, Any]]) -> list[str]:
    return [s["id"] or s["href"] or s["tag"] for s in stops]


def tab_to(page: Any, selector: str, limit: int = 80) -> None:
    """Press Tab (from wherever focus is) until the element matching ``selector`` has it."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => !!document.activeElement?.matches(s)", selector):
            return
    pytest.fail(f"{selector} is not reachable by Tab")


def date_keys(page: Any) -> str:
    """The digits to type for 2027-10-10 into a date field: Chromium orders its parts by the
    browser's own locale (not the page's), so ask a blank page of the same browser."""
    probe = page.context.new_page()
    try:
        probe.set_content("<input type=date id=d>")
        probe.locator("#d").focus()
        probe.keyboard.type("20271010")
        year_first = probe.locator("#d").input_value() == "2027-10-10"
    finally:
        probe.close()
    return "20271010" if year_first else "10102027"


def assert_in_order(names: list[str], expected: list[str]) -> None:
    """``expected`` are tab stops in this order (other stops may come between them)."""
    at = 0
    for name in expected:
        assert name in names[at:], f"{name!r} missing after stop {at}: {names}"
        at = names.index(name, at) + 1


def test_sign_in_page_by_keyboard(open_page, journey_data):
    page = open_page()
    page.goto("/login")
    stops = tab_through(page)
    names = _names(stops)
    assert "skip-link" in stops[0]["cls"] and names[0] == "#main"
    assert names[1:3] == ["/", "?lang=en"]  # the brand, then the language switch
    assert names[3:6] == ["phone", "password", "button"]
    assert "/register" in names[6:]

    # the skip link takes focus past the top bar, straight to the form
    page.locator("body").focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.locator("#phone")).to_be_focused()

    # a wrong password: the message is announced and describes both fields
    page.keyboard.type(RESIDENT)
    page.keyboard.press("Tab")
    page.keyboard.type("not-the-password")
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    message = alert.inner_text().strip()
    assert message
    for field in ("#phone", "#password"):
        expect(page.locator(field)).to_have_attribute("aria-invalid", "true")
        expect(page.locator(field)).to_have_accessible_description(re.compile(re.escape(message)))


def test_register_error_is_announced_and_tied_to_its_field(open_page, journey_data):
    page = open_page()
    page.goto("/register")
    page.get_by_label("手机号").fill("12345")
    page.get_by_label("手机号").press("Enter")  # step one: the number the code goes to
    error = page.locator("#phone-error")
    expect(error).to_have_attribute("role", "alert")
    expect(error).to_be_visible()
    phone = page.get_by_label("手机号")
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_have_accessible_description(re.compile(re.escape(error.inner_text())))


def test_resident_home_by_keyboard(open_page, journey_data):
    page = open_page()
    sign_in(page, RESIDENT)
    expect(page).to_have_url(re.compile(r"/home$"))
    stops = tab_through(page)
    names = _names(stops)
    assert "skip-link" in stops[0]["cls"]
    tabs = ["/home", "/my-qr", "/actions", "/offers", "/more"]  # five, my QR one tap away
    assert names[1:4] == ["/", "bell", "?lang=en"]  # the notifications bell in the top bar
    assert names[4:9] == tabs
    assert names[9:11] == ["/log", "/offers"]  # the account card's two actions
    assert any(re.fullmatch(r"/actions/\d+", n) for n in names[11:])
    current = page.locator(".tabbar a[aria-current=page]")
    expect(current).to_have_attribute("href", "/home")


def test_offers_to_a_redeemed_voucher_by_keyboard(open_page, journey_data):
    page = open_page()
    sign_in(page, RESIDENT)
    page.goto("/offers")
    offer = f"/offers/{journey_data.offer_id}"
    names = _names(tab_through(page))
    assert_in_order(names, ["#main", "/", "?lang=en", "/home", "/my-qr", "/offers", "/more", offer])
    tab_to(page, f"a[href='{offer}']")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"{offer}$"))

    names = _names(tab_through(page))
    redeem = page.get_by_role("button", name="用 200 积分兑换")
    assert_in_order(names, ["#main", "/my-qr", "/more", "/offers", "button"])
    tab_to(page, "main form button[type=submit]")
    expect(redeem).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/redemptions/\d+$"))
    expect(page.locator(".short-code")).to_have_text(re.compile(r"[A-Z0-9]{4}-[A-Z0-9]{4}"))


def test_merchant_counter_by_keyboard(open_page, journey_data):
    resident = open_page()
    sign_in(resident, RESIDENT)
    resident.goto(f"/offers/{journey_data.offer_id}")
    resident.locator("main form button[type=submit]").click()
    code = resident.locator(".short-code").inner_text().strip()

    page = open_page()
    sign_in(page, STAFF)
    expect(page).to_have_url(re.compile(r"/merchant$"))
    names = _names(tab_through(page))
    counter = "#main / ?lang=en /merchant /merchant/offers button photo code button from to button"
    assert_in_order(names, counter.split())

    page.locator("body").focus()
    tab_to(page, "#code")
    page.keyboard.type(code)
    page.keyboard.press("Enter")  # submits the counter's form
    expect(page.locator(".flash-success")).to_contain_text("书店帆布书签")
    refund = page.locator(".today-row a")
    expect(refund).to_have_accessible_name(re.compile(re.escape(code)))  # which voucher
    tab_through(page)  # the refund comes between the code box and the settlement
    step = {
        sel: int(page.locator(sel).get_attribute("data-tab-step") or -1)
        for sel in ("#code", ".today-row a", "#from")
    }
    assert step["#code"] < step[".today-row a"] < step["#from"], step


def test_organiser_creates_an_event_by_keyboard(open_page, journey_data):
    page = open_page()
    sign_in(page, ORGANISER)
    page.goto("/organiser/events/new")
    names = _names(tab_through(page))
    fields = ["name", "venue", "district", "starts_on", "ends_on", "expected_participants"]
    assert_in_order(
        names, ["#main", "/", "?lang=en", "/organiser", "button", "/organiser", *fields, "button"]
    )

    # Enter on an empty form: every problem at once, each announced and tied to its field
    page.locator("body").focus()
    tab_to(page, "#name")
    page.keyboard.press("Enter")
    errors = page.locator("[role=alert]")
    expect(errors).to_have_count(len(fields))
    for field in fields:
        error = page.locator(f"#{field}-error")
        expect(error).to_be_visible()
        expect(page.locator(f"#{field}")).to_have_attribute("aria-invalid", "true")
        expect(page.locator(f"#{field}")).to_have_accessible_description(
            re.compile(re.escape(error.inner_text()))
        )

    page.locator("body").focus()
    tab_to(page, "#name")
    page.keyboard.type("衢州马拉松（键盘）")
    page.keyboard.press("Tab")
    page.keyboard.type("衢州体育中心")
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")  # the first district
    expect(page.locator("#district")).to_have_value("柯城区")
    keys = date_keys(page)
    for day in ("starts_on", "ends_on"):
        tab_to(page, f"#{day}")
        page.keyboard.type(keys)  # each part of the date moves on to the next
        expect(page.locator(f"#{day}")).to_have_value("2027-10-10")
    tab_to(page, "#expected_participants")
    page.keyboard.type("500")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/organiser/events/\d+/footprint/planned$"))
    expect(page.locator("#participants")).to_have_value("500")


def test_admin_sign_in_and_dashboard_filters_by_keyboard(open_page, journey_data):
    page = open_page()
    page.goto("/admin/login")
    names = _names(tab_through(page))
    assert names == ["#main", "/admin/", "?lang=en", "phone", "password", "button"]

    page.locator("body").focus()
    tab_to(page, "#phone")
    page.keyboard.type(ADMIN)
    page.keyboard.press("Tab")
    page.keyboard.type("not-the-password")
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    for field in ("#phone", "#password"):
        expect(page.locator(field)).to_have_attribute("aria-invalid", "true")
        expect(page.locator(field)).to_have_accessible_description(
            re.compile(re.escape(alert.inner_text().strip()))
        )

    page.locator("body").focus()
    tab_to(page, "#password")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    # first sign-in: the authenticator is set up from the key shown, by keyboard as well
    expect(page).to_have_url(re.compile(r"/admin/2fa/setup"))
    names = _names(tab_through(page))
    assert_in_order(names, ["#main", "/admin/", "?lang=en", "code", "button", "button"])
    secret = page.locator(".totp-secret code").inner_text().replace(" ", "")
    page.locator("body").focus()
    tab_to(page, "#code")
    page.keyboard.type("000000")
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(page.locator("#code")).to_have_accessible_description(
        re.compile(re.escape(alert.inner_text().strip()))
    )
    page.locator("body").focus()
    tab_to(page, "#code")
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type(pyotp.TOTP(secret).now())
    page.keyboard.press("Enter")
    expect(page.locator(".recovery-codes li")).not_to_have_count(0)
    page.locator("body").focus()
    tab_to(page, "main a.button")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/admin/$"))

    stops = tab_through(page, limit=150)
    names = _names(stops)
    tabs = "#main /admin/ ?lang=en /admin/ /admin/reports /admin/review button /admin/reports"
    assert_in_order(names, [*tabs.split(), "f-from", "f-to", "f-district", "button"])
    csv = [n for n in names if n.startswith("/admin/export/")]
    assert csv and names.index(csv[0]) > names.index("f-district")

    page.locator("body").focus()
    tab_to(page, "#f-district")
    page.keyboard.press("ArrowDown")  # from all districts to the first
    expect(page.locator("#f-district")).to_have_value("柯城区")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="应用")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"district=%E6%9F%AF%E5%9F%8E%E5%8C%BA"))
    expect(page.locator("#f-district")).to_have_value("柯城区")
