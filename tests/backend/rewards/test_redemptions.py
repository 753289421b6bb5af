from __future__ import annotations

import io

import pytest
import qrcode
from sqlalchemy import func, select

from backend.ledger.queries import merchant_balance, resident_balance
from backend.ledger.reconcile import reconcile
from backend.rewards import services
from backend.rewards.models import Offer, Redemption

from ...factories import PASSWORD


@pytest.fixture
def shop(make):
    merchant = make.merchant(name="南孔书屋")
    return merchant, make.staff(merchant), make.offer(merchant, points_price=100, stock=3)


@pytest.fixture
def resident(make):
    user = make.resident()
    make.points(user, 250)
    return user


def _redemptions(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Redemption))


def test_redeem_holds_points_and_fulfil_settles_them(client, auth, shop, resident, db):
    merchant, staff, offer = shop
    headers = auth.bearer(resident)
    made = client.post(
        f"/api/v1/offers/{offer.id}/redeem", headers={**headers, "Idempotency-Key": "k1"}
    )
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["status"] == "held" and body["points"] == 100 and body["qr_token"]
    assert resident_balance(resident.id) == 150
    assert db.session.get(Offer, offer.id).stock == 2
    staff_headers = auth.bearer(staff)
    done = client.post(
        "/api/v1/merchant/fulfil", json={"token": body["qr_token"]}, headers=staff_headers
    )
    assert done.status_code == 200 and done.get_json()["status"] == "fulfilled"
    assert merchant_balance(merchant.id) == 100
    today = client.get("/api/v1/merchant/redemptions", headers=staff_headers).get_json()
    assert [r["id"] for r in today] == [body["id"]]
    assert reconcile().clean


def test_repeating_a_redemption_with_the_same_key_returns_the_first(
    client, auth, shop, resident, db
):
    _, _, offer = shop
    headers = {**auth.bearer(resident), "Idempotency-Key": "same-key"}
    first = client.post(f"/api/v1/offers/{offer.id}/redeem", headers=headers).get_json()
    again = client.post(f"/api/v1/offers/{offer.id}/redeem", headers=headers).get_json()
    assert first["id"] == again["id"]
    assert resident_balance(resident.id) == 150
    assert _redemptions(db) == 1


def test_fulfil_by_typed_short_code_and_by_photo(client, auth, shop, make, db):
    merchant, staff, offer = shop
    user = make.resident()
    make.points(user, 300)
    r1 = services.redeem_offer(user, offer.id, "a")
    r2 = services.redeem_offer(user, offer.id, "b")
    staff_headers = auth.bearer(staff)
    typed = client.post(
        "/api/v1/merchant/fulfil",
        json={"code": f"{r1.short_code[:4].lower()}-{r1.short_code[4:]}"},
        headers=staff_headers,
    )
    assert typed.status_code == 200
    token = client.get(f"/api/v1/redemptions/{r2.id}", headers=auth.bearer(user)).get_json()[
        "qr_token"
    ]
    png = io.BytesIO()
    qrcode.make(token).save(png, format="PNG")
    photo = client.post(
        "/api/v1/merchant/fulfil/photo",
        headers=staff_headers,
        data={"photo": (io.BytesIO(png.getvalue()), "qr.png")},
        content_type="multipart/form-data",
    )
    assert photo.status_code == 200, photo.get_json()
    assert merchant_balance(merchant.id) == 200
    blank = client.post(
        "/api/v1/merchant/fulfil/photo",
        headers=staff_headers,
        data={"photo": (io.BytesIO(b"not an image"), "x.png")},
        content_type="multipart/form-data",
    )
    assert blank.status_code == 422 and blank.get_json()["code"] == "unreadable_image"


