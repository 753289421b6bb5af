"""Issue 19 in the browser (Chromium, 360x640): the forest grows a stage, a streak and a
milestone appear, two residents form a team and plant together, a credit raises the
notification badge and reaches a (local, fake) push service encrypted."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from backend.extensions import db as _db
from backend.timeutil import local, utcnow

from ..backend.engagement.trips import planted_project
from ..backend.notifications.test_push import Browser, FakePushService, b64, raw_public
from ..factories import Factories
from ..helpers import link_proven
from .conftest import push_batch, sign_in

pytestmark = pytest.mark.e2e

PASSWORD = "green2026e2e"


def _trip(record_id: str, card: str, hour: int, km: float = 8.2) -> dict[str, Any]:
    start = local(utcnow()).replace(hour=hour, minute=0, second=0, microsecond=0)
    if start + timedelta(minutes=25) > local(utcnow()):
        start -= timedelta(days=1)  # early in the morning: yesterday's trips
    return {
        "record_id": record_id,
        "action": "public_transit",
        "identity": card,
        "activity": {
            "mode": "bus",
            "distance_km": km,
            "started_at": start.isoformat(),
            "ended_at": (start + timedelta(minutes=25)).isoformat(),
        },
    }


def _resident(live_app: Flask, phone: str, card: str, nickname: str, points: int = 0) -> int:
    with live_app.app_context():
        make = Factories()
        resident = make.resident(phone=phone, password=PASSWORD, nickname=nickname)
        link_proven(resident, "e2e-bus", card)
        if points:
            make.points(resident, points)
        _db.session.commit()
        resident_id = resident.id
        _db.session.remove()
        return resident_id


def test_the_forest_grows_and_a_streak_and_milestone_appear(open_page, journey_data, live_app):
    _resident(live_app, "13911110001", "QZE2E19001", "森林")
    page = open_page()
    sign_in(page, "13911110001", PASSWORD)
    page.goto("/home?lang=en")
    forest = page.locator("svg.forest-art")
    expect(forest).to_have_attribute("data-stage", "0")
    expect(page.get_by_text("Stage 0: a seed")).to_be_visible()
    expect(page.get_by_text("0 weeks in a row")).to_be_visible()
    expect(page.locator("#bell .bell-count")).to_have_count(0)

    push_batch(journey_data, [_trip(f"f-{i}", "QZE2E19001", 6 + i) for i in range(3)])
    page.reload()
    expect(forest).to_have_attribute("data-stage", "1")
    expect(page.get_by_text("Stage 1: a sprout")).to_be_visible()
    expect(page.get_by_text("1 week in a row")).to_be_visible()
    expect(page.locator(".badge-list")).to_contain_text("First Bus and rail trips")
    expect(page.locator("#bell .bell-count")).to_have_text("1")  # the credit is news
    page.screenshot(path="test-results/i19-home.png", full_page=True)
    page.locator("#bell").click()
    expect(page.locator(".notice").first).to_contain_text("Credit arrived")
    page.goto("/badges")
    expect(page.locator(".badge-grid .earned")).to_have_count(1)


@pytest.fixture
def push_service(live_app: Flask) -> Iterator[FakePushService]:
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415 - test set-up

    key = ec.generate_private_key(ec.SECP256R1())
    names = ("VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY", "PUSH_ALLOW_HTTP")
    saved = {name: live_app.config.get(name) for name in names}
    live_app.config.update(
        VAPID_PRIVATE_KEY=b64(key.private_numbers().private_value.to_bytes(32, "big")),
        VAPID_PUBLIC_KEY=b64(raw_public(key)),
        PUSH_ALLOW_HTTP=True,
    )
    service = FakePushService()
    yield service
    service.close()
    live_app.config.update(saved)


SUBSCRIBE = """async ([subscription]) => {
  const button = document.getElementById("push-on");
  const response = await fetch(button.dataset.url, {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRFToken": button.dataset.csrf},
    body: JSON.stringify(subscription)});
  return response.status;
}"""


def test_a_credit_raises_the_badge_and_reaches_the_push_service(
    open_page, journey_data, live_app, push_service
):
    _resident(live_app, "13911110002", "QZE2E19002", "推送")
    page = open_page()
    sign_in(page, "13911110002", PASSWORD)
    page.goto("/notifications")
    expect(page.locator("#push-on")).to_be_visible()  # the opt-in, with the VAPID key
    # Headless Chromium has no vendor push service: the page hands the server the
    # subscription a browser would make, pointing at the local fake service.
    browser = Browser(push_service.url + "/push/e2e")
    assert page.evaluate(SUBSCRIBE, [browser.subscription()]) == 201
    page.goto("/home")
    expect(page.locator("#bell .bell-count")).to_have_count(0)

    push_batch(journey_data, [_trip("p-1", "QZE2E19002", 7)])
    page.reload()
    expect(page.locator("#bell .bell-count")).to_have_text("1")
    assert len(push_service.received) == 1
    sent = push_service.received[0]
    assert sent["headers"]["content-encoding"] == "aes128gcm"
    assert browser.open(sent["body"])["title"] == "积分到账"
    # the service worker is the one that shows it
    worker = page.request.get("/sw.js").text()
    assert 'addEventListener("push"' in worker and "showNotification" in worker


def test_two_residents_form_a_team_co_donate_and_see_progress(open_page, journey_data, live_app):
    _resident(live_app, "13911110003", "QZE2E19003", "安安", points=500)
    _resident(live_app, "13911110004", "QZE2E19004", "博博", points=500)
    with live_app.app_context():
        plan_id = planted_project(Factories()).id
        _db.session.remove()

    ann = open_page()
    sign_in(ann, "13911110003", PASSWORD)
    ann.goto("/teams?lang=en")
    ann.get_by_label("Team name").fill("府山社区")
    ann.get_by_label("Kind").select_option("community")
    ann.get_by_role("button", name="Start the team").click()
    expect(ann).to_have_url(re.compile(r"/teams/\d+$"))
    team_url = ann.url
    code = ann.locator("#invite-code").inner_text()
    ann.get_by_label("Planting project").select_option(str(plan_id))
    ann.get_by_label("Points to give together").fill("300")
    ann.get_by_role("button", name="Save the goal").click()
    expect(ann.locator("#team-progress")).to_contain_text("0 of 300 points given together")

    bo = open_page()
    sign_in(bo, "13911110004", PASSWORD)
    bo.goto(f"/teams/join?code={code}&lang=en")
    expect(bo.locator("h1")).to_have_text("Join 府山社区?")
    bo.get_by_role("button", name="Join").click()
    expect(bo).to_have_url(team_url)
    bo.get_by_label(re.compile("Points")).first.fill("120")
    bo.get_by_role("button", name="Donate with the team").click()
    expect(bo.locator(".confirm-box")).to_contain_text("120 points go to the forest fund")
    bo.get_by_role("button", name="Donate 120 points").click()
    expect(bo.locator("#team-progress")).to_contain_text("120 of 300 points given together")
    bo.screenshot(path="test-results/i19-team.png", full_page=True)

    ann.reload()
    ann.get_by_label(re.compile("Points")).first.fill("180")
    ann.get_by_role("button", name="Donate with the team").click()
    ann.get_by_role("button", name="Donate 180 points").click()
    expect(ann.locator("#team-progress")).to_contain_text("300 of 300 points given together")
    expect(ann.locator("#team-progress")).to_contain_text("Goal reached")
    expect(ann.locator("#members")).to_contain_text("安安 (you)")
    expect(ann.locator("#members")).to_contain_text("A member")  # Bo did not opt in
    bo.reload()
    expect(bo.locator("#bell .bell-count")).to_have_text("1")  # the goal is news


CONTROLLED = """async () => {
  await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) {
    await new Promise((resolve) => navigator.serviceWorker.addEventListener(
      "controllerchange", resolve, {once: true}));
  }
  return true;
}"""


def test_an_open_voucher_and_the_household_card_open_offline(open_page, journey_data, live_app):
    _resident(live_app, "13911110005", "QZE2E19005", "离线", points=500)
    page = open_page()
    sign_in(page, "13911110005", PASSWORD)
    page.evaluate(CONTROLLED)  # the service worker controls the pages from now on
    page.goto(f"/offers/{journey_data.offer_id}?lang=en")
    page.get_by_role("button", name="Redeem for 200 points").click()
    expect(page).to_have_url(re.compile(r"/redemptions/\d+$"))
    voucher_url = page.url
    code = page.locator(".short-code").inner_text().strip()
    expect(page.locator("[data-offline-note]")).to_be_hidden()  # online: no note
    page.goto("/card")
    page.get_by_role("button", name="Get a household card").click()
    page.goto("/card")  # viewed online once
    page.goto("/home")

    page.context.set_offline(True)
    try:
        page.goto(voucher_url)  # in the shop's back room
        expect(page.locator(".short-code")).to_have_text(code)
        expect(page.locator(".voucher .qr svg")).to_be_visible()
        expect(page.locator("[data-offline-note]")).to_be_visible()
        expect(page.locator("[data-offline-note]")).to_contain_text("Offline")
        page.screenshot(path="test-results/i19-offline-voucher.png", full_page=True)
        page.goto("/card")
        expect(page.locator(".voucher .qr svg")).to_be_visible()
        expect(page.locator("[data-offline-note]")).to_be_visible()
        page.goto("/actions")  # not saved: the offline page
        expect(page.locator("h1")).to_have_text("您已离线")  # the shell, cached at install
    finally:
        page.context.set_offline(False)
    page.goto(voucher_url)
    expect(page.locator("[data-offline-note]")).to_be_hidden()
