"""Staff and organiser journeys: a weighed drop-off credited by a photo of the resident's QR
code (decoded on the server) or by its short code, and an organiser's event from creation to
its carbon measurement report (PDF)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import ATTENDANT, ORGANISER, sign_in

pytestmark = pytest.mark.e2e

RESIDENT = "13800000001"  # the demo resident


# Debian's Chromium on Linux has no BarcodeDetector; removing it anyway keeps the journey on
# the path every attendant's phone has: the photo is uploaded and decoded on the server.
NO_BARCODE_DETECTOR = "delete window.BarcodeDetector;"


@pytest.mark.parametrize("by", ["qr", "code"])
def test_station_attendant_credits_a_weighed_drop_off_by_the_residents_qr(
    open_page, journey_data, by
):
    resident = open_page()
    sign_in(resident, RESIDENT)
    resident.goto("/my-qr")
    qr = resident.locator(".qr")
    expect(qr.locator("svg")).to_be_visible()
    code = resident.locator(".short-code").inner_text().strip()
    assert code
    photo = qr.screenshot()  # what the attendant's camera sees on the resident's phone

    attendant = open_page()
    attendant.add_init_script(NO_BARCODE_DETECTOR)
    sign_in(attendant, ATTENDANT)
    attendant.goto("/merchant")
    attendant.locator("#weight_paper").fill("2.5")
    attendant.locator("#weight_plastic").fill("1.2")
    if by == "qr":
        attendant.get_by_label("或拍摄二维码照片").set_input_files(
            {"name": "qr.png", "mimeType": "image/png", "buffer": photo}
        )
    else:
        attendant.get_by_label("或输入兑换码").fill(code)
    attendant.locator("#scan-form button[type=submit]").click()
    result = attendant.locator(".result")
    expect(result.locator(".badge")).to_have_text("已加分")
    grams = re.search(r"(\d+) 克二氧化碳当量", result.inner_text())
    assert grams and int(grams.group(1)) > 0, result.inner_text()
    expect(attendant.locator(".today-row").first).to_contain_text("已加分")

    resident.goto("/actions")
    drop_off = resident.locator(".list-card").first
    expect(drop_off).to_contain_text("已加分")
    expect(drop_off).to_contain_text(f"{grams.group(1)} 克二氧化碳当量")
    # the credit opens with one plain line; the full calculation is one tap away
    drop_off.click()
    expect(resident.locator(".calc-summary")).to_contain_text("纸类 2.5 kg、塑料 1.2 kg")
    expect(resident.locator(".calc-summary")).to_contain_text("少排")
    steps = resident.locator("details[data-audit] .calc-steps")
    expect(steps).to_be_hidden()
    resident.get_by_text("完整计算过程").click()
    expect(steps).to_be_visible()

    # the QR (and its code) works once
    attendant.locator("#weight_paper").fill("1")
    if by == "qr":
        attendant.locator("#photo").set_input_files(
            {"name": "qr.png", "mimeType": "image/png", "buffer": photo}
        )
    else:
        attendant.locator("#code").fill(code)
    attendant.locator("#scan-form button[type=submit]").click()
    expect(attendant.locator("#form-error, #code-error").first).to_be_visible()
    expect(attendant.locator(".result")).to_have_count(0)


def test_organiser_creates_an_event_enters_planned_data_and_downloads_the_report(
    open_page, journey_data
):
    page = open_page()
    sign_in(page, ORGANISER)
    expect(page).to_have_url(re.compile(r"/organiser$"))
    page.goto("/organiser/events/new")
    page.locator("#name").fill("衢州马拉松（测试）")
    page.locator("#venue").fill("衢州体育中心")
    page.locator("#district").select_option("柯城区")
    page.locator("#starts_on").fill("2027-10-10")
    page.locator("#ends_on").fill("2027-10-10")
    page.locator("#expected_participants").fill("500")
    page.locator("main form button[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/organiser/events/\d+/footprint/planned$"))
    expect(page.locator("#participants")).to_have_value("500")
    page.locator("#amount-purchased_energy-electricity").fill("20000")
    page.locator("#travel-0-kind").select_option("hsr")
    page.locator("#travel-0-travellers").fill("300")
    page.locator("#travel-0-trips").fill("2")
    page.locator("#travel-0-distance_km").fill("300")
    page.locator("#amount-accommodation-hotel").fill("400")
    page.locator("#amount-catering-meal").fill("3000")
    page.locator("main form button[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/organiser/events/\d+/report/planned$"))
    expect(page.locator("h1, .report-title").first).to_be_visible()
    expect(page.locator("main")).to_contain_text("衢州马拉松（测试）")
    total = page.locator(".report-total").inner_text()
    tonnes, per_participant_kg = (float(x) for x in re.findall(r"\d+\.\d+", total)[:2])
    assert tonnes > 30 and per_participant_kg == pytest.approx(tonnes * 1000 / 500), total
    with page.expect_download() as download_info:
        page.get_by_role("link", name="下载 PDF").click()
    download = download_info.value
    content = Path(download.path()).read_bytes()
    assert content.startswith(b"%PDF-"), content[:20]
    assert download.suggested_filename.endswith(".pdf")