def test_fulfilling_twice_is_refused_unless_it_is_the_same_retry(client, auth, shop, resident):
    _, staff, offer = shop
    redemption = services.redeem_offer(resident, offer.id, "x")
    headers = {**auth.bearer(staff), "Idempotency-Key": "fulfil-1"}
    first = client.post(
        "/api/v1/merchant/fulfil", json={"code": redemption.short_code}, headers=headers
    )
    retry = client.post(
        "/api/v1/merchant/fulfil", json={"code": redemption.short_code}, headers=headers
    )
    assert first.status_code == retry.status_code == 200
    other = client.post(
        "/api/v1/merchant/fulfil", json={"code": redemption.short_code}, headers=auth.bearer(staff)
    )
    assert other.status_code == 409 and other.get_json()["code"] == "already_fulfilled"


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("unknown_offer", 404, "unknown_offer"),
        ("insufficient", 409, "insufficient_points"),
        ("out_of_stock", 409, "out_of_stock"),
        ("paused", 409, "offer_unavailable"),
        ("limit", 409, "limit_reached"),
    ],
)
def test_bad_redemptions_are_clear_and_change_nothing(client, auth, make, db, case, status, code):
    from backend.rewards.models import OfferStatus

    merchant = make.merchant()
    user = make.resident()
    make.points(user, 150)
    offer = make.offer(merchant, points_price=100, stock=5, per_resident_limit=1)
    offer_id = offer.id
    if case == "unknown_offer":
        offer_id = 999999
    elif case == "insufficient":
        offer.points_price = 500
    elif case == "out_of_stock":
        offer.stock = 0
    elif case == "paused":
        offer.status = OfferStatus.PAUSED
    elif case == "limit":
        services.redeem_offer(user, offer.id, "first")
    db.session.commit()
    balance, stock, count = resident_balance(user.id), offer.stock, _redemptions(db)
    response = client.post(f"/api/v1/offers/{offer_id}/redeem", headers=auth.bearer(user))
    assert response.status_code == status
    assert response.get_json()["code"] == code
    db.session.refresh(offer)
    assert (resident_balance(user.id), offer.stock, _redemptions(db)) == (balance, stock, count)


def test_other_merchants_code_and_expired_codes_are_refused(
    client, auth, make, shop, resident, app, db
):
    _, _, offer = shop
    other_staff = make.staff(make.merchant(name="别家"))
    redemption = services.redeem_offer(resident, offer.id, "o")
    wrong = client.post(
        "/api/v1/merchant/fulfil",
        json={"code": redemption.short_code},
        headers=auth.bearer(other_staff),
    )
    # the same answer as a code nobody holds: the counter learns nothing of other shops' codes
    assert wrong.status_code == 404 and wrong.get_json()["code"] == "unknown_code"
    unknown = client.post(
        "/api/v1/merchant/fulfil", json={"code": "ZZZZ-ZZZZ"}, headers=auth.bearer(other_staff)
    )
    assert unknown.status_code == 404 and unknown.get_json()["code"] == "unknown_code"
    # the QR token expires after REDEEM_QR_SECONDS
    token = client.get(
        f"/api/v1/redemptions/{redemption.id}", headers=auth.bearer(resident)
    ).get_json()["qr_token"]
    app.config["REDEEM_QR_SECONDS"] = -1
    try:
        stale = client.post(
            "/api/v1/merchant/fulfil", json={"token": token}, headers=auth.bearer(shop[1])
        )
    finally:
        app.config["REDEEM_QR_SECONDS"] = 300
    assert stale.status_code == 422 and stale.get_json()["code"] == "qr_expired"
    # a redemption past its hold time is expired by the job and gives the points back
    from datetime import timedelta

    from backend.timeutil import utcnow

    assert services.expire_redemptions(utcnow() + timedelta(days=30)) == 1
    late = client.post(
        "/api/v1/merchant/fulfil",
        json={"code": redemption.short_code},
        headers=auth.bearer(shop[1]),
    )
    assert late.status_code == 409 and late.get_json()["code"] == "redemption_expired"
    assert resident_balance(resident.id) == 250
    assert db.session.get(Offer, offer.id).stock == 3
    assert reconcile().clean


