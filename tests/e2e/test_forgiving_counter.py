"""The counter forgives (Chromium, 360x640, Chinese): a staff typo keeps the resident's code
valid, a correction reverses a drop-off and credits the right weight, and a refund shows
what it does before it is done."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import ATTENDANT, sign_in

pytestmark = pytest.mark.e2e

RESIDENT = "13800000001"  # the demo resident


def _resident_code(resident) -> str:
    resident.goto("/my-qr")
    code = resident.locator(".short-code").inner_text().strip()
    assert code
    return code


def test_a_typo_keeps_the_code_and_a_correction_reverses_the_drop_off(open_page, journey_data):
    resident = open_page()
    sign_in(resident, RESIDENT)
    code = _resident_code(resident)
    resident.goto("/points")
    points_before = int(re.sub(r"\D", "", resident.locator(".stat-value").first.inner_text()))
    resident.goto("/actions")
    history = resident.locator(".list-card").count()

    attendant = open_page()
    sign_in(attendant, ATTENDANT)
    attendant.goto("/merchant")
    attendant.locator("#code").fill(code)
    attendant.locator("#weight_paper").fill("250")  # 2.50 kg, the decimal point missed
    attendant.locator("#weight_plastic").fill("1,2")
    attendant.locator("#scan-form button[type=submit]").click()

    # every problem on its field, what was typed still there, and the code still good
    expect(attendant.locator("#weight_paper-error")).to_contain_text("纸类 250 kg")
    expect(attendant.locator("#weight_plastic-error")).to_be_visible()
    expect(attendant.locator("#weight_paper")).to_have_attribute("aria-invalid", "true")
    expect(attendant.locator("#form-error")).to_contain_text("居民的码未使用")
    expect(attendant.locator("#code")).to_have_value(code)
    expect(attendant.locator(".result")).to_have_count(0)

    resident.goto("/actions")
    expect(resident.locator(".list-card")).to_have_count(history)  # nothing added to history

    attendant.locator("#weight_paper").fill("25")  # still wrong: 25 instead of 2.5
    attendant.locator("#weight_plastic").fill("1.2")
    attendant.locator("#scan-form button[type=submit]").click()
    result = attendant.locator(".result")
    expect(result.locator(".badge")).to_have_text("已加分")
    expect(result).to_contain_text("纸类 25 kg、塑料 1.2 kg")
    expect(result).to_contain_text("居民 138****0001")
    expect(attendant.locator(".today-row").first).to_contain_text("纸类 25 kg")

    # the attendant sees the mistake and corrects it: no new code needed
    result.get_by_role("link", name="更正或撤销").click()
    expect(attendant.locator("#weight_paper")).to_have_value("25")
    expect(attendant.locator("#cancel-preview")).to_contain_text("扣回")
    attendant.locator("#weight_paper").fill("2.5")
    attendant.locator("#correct-form button[type=submit]").click()
    corrected = attendant.locator(".result")
    expect(corrected.locator(".badge")).to_have_text("已加分")
    expect(corrected).to_contain_text("纸类 2.5 kg、塑料 1.2 kg")
    added = int(re.search(r"(\d+) 积分", corrected.inner_text()).group(1))
    today = attendant.locator(".today-row")
    expect(today.filter(has_text="纸类 25 kg")).to_contain_text("柜台已撤销")

    resident.goto("/actions")
    cards = resident.locator(".list-card")
    expect(cards).to_have_count(history + 2)
    expect(cards.filter(has_text="柜台已撤销")).to_have_count(1)
    expect(cards.first).to_contain_text("已加分")
    resident.goto("/points")
    points_after = int(re.sub(r"\D", "", resident.locator(".stat-value").first.inner_text()))
    assert points_after == points_before + added


def test_a_used_code_says_so_on_the_code_field(open_page, journey_data):
    resident = open_page()
    sign_in(resident, RESIDENT)
    code = _resident_code(resident)
    attendant = open_page()
    sign_in(attendant, ATTENDANT)
    attendant.goto("/merchant")
    for _ in range(2):
        attendant.locator("#code").fill(code)
        attendant.locator("#weight_metal").fill("1")
        attendant.locator("#scan-form button[type=submit]").click()
    expect(attendant.locator("#code-error")).to_contain_text("已使用")
    expect(attendant.locator("#weight_metal")).to_have_value("1")
