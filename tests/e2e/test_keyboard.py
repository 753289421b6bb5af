"""Keyboard only: the sign-in page and the resident's home can be worked with Tab and Enter.

Every stop is visible on the 360 px screen, has an accessible name and a focus ring, the
order follows the page (skip link first, no positive tabindex), and a form error is
announced (role=alert) and tied to its fields with aria-describedby.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import sign_in

pytestmark = pytest.mark.e2e

RESIDENT = "13800000001"  # the demo resident

FOCUSED = """(step) => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  if (el.hasAttribute("data-tab-step")) return {revisit: true};
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
    page.get_by_label("密码").fill("green2026e2e")
    page.get_by_label("所在县（市、区）").select_option("柯城区")
    page.get_by_label("密码").press("Enter")
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
    tabs = ["/home", "/actions", "/offers", "/redemptions", "/points", "/projects", "/privacy"]
    assert names[1:3] == ["/", "?lang=en"]
    assert names[3:10] == tabs
    assert names[10] == "button"  # sign out, the last of the navigation
    assert names[11:13] == ["/log", "/offers"]  # the account card's two actions
    assert any(re.fullmatch(r"/actions/\d+", n) for n in names[13:])
    current = page.locator(".tabs a[aria-current=page]")
    expect(current).to_have_attribute("href", "/home")