def test_a_token_for_another_purpose_is_refused(client, auth, shop, resident, app):
    from backend.qr import make_token

    _, staff, offer = shop
    redemption = services.redeem_offer(resident, offer.id, "p")
    with app.test_request_context():
        claim_token = make_token("claim", redemption.id, redemption.nonce)
    response = client.post(
        "/api/v1/merchant/fulfil", json={"token": claim_token}, headers=auth.bearer(staff)
    )
    assert response.status_code == 422 and response.get_json()["code"] == "invalid_qr"


def test_cancel_releases_points_and_stock(client, auth, shop, resident, db):
    _, _, offer = shop
    redemption = services.redeem_offer(resident, offer.id, "c")
    headers = auth.bearer(resident)
    response = client.post(f"/api/v1/redemptions/{redemption.id}/cancel", headers=headers)
    assert response.get_json()["status"] == "cancelled"
    assert (
        client.post(f"/api/v1/redemptions/{redemption.id}/cancel", headers=headers).status_code
        == 200
    )
    assert resident_balance(resident.id) == 250
    assert db.session.get(Offer, offer.id).stock == 3


def test_residents_cannot_see_each_others_redemptions(client, auth, shop, resident, make):
    _, _, offer = shop
    redemption = services.redeem_offer(resident, offer.id, "mine")
    other = make.resident()
    headers = auth.bearer(other)
    assert client.get(f"/api/v1/redemptions/{redemption.id}", headers=headers).status_code == 404
    assert (
        client.post(f"/api/v1/redemptions/{redemption.id}/cancel", headers=headers).status_code
        == 404
    )
    assert client.get("/api/v1/redemptions", headers=headers).get_json() == []


def test_refund_is_a_reversing_entry(client, auth, shop, resident, db):
    merchant, staff, offer = shop
    redemption = services.redeem_offer(resident, offer.id, "r")
    services.fulfil_redemption(staff, code=redemption.short_code)
    response = client.post(
        f"/api/v1/merchant/redemptions/{redemption.id}/refund",
        json={"reason": "coffee machine broken"},
        headers=auth.bearer(staff),
    )
    assert response.status_code == 200 and response.get_json()["status"] == "refunded"
    assert resident_balance(resident.id) == 250 and merchant_balance(merchant.id) == 0
    from backend.ledger.services import find_entry

    refund = find_entry(f"refund:{redemption.id}")
    assert refund.reverses_id == find_entry(f"settle:{redemption.id}").id
    again = client.post(
        f"/api/v1/merchant/redemptions/{redemption.id}/refund",
        json={"reason": "x"},
        headers=auth.bearer(staff),
    )
    assert again.status_code == 200
    assert reconcile().clean


def test_settlement_csv(client, auth, shop, resident):
    _, staff, offer = shop
    redemption = services.redeem_offer(resident, offer.id, "s")
    services.fulfil_redemption(staff, code=redemption.short_code)
    from backend.timeutil import local, utcnow

    today = local(utcnow()).date().isoformat()
    response = client.get(
        f"/api/v1/merchant/settlement.csv?from={today}&to={today}", headers=auth.bearer(staff)
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).strip().splitlines()
    assert lines[0].startswith("redemption_id") and lines[-1].endswith(",100,,0.00")
    bad = client.get(
        f"/api/v1/merchant/settlement.csv?from={today}&to=2000-01-01", headers=auth.bearer(staff)
    )
    assert bad.status_code == 422 and bad.get_json()["code"] == "invalid_period"


def test_offer_lifecycle_pending_until_an_admin_approves(client, auth, make):
    merchant = make.merchant()
    staff = make.staff(merchant)
    data = {
        "title_zh": "公交月票立减",
        "points_price": 500,
        "stock": 20,
        "valid_from": "2026-01-01T00:00:00+08:00",
        "valid_until": "2030-01-01T00:00:00+08:00",
    }
    created = client.post("/api/v1/merchant/offers", json=data, headers=auth.bearer(staff))
    assert created.status_code == 201 and created.get_json()["status"] == "pending"
    offer_id = created.get_json()["id"]
    assert offer_id not in [o["id"] for o in client.get("/api/v1/offers").get_json()]
    admin = auth.bearer(make.user("admin"))
    assert (
        client.post(f"/api/v1/admin/offers/{offer_id}/approve", json={}, headers=admin).get_json()[
            "status"
        ]
        == "active"
    )
    assert offer_id in [o["id"] for o in client.get("/api/v1/offers").get_json()]
    paused = client.post(f"/api/v1/merchant/offers/{offer_id}/pause", headers=auth.bearer(staff))
    assert paused.get_json()["status"] == "paused"
    bad = client.post(
        "/api/v1/merchant/offers", json={**data, "points_price": 0}, headers=auth.bearer(staff)
    )
    assert bad.status_code == 422 and bad.get_json()["code"] == "invalid_offer"
    reversed_window = client.post(
        "/api/v1/merchant/offers",
        json={**data, "valid_until": "2025-01-01T00:00:00+08:00"},
        headers=auth.bearer(staff),
    )
    assert reversed_window.status_code == 422


