"""A resident's whole journey through the real pages, with a partner and a merchant.

register -> link a transit card (claimed: the partner's first trip waits) -> the partner confirms
the link with the code the resident shows -> the waiting bus trip is credited -> the
reduction (kg) and points show on /home and /actions -> redeem an offer -> the bookshop's
staff fulfil the voucher by its short code -> the balance and the points history update.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from backend.timeutil import local, utcnow

from .conftest import STAFF, confirm_link, push_batch, sign_in

pytestmark = pytest.mark.e2e

PHONE = "13912345678"
PASSWORD = "green2026e2e"
CARD = "QZE2E00077"


def _bus_trip(record_id: str) -> dict[str, object]:
    """8.2 km by bus yesterday morning: 359 g CO2e, 359 points (tests/web/test_resident_pages)."""
    start = local(utcnow() - timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    return {
        "record_id": record_id,
        "action": "public_transit",
        "identity": CARD,
        "activity": {
            "mode": "bus",
            "distance_km": 8.2,
            "started_at": start.isoformat(),
            "ended_at": (start + timedelta(minutes=25)).isoformat(),
        },
    }


def test_register_link_card_earn_redeem_and_fulfil(open_page, journey_data):
    resident = open_page()

    resident.goto("/register")
    resident.get_by_role("link", name="English").click()  # the choice persists
    expect(resident.locator("h1")).to_have_text("Create an account")
    resident.get_by_label("Mobile number").fill(PHONE)
    resident.get_by_role("button", name="Send code").click()
    # the development backend shows the text message on the page (never in production)
    message = resident.locator(".flash-dev-sms").inner_text()
    code = re.search(r"\b(\d{6})\b", message)
    assert code, message
    resident.get_by_label("Code from the text message").fill(code.group(1))
    resident.get_by_label("Password").fill(PASSWORD)
    resident.get_by_label("District or county").select_option("柯城区")
    resident.get_by_role("button", name="Create an account").click()
    expect(resident).to_have_url(re.compile(r"/home$"))
    expect(resident.locator(".stat-value").first).to_have_text("0.00")

    resident.goto("/sources")
    resident.get_by_label("Operator", exact=True).select_option(journey_data.partner_code)
    resident.get_by_label("Card number or account id").fill(CARD)
    resident.get_by_label("I agree that this operator").check()
    resident.get_by_role("button", name="Link", exact=True).click()
    expect(resident.locator(".flash-success")).to_be_visible()
    expect(resident.locator("main")).to_contain_text("****0077")
    expect(resident.locator("main")).to_contain_text("Waiting for confirmation")

    # the card's trips wait until the operator confirms the link: nothing is credited yet
    accepted = push_batch(journey_data, [_bus_trip("e2e-trip-1")])
    assert accepted["received"] == 1 and accepted["status"] == "done", accepted  # jobs inline
    resident.goto("/home")
    expect(resident.locator(".stat-value").nth(1)).to_have_text("0")

    # the resident shows the link code in the operator's app; the operator confirms it
    resident.goto("/sources")
    code = resident.locator(".source-row .short-code").first.inner_text()
    confirmed = confirm_link(journey_data, "qze2e 0007-7", code)  # as the operator prints it
    assert confirmed["status"] == "active", confirmed
    resident.reload()
    expect(resident.locator("main")).to_contain_text("Confirmed")

    resident.goto("/home")
    stats = resident.locator(".stat-value")
    expect(stats.nth(0)).to_have_text("0.36")  # kg CO2e reduced
    expect(stats.nth(1)).to_have_text("359")  # points
    resident.goto("/actions")
    trip = resident.locator(".list-card").first
    expect(trip).to_contain_text("points added")
    expect(trip).to_contain_text("359 g CO2e · 359 points")

    resident.goto("/offers")
    resident.get_by_role("link", name=re.compile(journey_data.offer_title)).click()
    resident.get_by_role("button", name="Redeem for 200 points").click()
    expect(resident).to_have_url(re.compile(r"/redemptions/\d+$"))
    voucher_url = resident.url
    code = resident.locator(".short-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code), code

    staff = open_page()
    sign_in(staff, STAFF)
    expect(staff).to_have_url(re.compile(r"/merchant$"))
    staff.locator("#code").fill(code)
    staff.locator(".code-form button[type=submit]").click()
    expect(staff.locator(".flash-success")).to_contain_text("书店帆布书签")
    expect(staff.locator(".today-row").first).to_contain_text(code)

    resident.goto(voucher_url)
    expect(resident.locator(".voucher .badge")).to_have_text("used")
    resident.goto("/points")
    expect(resident.locator(".stat-value")).to_have_text("159")
    history = resident.locator(".history .amount")
    expect(history).to_contain_text(["-200", "+359"])
    resident.goto("/home")
    expect(resident.locator(".stat-value").nth(1)).to_have_text("159")
