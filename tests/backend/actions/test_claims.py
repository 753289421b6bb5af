from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.actions.claims import new_claim_code, purge_claim_codes
from backend.actions.models import ActivityRecord, ClaimCode
from backend.jobs import PERIODIC
from backend.ledger.queries import resident_balance
from backend.merchants.models import MerchantKind
from backend.timeutil import utcnow

from ...helpers import DAY

WEIGHED = {
    "items": [{"category": "paper", "weight_kg": 2}, {"category": "plastic", "weight_kg": 0.5}]
}


@pytest.fixture
def station(make, seeded):
    merchant = make.merchant(name="虎哥回收站", kind=MerchantKind.WASTE_STATION)
    return merchant, make.staff(merchant)


@pytest.fixture
def restaurant(make, seeded):
    merchant = make.merchant(name="光盘餐厅", kind=MerchantKind.RESTAURANT)
    return merchant, make.staff(merchant)


def _code(client, auth, resident):
    response = client.post("/api/v1/me/claim-codes", headers=auth.bearer(resident))
    assert response.status_code == 201
    return response.get_json()


def test_attendant_credits_a_weighed_drop_off_by_the_residents_code(
    client, auth, make, station, db
):
    _, staff = station
    resident = make.resident()
    code = _code(client, auth, resident)
    response = client.post(
        "/api/v1/claims",
        json={"code": code["code"], "activity": WEIGHED},
        headers=auth.bearer(staff),
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["outcome"] == "credited" and body["reduction_g"] > 0
    assert resident_balance(resident.id) == body["points"]
    record = db.session.get(ActivityRecord, body["id"])
    assert record.verifier_id == staff.id and record.channel.value == "claim"


def test_a_claim_code_works_once(client, auth, make, station):
    _, staff = station
    resident = make.resident()
    code = _code(client, auth, resident)
    headers = auth.bearer(staff)
    assert (
        client.post(
            "/api/v1/claims", json={"token": code["token"], "activity": WEIGHED}, headers=headers
        ).status_code
        == 201
    )
    again = client.post(
        "/api/v1/claims", json={"code": code["code"], "activity": WEIGHED}, headers=headers
    )
    assert again.status_code == 422 and again.get_json()["code"] == "claim_code_invalid"


def test_an_expired_code_is_refused_and_changes_nothing(client, auth, make, station, app, db):
    _, staff = station
    resident = make.resident()
    app.config["CLAIM_QR_SECONDS"] = -60
    try:
        code = _code(client, auth, resident)
    finally:
        app.config["CLAIM_QR_SECONDS"] = 60
    response = client.post(
        "/api/v1/claims",
        json={"code": code["code"], "activity": WEIGHED},
        headers=auth.bearer(staff),
    )
    assert response.status_code == 422 and response.get_json()["code"] == "claim_code_invalid"
    assert db.session.scalar(select(ActivityRecord.id)) is None


def test_restaurant_confirms_a_clean_plate_once_per_meal(client, auth, make, restaurant):
    _, staff = restaurant
    resident = make.resident()
    meal = {"kind": "clean_plate", "meal_at": f"{DAY}T12:10:00+08:00", "diners": 2}
    first = client.post(
        "/api/v1/claims",
        json={"code": _code(client, auth, resident)["code"], "activity": meal},
        headers=auth.bearer(staff),
    )
    assert first.get_json()["outcome"] == "credited"
    # clean plate: 2 diners x 74.16 g x 1.99 = 295.1568 g -> 295 g
    assert first.get_json()["reduction_g"] == 295
    small = {
        "kind": "small_portion",
        "meal_at": f"{DAY}T12:30:00+08:00",
        "portion_reduction_kg": 0.1,
    }
    second = client.post(
        "/api/v1/claims",
        json={"code": _code(client, auth, resident)["code"], "activity": small},
        headers=auth.bearer(staff),
    )
    assert second.get_json()["outcome"] == "duplicate"  # never both for the same meal


def test_staff_of_a_shop_cannot_confirm_actions(client, auth, make, seeded):
    staff = make.staff(make.merchant(kind=MerchantKind.RETAIL))
    resident = make.resident()
    response = client.post(
        "/api/v1/claims",
        json={"code": _code(client, auth, resident)["code"], "activity": WEIGHED},
        headers=auth.bearer(staff),
    )
    assert response.status_code == 403 and response.get_json()["code"] == "wrong_station"


def test_household_card_only_at_a_station_with_tighter_caps(
    client, auth, make, station, restaurant
):
    _, attendant = station
    _, waiter = restaurant
    resident = make.resident()
    card = client.post("/api/v1/me/household-card", headers=auth.bearer(resident)).get_json()
    refused = client.post(
        "/api/v1/claims",
        json={"card": card["token"], "activity": {"kind": "clean_plate"}},
        headers=auth.bearer(waiter),
    )
    assert refused.status_code == 403
    outcomes = []
    for minute in range(3):
        response = client.post(
            "/api/v1/claims",
            json={
                "card": card["token"],
                "activity": {
                    **WEIGHED,
                    "collected_at": f"{DAY}T09:{minute * 10:02d}:00+08:00",
                },
            },
            headers=auth.bearer(attendant),
        )
        outcomes.append((response.get_json()["outcome"], response.get_json()["reason_code"]))
    # waste_sorting allows 3 collections a day; a card gets half: int(3 x 0.5) = 1
    assert outcomes[0][0] == "credited"
    assert outcomes[1:] == [("rejected", "daily_limit_reached")] * 2
    reissued = client.post("/api/v1/me/household-card", headers=auth.bearer(resident))
    assert reissued.status_code == 201
    old = client.post(
        "/api/v1/claims",
        json={"card": card["token"], "activity": WEIGHED},
        headers=auth.bearer(attendant),
    )
    assert old.status_code == 422  # re-issuing revoked the old card


def test_expired_claim_codes_are_purged_by_the_periodic_job_a_day_after(make, db):
    """A new code no longer deletes the expired ones (a statement on every QR opened):
    ``purge_claim_codes`` runs hourly and deletes those expired for over a day."""
    resident = make.resident()
    codes = [new_claim_code(resident) for _ in range(3)]
    now = utcnow()
    codes[0].expires_at = now - timedelta(days=1, minutes=1)  # over a day ago: purged
    codes[1].expires_at = now - timedelta(hours=23)  # expired, within the day: kept
    db.session.commit()
    assert "backend.actions.claims:purge_claim_codes" in dict(PERIODIC)
    assert purge_claim_codes(now) == 1
    kept = set(db.session.scalars(select(ClaimCode.nonce)))
    assert kept == {codes[1].nonce, codes[2].nonce}
    assert purge_claim_codes(now) == 0
