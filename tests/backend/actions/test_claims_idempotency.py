"""POST /claims with an Idempotency-Key: a retry returns the first record and credits nothing
more, however late; other keys go through the dedupe rules as before."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.accounts.models import User
from backend.actions import claims
from backend.actions.models import ActivityRecord, ClaimKey, Outcome
from backend.extensions import db as _db
from backend.ledger.models import LedgerEntry
from backend.ledger.queries import resident_balance
from backend.ledger.reconcile import reconcile
from backend.merchants.models import MerchantKind
from backend.methodology_versions.services import seed_versions
from backend.qr import make_token
from backend.settings.services import set_setting

from ...conftest import run_parallel
from ...factories import Factories
from ...helpers import DAY, NEXT_DAY

WEIGHED = {
    "collected_at": f"{DAY}T09:00:00+08:00",
    "items": [{"category": "paper", "weight_kg": 2}, {"category": "plastic", "weight_kg": 0.5}],
}


@pytest.fixture
def station(make, seeded):
    merchant = make.merchant(name="虎哥回收站", kind=MerchantKind.WASTE_STATION)
    return merchant, make.staff(merchant)


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _code(client, auth, resident) -> dict:
    response = client.post("/api/v1/me/claim-codes", headers=auth.bearer(resident))
    assert response.status_code == 201
    return response.get_json()


def _card(client, auth, resident) -> str:
    response = client.post("/api/v1/me/household-card", headers=auth.bearer(resident))
    assert response.status_code == 201
    return response.get_json()["token"]


def _claim(client, auth, staff, body, key=None):
    headers = auth.bearer(staff)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/api/v1/claims", json=body, headers=headers)


def test_a_retry_with_the_same_key_returns_the_first_and_credits_nothing_more(
    client, auth, make, station, app, db
):
    _, staff = station
    resident = make.resident()
    body = {"code": _code(client, auth, resident)["code"], "activity": WEIGHED}
    first = _claim(client, auth, staff, body, key="claim-1")
    assert first.status_code == 201 and first.get_json()["outcome"] == "credited"
    points = first.get_json()["points"]
    assert points > 0 and resident_balance(resident.id) == points
    entries = _count(db, LedgerEntry)
    # minutes later the code has expired and was used once: only the key can answer
    app.config["CLAIM_QR_SECONDS"] = -600
    try:
        again = _claim(client, auth, staff, body, key="claim-1")
        without_key = _claim(client, auth, staff, body)
    finally:
        app.config["CLAIM_QR_SECONDS"] = 60
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert without_key.status_code == 422
    assert without_key.get_json()["code"] == "claim_code_invalid"
    assert resident_balance(resident.id) == points
    assert (_count(db, ActivityRecord), _count(db, LedgerEntry)) == (1, entries)
    stored = db.session.scalar(select(ClaimKey))  # kept in the database, not in memory
    assert (stored.staff_id, stored.key, stored.record_id) == (
        staff.id,
        "claim-1",
        first.get_json()["id"],
    )
    assert reconcile().clean


def test_the_same_card_with_the_same_key_is_one_claim_another_key_meets_the_dedupe_rules(
    client, auth, make, station, db
):
    _, staff = station
    resident = make.resident()
    body = {"card": _card(client, auth, resident), "activity": WEIGHED}
    first = _claim(client, auth, staff, body, key="card-1")
    assert first.get_json()["outcome"] == "credited"
    points = first.get_json()["points"]
    again = _claim(client, auth, staff, body, key="card-1")
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert _count(db, ActivityRecord) == 1 and resident_balance(resident.id) == points
    # another key: a new claim, and the same drop-off at the same time is a duplicate
    other = _claim(client, auth, staff, body, key="card-2")
    assert other.status_code == 201 and other.get_json()["id"] != first.get_json()["id"]
    assert other.get_json()["outcome"] == "duplicate"
    assert _count(db, ActivityRecord) == 2 and resident_balance(resident.id) == points
    assert reconcile().clean


def test_a_key_belongs_to_one_staff_member(client, auth, make, station, db):
    merchant, staff = station
    colleague = make.staff(merchant)
    resident = make.resident()
    card = _card(client, auth, resident)
    first = _claim(client, auth, staff, {"card": card, "activity": WEIGHED}, key="same")
    later = {**WEIGHED, "collected_at": f"{NEXT_DAY}T09:00:00+08:00"}  # the next day
    theirs = _claim(client, auth, colleague, {"card": card, "activity": later}, key="same")
    assert theirs.status_code == 201
    assert theirs.get_json()["id"] != first.get_json()["id"]
    assert theirs.get_json()["outcome"] == "credited"
    assert resident_balance(resident.id) == first.get_json()["points"] + theirs.get_json()["points"]
    assert _count(db, ClaimKey) == 2


def test_a_key_reused_for_another_claim_is_a_conflict_and_changes_nothing(
    client, auth, make, station, db
):
    _, staff = station
    resident = make.resident()
    card = _card(client, auth, resident)
    first = _claim(client, auth, staff, {"card": card, "activity": WEIGHED}, key="k")
    balance, records = resident_balance(resident.id), _count(db, ActivityRecord)
    heavier = {**WEIGHED, "items": [{"category": "paper", "weight_kg": 9}]}
    reused = _claim(client, auth, staff, {"card": card, "activity": heavier}, key="k")
    assert reused.status_code == 409 and reused.get_json()["code"] == "idempotency_conflict"
    assert reused.get_json()["message"]
    assert (resident_balance(resident.id), _count(db, ActivityRecord)) == (balance, records)
    assert first.status_code == 201


def test_an_overlong_key_is_refused_before_the_code_is_used(client, auth, make, station, db):
    _, staff = station
    resident = make.resident()
    body = {"code": _code(client, auth, resident)["code"], "activity": WEIGHED}
    refused = _claim(client, auth, staff, body, key="k" * 101)
    assert refused.status_code == 422 and _count(db, ActivityRecord) == 0
    assert _claim(client, auth, staff, body, key="k").status_code == 201  # code still usable


def test_while_crediting_is_paused_the_claim_is_kept_pending(client, auth, make, station, db):
    _, staff = station
    resident = make.resident()
    set_setting(make.user("admin"), "crediting_paused", 1)
    body = {"card": _card(client, auth, resident), "activity": WEIGHED}
    first = _claim(client, auth, staff, body, key="paused")
    assert first.status_code == 201 and first.get_json()["outcome"] == "pending"
    db.session.expire_all()
    stored = db.session.get(ActivityRecord, first.get_json()["id"])
    assert stored is not None and stored.outcome is Outcome.PENDING
    assert _claim(client, auth, staff, body, key="paused").get_json()["id"] == stored.id
    assert _count(db, ActivityRecord) == 1 and resident_balance(resident.id) == 0


@pytest.mark.postgres
@pytest.mark.parametrize("by", ["card", "code"])
def test_the_same_key_at_once_makes_one_claim(committed, by):
    seed_versions()
    make = Factories()
    staff = make.staff(make.merchant(kind=MerchantKind.WASTE_STATION))
    resident = make.resident()
    if by == "card":
        card = claims.issue_card(resident)
        kwargs = {"card": make_token("card", resident.id, card.nonce)}
    else:
        kwargs = {"code": claims.new_claim_code(resident).code}
    staff_id, resident_id = staff.id, resident.id

    def submit(_: int) -> int:
        user = _db.session.get(User, staff_id)
        return claims.submit_claim(user, dict(WEIGHED), idempotency_key="at-once", **kwargs).id

    results = run_parallel(committed, submit, list(range(6)))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(set(results)) == 1
    assert _count(_db, ActivityRecord) == 1 and _count(_db, ClaimKey) == 1
    record = _db.session.get(ActivityRecord, results[0])
    assert record.outcome is Outcome.CREDITED
    assert resident_balance(resident_id) == record.reduction.points > 0
    assert reconcile().clean
