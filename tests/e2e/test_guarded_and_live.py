"""Guarded decisions and live states in the browser (Chromium, 360x640, Chinese): each
irreversible step shows its preview first, and an open voucher turns into a success screen
by itself when the merchant fulfils it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from backend.accounts.models import Role, User
from backend.events import forest
from backend.events.models import Event
from backend.extensions import db

from ..backend.events.helpers import plan_data
from ..factories import Factories
from .conftest import ORGANISER, STAFF, sign_in

pytestmark = pytest.mark.e2e

RESIDENT = "13800000001"  # the demo resident: credited bus trips, a linked bus card


def test_the_voucher_page_turns_into_a_success_screen_by_itself(open_page, journey_data):
    resident = open_page()
    sign_in(resident, RESIDENT)
    resident.goto(f"/offers/{journey_data.offer_id}")
    resident.locator("main form button[type=submit]").first.click()
    expect(resident).to_have_url(re.compile(r"/redemptions/\d+$"))
    code = resident.locator(".short-code").inner_text().strip()
    expect(resident.locator("#voucher-done")).to_have_count(0)

    staff = open_page()
    sign_in(staff, STAFF)
    staff.locator("#code").fill(code)
    staff.locator("#scan-form button[type=submit]").click()
    expect(staff.locator(".flash-success")).to_be_visible()

    # nobody touches the resident's phone: the page notices on its own
    done = resident.locator("#voucher-done")
    expect(done).to_be_visible(timeout=15_000)
    expect(done).to_contain_text("兑换成功")
    expect(resident.locator(".qr")).to_have_count(0)

    # the refund shows exactly what it does before doing it
    staff.goto("/merchant")
    staff.locator(".today-row").filter(has_text=code).get_by_role("link").click()
    preview = staff.locator(".preview")
    expect(preview).to_contain_text("200 积分退回居民 138****0001")
    expect(preview).to_contain_text("不能撤回")
    staff.get_by_role("button", name="退回 200 积分").click()
    expect(staff.locator(".flash-success")).to_be_visible()


def _demo_event_id(live_app) -> int:
    with live_app.app_context():
        organiser = db.session.scalar(select(User).where(User.phone == ORGANISER))
        event_id = db.session.scalar(select(Event.id).where(Event.organiser_id == organiser.id))
        db.session.remove()
    return int(event_id)


def test_retiring_for_an_event_shows_which_reductions_and_the_overshoot(
    open_page, journey_data, live_app
):
    page = open_page()
    sign_in(page, ORGANISER)
    event_url = f"/organiser/events/{_demo_event_id(live_app)}"
    page.goto(event_url)
    page.locator("#kg").fill("1")
    page.locator("#retire button[type=submit]").click()
    preview = page.locator("#preview")
    expect(preview).to_contain_text("您要求抵消 1.000 千克")
    total = float(page.locator("#preview-total").inner_text())
    assert total > 1.0  # bus trips of 0.359 kg each, retired whole
    expect(page.locator("#overshoot")).to_be_visible()
    page.get_by_role("link", name="不，修改数量").click()
    expect(page).to_have_url(re.compile(re.escape(event_url)))
    expect(page.locator("#retire")).not_to_contain_text("QZCI-R-")  # nothing retired

    page.locator("#kg").fill("1")
    page.locator("#retire button[type=submit]").click()
    page.get_by_role("button", name=re.compile("接受多出的部分")).click()
    expect(page.locator(".flash-success")).to_contain_text(f"{total:.3f}")


def test_donating_unlinking_and_reissuing_a_card_are_previewed(open_page, journey_data, live_app):
    with live_app.app_context():
        organiser = db.session.scalar(select(User).where(User.phone == ORGANISER))
        admin = Factories().user(Role.ADMIN)
        event = db.session.scalar(select(Event).where(Event.organiser_id == organiser.id))
        plan = forest.create_plan(organiser, event.id, plan_data())
        forest.submit_plan(organiser, plan.id)
        forest.review_plan(admin, plan.id, True)
        plan_id = plan.id
        db.session.remove()

    page = open_page()
    sign_in(page, RESIDENT)
    page.goto(f"/projects/{plan_id}")
    page.locator("#points").fill("100")
    page.locator("#donate button[type=submit]").click()
    preview = page.locator("#preview")
    expect(preview).to_contain_text("100 积分将捐入")
    expect(preview).to_contain_text("不能退回")
    page.get_by_role("button", name="捐出 100 积分").click()
    expect(page.locator(".flash-success")).to_be_visible()

    page.goto("/sources")
    page.get_by_role("button", name="解除绑定").first.click()
    expect(page.locator("#preview")).to_contain_text("不再记入")
    page.get_by_role("link", name="不，返回").click()
    expect(page).to_have_url(re.compile(r"/sources$"))

    page.goto("/card")
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".flash-success")).to_contain_text("已办好")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#preview")).to_contain_text("旧卡将立即")
    page.get_by_role("button", name="补办新卡").click()
    expect(page.locator(".flash-success")).to_contain_text("旧卡即刻失效")
