"""Cancel and refund take an Idempotency-Key; a refund is dated and settled in its own period."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from backend.extensions import db
from backend.ledger.models import EntryKind, LedgerEntry
from backend.ledger.queries import merchant_balance, resident_balance
from backend.ledger.reconcile import reconcile
from backend.rewards import services
from backend.rewards.models import Offer, Redemption
from backend.timeutil import LOCAL_TZ

HEADER = [
    "redemption_id",
    "event",
    "at_local",
    "offer_id",
    "offer_title",
    "points",
    "points_settled",
    "funded_yuan_per_point",
    "funded_yuan",
]


@pytest.fixture
def shop(make):
    merchant = make.merchant(name="南孔书屋")
    offer = make.offer(merchant, title_zh="环保咖啡杯", points_price=100, stock=5)
    return merchant, make.staff(merchant), offer


@pytest.fixture
def resident(make):
    user = make.resident()
    make.points(user, 250)
    return user


def _entries(db, kind: EntryKind) -> int:
    return db.session.scalar(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == kind)
    )


def _at(monkeypatch, when: str) -> None:
    """Let the redemption services act at a local (Asia/Shanghai) time."""
    moment = datetime.fromisoformat(when).replace(tzinfo=LOCAL_TZ)
    monkeypatch.setattr(services, "utcnow", lambda: moment)


def test_cancel_repeated_with_the_same_key_returns_the_first_and_changes_nothing(
    client, auth, shop, resident, db
):
    _, _, offer = shop
    redemption = services.redeem_offer(resident, offer.id, "hold")
    assert resident_balance(resident.id) == 150
    headers = {**auth.bearer(resident), "Idempotency-Key": "cancel-1"}
    url = f"/api/v1/redemptions/{redemption.id}/cancel"
    first = client.post(url, headers=headers)
    assert first.status_code == 200 and first.get_json()["status"] == "cancelled"
    again = client.post(url, headers=headers)
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert resident_balance(resident.id) == 250  # released once: 150 + 100
    assert _entries(db, EntryKind.RELEASE) == 1
    assert db.session.get(Offer, offer.id).stock == 5  # taken once, given back once
    assert reconcile().clean


def test_refund_repeated_with_the_same_key_returns_the_first_and_moves_nothing(
    client, auth, shop, resident, db
):
    merchant, staff, offer = shop
    redemption = services.redeem_offer(resident, offer.id, "r")
    services.fulfil_redemption(staff, code=redemption.short_code)
    assert (resident_balance(resident.id), merchant_balance(merchant.id)) == (150, 100)
    headers = {**auth.bearer(staff), "Idempotency-Key": "refund-1"}
    url = f"/api/v1/merchant/redemptions/{redemption.id}/refund"
    first = client.post(url, json={"reason": "cup cracked"}, headers=headers)
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert body["status"] == "refunded" and body["refunded_at"] is not None
    again = client.post(url, json={"reason": "cup cracked"}, headers=headers)
    assert again.status_code == 200 and again.get_json() == body
    assert (resident_balance(resident.id), merchant_balance(merchant.id)) == (250, 0)
    assert _entries(db, EntryKind.REFUND) == 1
    stored = db.session.get(Redemption, redemption.id)
    assert stored.refund_reason == "cup cracked" and stored.refunded_at is not None
    assert reconcile().clean


@pytest.mark.parametrize("path", ["cancel", "refund"])
def test_an_overlong_key_is_refused_and_changes_nothing(client, auth, shop, resident, path):
    merchant, staff, offer = shop
    redemption = services.redeem_offer(resident, offer.id, "k")
    if path == "refund":
        services.fulfil_redemption(staff, code=redemption.short_code)
        url, user = f"/api/v1/merchant/redemptions/{redemption.id}/refund", staff
    else:
        url, user = f"/api/v1/redemptions/{redemption.id}/cancel", resident
    response = client.post(
        url, json={"reason": "x"}, headers={**auth.bearer(user), "Idempotency-Key": "k" * 101}
    )
    assert response.status_code == 422
    assert resident_balance(resident.id) == 150  # still held or settled, not given back


def test_the_openapi_documents_the_optional_key_of_cancel_and_refund(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in (
        "/api/v1/redemptions/{redemption_id}/cancel",
        "/api/v1/merchant/redemptions/{redemption_id}/refund",
    ):
        operation = spec["paths"][path]["post"]
        (header,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
        assert header["in"] == "header" and not header.get("required", False)
        assert "idempotent" in header["description"]
        assert "Idempotency-Key" in operation["description"]


def _csv(client, staff_headers, start: str, end: str) -> list[list[str]]:
    response = client.get(
        f"/api/v1/merchant/settlement.csv?from={start}&to={end}", headers=staff_headers
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return [line.split(",") for line in response.get_data(as_text=True).splitlines()]


def test_a_refund_in_a_later_period_is_a_negative_row_there_and_leaves_the_first_alone(
    client, auth, shop, resident, monkeypatch
):
    merchant, staff, offer = shop
    merchant.funded_yuan_per_point = "0.01"  # the city funds this merchant's redemptions
    db.session.commit()
    headers = auth.bearer(staff)
    kept = services.redeem_offer(resident, offer.id, "kept")
    refunded = services.redeem_offer(resident, offer.id, "refunded")
    # period A, 30 November (local): both fulfilled, the second just before midnight
    _at(monkeypatch, "2026-11-30T10:00:00")
    services.fulfil_redemption(staff, code=kept.short_code)
    _at(monkeypatch, "2026-11-30T23:50:00")
    services.fulfil_redemption(staff, code=refunded.short_code)
    period_a = [
        HEADER,
        [
            str(kept.id),
            "fulfilled",
            "2026-11-30 10:00:00",
            str(offer.id),
            "环保咖啡杯",
            "100",
            "100",
            "0.01",
            "1.00",
        ],
        [
            str(refunded.id),
            "fulfilled",
            "2026-11-30 23:50:00",
            str(offer.id),
            "环保咖啡杯",
            "100",
            "100",
            "0.01",
            "1.00",
        ],
        ["total", "", "", "", "", "", "200", "", "2.00"],  # 100 + 100; 200 × ¥0.01
    ]
    assert _csv(client, headers, "2026-11-30", "2026-11-30") == period_a
    # period B, 1 December (local): the second is refunded twenty minutes later
    _at(monkeypatch, "2026-12-01T00:10:00")
    services.refund_redemption(staff, refunded.id, "wrong size")
    assert _csv(client, headers, "2026-11-30", "2026-11-30") == period_a  # unchanged
    assert _csv(client, headers, "2026-12-01", "2026-12-01") == [
        HEADER,
        [
            str(refunded.id),
            "refunded",
            "2026-12-01 00:10:00",
            str(offer.id),
            "环保咖啡杯",
            "100",
            "-100",
            "0.01",
            "-1.00",
        ],
        ["total", "", "", "", "", "", "-100", "", "-1.00"],
    ]
    both = _csv(client, headers, "2026-11-30", "2026-12-01")
    assert [row[:2] for row in both[1:-1]] == [
        [str(kept.id), "fulfilled"],
        [str(refunded.id), "fulfilled"],
        [str(refunded.id), "refunded"],
    ]
    # 100 + 100 - 100 = 100: the periods add up to the merchant's ledger account
    assert both[-1][-3] == "100" == str(merchant_balance(merchant.id))
    assert both[-1][-1] == "1.00"  # the city funds ¥0.01 a point: 100 points, ¥1.00
    assert _csv(client, headers, "2026-12-02", "2026-12-02")[1:] == [
        ["total", "", "", "", "", "", "0", "", "0.00"]
    ]
    assert reconcile().clean


def test_the_merchant_page_downloads_the_same_settlement(client, auth, shop, resident, monkeypatch):
    _, staff, offer = shop
    redemption = services.redeem_offer(resident, offer.id, "page")
    _at(monkeypatch, "2026-11-30T12:00:00")
    services.fulfil_redemption(staff, code=redemption.short_code)
    _at(monkeypatch, "2026-12-01T12:00:00")
    services.refund_redemption(staff, redemption.id, "page")
    api = client.get(
        "/api/v1/merchant/settlement.csv?from=2026-11-30&to=2026-12-01",
        headers=auth.bearer(staff),
    ).get_data(as_text=True)
    auth.login_page(staff)
    page = client.get(
        "/merchant/settlement.csv?from=2026-11-30&to=2026-12-01",
        headers={"Accept-Language": "zh-CN"},
    )
    assert page.status_code == 200
    # the same rows, with the headers and kinds in words for people
    rows, machine = page.get_data(as_text=True).lstrip("\ufeff").splitlines(), api.splitlines()
    assert len(rows) == len(machine) and rows[0].startswith("兑换单号,类型,时间（北京时间）")
    assert [r.split(",")[2:] for r in rows[1:-1]] == [m.split(",")[2:] for m in machine[1:-1]]
    assert "已核销" in rows[1] and "已退还" in rows[2] and rows[-1] == "合计,,,,,,0,,0.00"
    assert api.splitlines()[-1] == "total,,,,,,0,,0.00"  # +100 on the 30th, -100 on the 1st
    # a period that ends before it starts stays on the counter, the problem under the dates
    wrong = client.get("/merchant/settlement.csv?from=2026-12-01&to=2026-11-30")
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and 'id="period-error"' in html
    assert 'value="2026-12-01"' in html and 'id="scan-form"' in html