def test_points_endpoint_shows_balance_history_and_expiry(client, auth, resident):
    body = client.get("/api/v1/me/points", headers=auth.bearer(resident)).get_json()
    assert body["balance"] == 250
    assert body["history"][0]["points"] == 250 and body["history"][0]["kind"] == "credit"
    assert body["expiring"][0]["points"] == 250


def test_admin_onboards_a_merchant_and_its_staff(client, auth, make):
    admin = auth.bearer(make.user("admin"))
    created = client.post(
        "/api/v1/admin/merchants",
        json={"name": "虎哥回收站", "district": "柯城区", "kind": "waste_station"},
        headers=admin,
    )
    assert created.status_code == 201
    merchant_id = created.get_json()["id"]
    staff = client.post(
        f"/api/v1/admin/merchants/{merchant_id}/staff",
        json={"phone": "13612345678", "password": PASSWORD},
        headers=admin,
    )
    assert staff.status_code == 201
    token = client.post(
        "/api/v1/auth/token", json={"phone": "13612345678", "password": PASSWORD}
    ).get_json()
    assert token["user"]["role"] == "merchant_staff" and token["user"]["merchant_id"] == merchant_id
    bad = client.post(
        "/api/v1/admin/merchants", json={"name": "x", "district": "杭州"}, headers=admin
    )
    assert bad.status_code == 422 and bad.get_json()["code"] == "invalid_merchant"


def test_a_fulfilment_answers_the_redemption_as_the_row_now_is(client, auth, shop, resident, db):
    """The fulfilment's UPDATE is Core (round 9): the answer's status, closing time, staff
    and key are set on the loaded redemption by the service; they must be what was stored."""
    _, staff, offer = shop
    redemption = services.redeem_offer(resident, offer.id, "f")
    answered = services.fulfil_redemption(staff, code=redemption.short_code, idempotency_key="k")
    seen = (answered.status, answered.closed_at, answered.fulfilled_by_id, answered.fulfil_key)
    db.session.expire_all()
    stored = db.session.get(Redemption, redemption.id)
    assert seen == (stored.status, stored.closed_at, stored.fulfilled_by_id, stored.fulfil_key)
    assert stored.status is services.RedemptionStatus.FULFILLED
    assert stored.fulfilled_by_id == staff.id and stored.fulfil_key == f"fulfil:{staff.id}:k"
    # a retry with the key answers the same redemption; another key finds it closed
    again = services.fulfil_redemption(staff, code=redemption.short_code, idempotency_key="k")
    assert again.id == redemption.id
    with pytest.raises(services.AlreadyFulfilled):
        services.fulfil_redemption(staff, code=redemption.short_code, idempotency_key="k2")


def test_the_stock_is_taken_by_one_and_never_below_zero(shop, make, db):
    _, _staff, offer = shop
    offer.stock = 1
    db.session.commit()
    first, second = make.resident(), make.resident()
    make.points(first, 500)
    make.points(second, 500)
    services.redeem_offer(first, offer.id, "a")
    with pytest.raises(services.OutOfStock):
        services.redeem_offer(second, offer.id, "b")
    db.session.expire_all()
    assert db.session.get(Offer, offer.id).stock == 0
    assert resident_balance(second.id) == 500  # nothing held for the refused one
