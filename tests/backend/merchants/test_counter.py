"""One code box at the counter: vouchers and residents' claims, told apart by the code."""

from __future__ import annotations

import pytest

from backend.actions.claims import new_claim_code
from backend.merchants.counter import confirm_at_counter
from backend.merchants.models import MerchantKind
from backend.methodology_versions.services import seed_versions
from backend.qr import make_token
from backend.rewards import services
from backend.rewards.exceptions import UnknownRedemption

WEIGHED = {"items": [{"category": "paper", "weight_kg": 2}]}


@pytest.fixture
def station(make, db):
    seed_versions()
    merchant = make.merchant(kind=MerchantKind.WASTE_STATION)
    return merchant, make.staff(merchant)


def test_a_voucher_code_is_fulfilled(make, station):
    merchant, staff = station
    resident = make.resident()
    make.points(resident, 100)
    redemption = services.redeem_offer(resident, make.offer(merchant, points_price=100).id)
    result = confirm_at_counter(staff, code=redemption.short_code, activity=WEIGHED)
    assert result.redemption is not None and result.redemption.status.value == "fulfilled"


def test_a_residents_claim_code_or_token_confirms_the_drop_off(make, station, app):
    _, staff = station
    resident = make.resident()
    claim = new_claim_code(resident)
    result = confirm_at_counter(staff, code=claim.code, activity=WEIGHED)
    assert result.record is not None and result.record.outcome.value == "credited"
    second = new_claim_code(resident)
    with app.test_request_context():
        token = make_token("claim", resident.id, second.nonce)
    by_token = confirm_at_counter(
        staff, token=token, activity={**WEIGHED, "collected_at": "2026-11-20T09:00:00+08:00"}
    )
    assert by_token.record is not None and by_token.record.verifier_id == staff.id


def test_a_shop_only_takes_vouchers(make, db):
    staff = make.staff(make.merchant(kind=MerchantKind.RETAIL))
    claim = new_claim_code(make.resident())
    with pytest.raises(UnknownRedemption):
        confirm_at_counter(staff, code=claim.code)


def test_a_resent_counter_form_confirms_once(make, station, client, app, db):
    """The counter form carries one key per page shown: a double tap or a resend after a
    lost answer returns the first result and records nothing more (a household card can
    be shown again and again, so the card alone would not stop a second record)."""
    from sqlalchemy import func, select

    from backend.actions.claims import issue_card
    from backend.actions.models import ActivityRecord
    from backend.ledger.queries import resident_balance

    from ...helpers import Auth

    _, staff = station
    resident = make.resident()
    card = issue_card(resident)
    with app.test_request_context():
        token = make_token("card", resident.id, card.nonce)
    Auth(client, make).login_page(staff)
    assert 'name="key"' in client.get("/merchant").get_data(as_text=True)
    records = (
        select(func.count())
        .select_from(ActivityRecord)
        .where(ActivityRecord.resident_id == resident.id)
    )

    form = {"token": token, "key": "counter-key-1", "weight_paper": "2"}
    for _ in range(2):
        assert client.post("/merchant/confirm", data=form).status_code in (200, 302)
    assert db.session.scalar(records) == 1
    credited = resident_balance(resident.id)
    assert credited > 0

    # a new page (a new key) with the same card is judged by the dedupe rules instead
    client.post("/merchant/confirm", data={**form, "key": "counter-key-2"})
    assert db.session.scalar(records) == 2 and resident_balance(resident.id) == credited
