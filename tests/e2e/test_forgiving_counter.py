"""The counter forgives (Chromium, 360x640, Chinese): a staff typo keeps the resident's code
valid, a correction reverses a drop-off and credits the right weight, and a refund shows
what it does before it is done."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from .conftest import ATTENDANT, CHROMIUM, CHROMIUM_ARGS, VIEWPORT, sign_in

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


def _y4m(png: bytes, path) -> None:
    """A one-frame Y4M video of an image: what Chromium's fake camera shows."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    side = max(image.size) + 80
    side += side % 2
    canvas = Image.new("RGB", (side, side), "white")
    canvas.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    y, u, v = canvas.convert("YCbCr").split()
    half = (side // 2, side // 2)
    header = f"YUV4MPEG2 W{side} H{side} F10:1 Ip A1:1 C420jpeg\n".encode()
    frame = b"FRAME\n" + y.tobytes() + u.resize(half).tobytes() + v.resize(half).tobytes()
    path.write_bytes(header + frame)


def test_the_live_camera_scan_reads_the_residents_qr(
    open_page, journey_data, browser_type, tmp_path
):
    """No BarcodeDetector (as on Debian's Chromium): the vendored decoder reads the camera."""
    resident = open_page()
    sign_in(resident, RESIDENT)
    resident.goto("/my-qr")
    video = tmp_path / "qr.y4m"
    _y4m(resident.locator(".qr").screenshot(), video)

    browser = browser_type.launch(
        executable_path=CHROMIUM,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    try:
        context = browser.new_context(
            base_url=journey_data.base_url,
            viewport=VIEWPORT,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )
        context.grant_permissions(["camera"])
        attendant = context.new_page()
        attendant.add_init_script("delete window.BarcodeDetector;")
        decoder_loads = []
        attendant.on("request", lambda r: decoder_loads.append(r.url) if "jsQR" in r.url else None)
        sign_in(attendant, ATTENDANT)
        attendant.goto("/merchant")
        assert not decoder_loads  # the decoder is not loaded before the camera starts
        attendant.locator("#weight_paper").fill("1.5")
        attendant.get_by_role("button", name="用摄像头扫码").click()
        result = attendant.locator(".result")
        expect(result.locator(".badge")).to_have_text("已加分", timeout=15_000)
        expect(result).to_contain_text("纸类 1.5 kg")
        assert decoder_loads
    finally:
        browser.close()
