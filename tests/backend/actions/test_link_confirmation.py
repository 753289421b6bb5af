"""Ownership before credit (DESIGN.md invariant 6): a link is claimed until the partner, with
the resident's one-time link code, or station staff, with the card and the resident's QR,
prove it; records for a claimed identity wait and are credited on proof."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from backend.actions.claims import new_claim_code
from backend.actions.identities import credit_all_waiting, link_wait
from backend.actions.models import ActivityRecord, BindingStatus, IdentityBinding, Outcome
from backend.crypto import keyed_hash
from backend.extensions import db as _db
from backend.ledger.queries import resident_balance
from backend.ledger.reconcile import reconcile
from backend.merchants.models import MerchantKind
from backend.notifications.models import Notification
from backend.timeutil import local, utcnow

from ...helpers import as_json, signed_headers
from .conftest import Pusher

LINKS = "/api/v1/partner/links"


def trip(record_id: str, identity: str, days_ago: int = 1, hour: int = 8) -> dict[str, Any]:
    """8.2 km by bus: (100 - 56.2) x 8.2 = 359.16 -> 359 g, 359 points."""
    start = local(utcnow() - timedelta(days=days_ago)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )
    return {
        "record_id": record_id,
        "action": "public_transit",
        "identity": identity,
        "activity": {
            "mode": "bus",
            "distance_km": 8.2,
            "started_at": start.isoformat(),
            "ended_at": (start + timedelta(minutes=25)).isoformat(),
        },
    }


class Operator(Pusher):
    def confirm(self, identity: str, link_code: str) -> Any:
        body = as_json({"identity": identity, "link_code": link_code})
        headers = signed_headers(
            self.key_id, self.secret, "POST", LINKS, body, content_type="application/json"
        )
        return self.client.post(LINKS, data=body, headers=headers)

    def outcomes(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        accepted = self.push(records)
        assert accepted.status_code == 202, accepted.get_json()
        return list(self.get(accepted.get_json()["batch_id"]).get_json()["outcomes"])


@pytest.fixture
def operator(client, make, seeded):
    _, key_id, secret = make.partner("city-bus", kind="transit")
    return Operator(client, key_id, secret)


def link(client, auth, user, identity: str, partner: str = "city-bus") -> Any:
    return client.post(
        "/api/v1/me/bindings",
        json={"partner": partner, "identity": identity, "consent": True},
        headers=auth.bearer(user),
    )


def test_a_claimed_link_credits_nothing_and_its_records_wait(client, auth, make, operator, db):
    rider = make.resident()
    answer = link(client, auth, rider, "QZ00123456")
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["status"] == "claimed" and body["link_code"] and body["confirmed_at"] is None
    [outcome] = operator.outcomes([trip("w-1", "QZ00123456")])
    assert outcome["outcome"] == "unmatched" and outcome["reason"] == "identity_unconfirmed"
    assert resident_balance(rider.id) == 0
    record = db.session.scalar(select(ActivityRecord))
    assert record.resident_id is None  # the claimant sees neither its time nor its points
    assert not client.get("/api/v1/me/actions", headers=auth.bearer(rider)).get_json()


def test_the_partner_confirms_with_the_link_code_and_the_waiting_trip_is_credited(
    client, auth, make, operator, db
):
    rider = make.resident()
    code = link(client, auth, rider, "qz 0012-3456").get_json()["link_code"]
    batch = operator.push([trip("w-2", "QZ00123456")]).get_json()["batch_id"]
    confirmed = operator.confirm("QZ-0012 3456", code.lower())  # normalised both ways
    assert confirmed.status_code == 200, confirmed.get_json()
    assert confirmed.get_json()["status"] == "active"
    assert confirmed.get_json()["identity_hint"] == "****3456"
    assert operator.get(batch).get_json()["outcomes"][0]["outcome"] == "credited"
    assert resident_balance(rider.id) == 359
    # later records are credited at once; the code was used up
    [later] = operator.outcomes([trip("w-3", "qz00123456", hour=18)])
    assert later["outcome"] == "credited" and later["points"] == 359
    assert operator.confirm("QZ00123456", code).status_code == 422
    mine = client.get("/api/v1/me/bindings", headers=auth.bearer(rider)).get_json()
    assert mine[0]["status"] == "active" and mine[0]["confirmed_via"] == "partner"
    assert mine[0]["link_code"] is None
    assert reconcile().clean


def test_a_wrong_expired_or_misdirected_code_gets_one_answer(client, auth, make, operator, db):
    rider = make.resident()
    code = link(client, auth, rider, "QZ00123456").get_json()["link_code"]
    answers = [
        operator.confirm("QZ00123456", "ZZZZ-ZZZZ"),  # wrong code
        operator.confirm("QZ99999999", code),  # another card
        operator.confirm("QZ00123456", ""),  # no code
    ]
    binding = db.session.scalar(select(IdentityBinding))
    binding.link_code_expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    answers.append(operator.confirm("QZ00123456", code))  # expired
    bodies = [(a.status_code, a.get_json()["code"]) for a in answers]
    assert bodies == [(422, "link_code_invalid")] * 3 + [(422, "link_code_invalid")]
    assert db.session.get(IdentityBinding, binding.id).status is BindingStatus.CLAIMED


def test_a_second_claimant_gets_the_same_answer_and_the_confirmed_one_wins(
    client, auth, make, operator, db
):
    squatter, owner, third = make.resident(), make.resident(), make.resident()
    first = link(client, auth, squatter, "QZ00123456")
    # the squatter's claim is confirmed by nobody; the owner claims the same card
    second = link(client, auth, owner, "QZ00123456")
    fresh = link(client, auth, third, "QZ77770000")  # a card nobody else claims
    shape = {k for k in first.get_json() if k not in ("id",)}
    for answer in (first, second, fresh):
        assert answer.status_code == 201
        body = answer.get_json()
        assert body["status"] == "claimed" and set(body) - {"id"} == shape
    operator.outcomes([trip("c-1", "QZ00123456")])  # waits: nobody proved it yet
    assert operator.confirm("QZ00123456", second.get_json()["link_code"]).status_code == 200
    assert resident_balance(owner.id) == 359 and resident_balance(squatter.id) == 0
    [later] = operator.outcomes([trip("c-2", "QZ00123456", hour=18)])
    assert later["outcome"] == "credited" and resident_balance(owner.id) == 718
    released = client.get("/api/v1/me/bindings", headers=auth.bearer(squatter)).get_json()
    assert released[0]["status"] == "released" and released[0]["link_code"] is None
    page = auth.login_page(squatter) and client.get("/sources?lang=en").get_data(as_text=True)
    assert "confirmed this card for another account" in page
    assert resident_balance(squatter.id) == 0


def test_the_partner_can_move_a_card_to_the_resident_who_now_holds_it(
    client, auth, make, operator, db
):
    before, after = make.resident(), make.resident()
    code = link(client, auth, before, "QZ00123456").get_json()["link_code"]
    operator.confirm("QZ00123456", code)
    code = link(client, auth, after, "QZ00123456").get_json()["link_code"]
    [meanwhile] = operator.outcomes([trip("m-1", "QZ00123456")])
    assert meanwhile["outcome"] == "credited" and resident_balance(before.id) == 359
    assert operator.confirm("QZ00123456", code).status_code == 200
    [later] = operator.outcomes([trip("m-2", "QZ00123456", hour=18)])
    assert later["outcome"] == "credited"
    assert resident_balance(after.id) == 359 and resident_balance(before.id) == 359
    statuses = dict(
        _db.session.execute(select(IdentityBinding.resident_id, IdentityBinding.status)).all()
    )
    assert statuses == {before.id: BindingStatus.RELEASED, after.id: BindingStatus.ACTIVE}


def test_waiting_records_older_than_the_wait_are_kept_with_the_reason(
    client, auth, make, operator, app, db
):
    rider = make.resident()
    code = link(client, auth, rider, "QZ00123456").get_json()["link_code"]
    old_day = link_wait().days + 2
    operator.outcomes([trip("o-1", "QZ00123456", days_ago=old_day), trip("o-2", "QZ00123456")])
    operator.confirm("QZ00123456", code)
    assert resident_balance(rider.id) == 359
    actions = client.get("/api/v1/me/actions?lang=en", headers=auth.bearer(rider)).get_json()
    late = next(a for a in actions if a["reason_code"] == "link_confirmed_too_late")
    assert late["outcome"] == "rejected" and "claim window" in late["reason"]


def test_linking_is_limited_per_resident(client, auth, make, operator, app, db):
    rider = make.resident()
    limit = app.config["LINK_OPEN_CLAIMS"]
    for i in range(limit):
        assert link(client, auth, rider, f"QZ1000000{i}").status_code == 201
    refused = link(client, auth, rider, "QZ20000000")
    assert refused.status_code == 429 and refused.get_json()["code"] == "too_many_links"
    # re-claiming one's own open claim is not a new claim
    assert link(client, auth, rider, "QZ10000000").status_code == 201
    for binding in _db.session.scalars(select(IdentityBinding)):
        client.delete(f"/api/v1/me/bindings/{binding.id}", headers=auth.bearer(rider))
    # unlinking frees the open slots, but not the day's count
    for i in range(app.config["LINK_CLAIMS_PER_DAY"] - limit):
        assert link(client, auth, rider, f"QZ3000000{i}").status_code == 201
    refused = link(client, auth, rider, "QZ40000000")
    assert refused.status_code == 429 and refused.get_json()["code"] == "too_many_links"


def test_a_link_made_before_normalisation_still_matches(client, make, operator, db):
    rider = make.resident()
    partner = make.partner("old-bus")[0]
    pusher = Operator(client, *operator_keys(partner, make))
    _db.session.add(
        IdentityBinding(
            resident_id=rider.id,
            partner_id=partner.id,
            identity_hash=keyed_hash("card-0001", purpose="partner:old-bus"),
            identity_hint="****0001",
            status=BindingStatus.ACTIVE,
        )
    )
    _db.session.commit()
    [outcome] = pusher.outcomes([trip("l-1", "card-0001")])
    assert outcome["outcome"] == "credited"


def operator_keys(partner: Any, make: Any) -> tuple[str, str]:
    from backend.partners.services import rotate_partner_key

    return rotate_partner_key(partner.code)


def test_station_staff_confirm_a_card_seen_with_the_residents_qr(client, auth, make, operator, db):
    rider, other = make.resident(), make.resident()
    station = make.merchant(kind=MerchantKind.WASTE_STATION.value)
    shop = make.merchant()
    staff, shop_staff = make.staff(station), make.staff(shop)
    link(client, auth, rider, "QZ00123456")
    link(client, auth, other, "QZ00123456")
    operator.outcomes([trip("s-1", "QZ00123456")])

    def counter(user: Any, identity: str, resident: Any) -> Any:
        code = new_claim_code(resident).code
        return client.post(
            "/api/v1/links/counter",
            json={"identity": identity, "code": code},
            headers=auth.bearer(user),
        )

    assert counter(shop_staff, "QZ00123456", rider).status_code == 403  # not a station
    wrong = counter(staff, "QZ00999999", rider)  # not the card the resident claimed
    assert wrong.status_code == 422 and wrong.get_json()["code"] == "link_not_claimed"
    done = counter(staff, "qz 0012 3456", rider)
    assert done.status_code == 200 and done.get_json()["status"] == "active"
    assert resident_balance(rider.id) == 359
    binding = _db.session.scalar(
        select(IdentityBinding).where(IdentityBinding.resident_id == rider.id)
    )
    assert binding.confirmed_via == "counter" and binding.confirmed_by_id == staff.id
    others = _db.session.scalar(
        select(IdentityBinding).where(IdentityBinding.resident_id == other.id)
    )
    assert others.status is BindingStatus.RELEASED


def test_a_counter_cannot_take_a_card_the_partner_confirmed(client, auth, make, operator, db):
    owner, other = make.resident(), make.resident()
    staff = make.staff(make.merchant(kind=MerchantKind.WASTE_STATION.value))
    operator.confirm("QZ00123456", link(client, auth, owner, "QZ00123456").get_json()["link_code"])
    link(client, auth, other, "QZ00123456")
    code = new_claim_code(other).code
    answer = client.post(
        "/api/v1/links/counter",
        json={"identity": "QZ00123456", "code": code},
        headers=auth.bearer(staff),
    )
    assert answer.status_code == 409 and answer.get_json()["code"] == "link_needs_partner"
    [outcome] = operator.outcomes([trip("p-1", "QZ00123456")])
    assert outcome["outcome"] == "credited" and resident_balance(owner.id) == 359


def test_the_sweep_credits_records_matched_while_the_proof_was_committed(
    client, auth, make, operator, db
):
    rider = make.resident()
    code = link(client, auth, rider, "QZ00123456").get_json()["link_code"]
    operator.confirm("QZ00123456", code)
    # a record stored as waiting by a chunk that read the bindings just before the proof
    operator.outcomes([trip("r-1", "QZ99990000")])
    record = _db.session.scalar(select(ActivityRecord))
    binding = _db.session.scalar(select(IdentityBinding))
    record.identity_hash, record.outcome = binding.identity_hash, Outcome.UNMATCHED
    record.reason_code = "identity_unconfirmed"
    _db.session.commit()
    assert credit_all_waiting() == 1
    assert resident_balance(rider.id) == 359


def test_a_claimant_is_told_that_records_wait_once_a_day_without_their_times(
    client, auth, make, operator, db
):
    rider = make.resident()
    link(client, auth, rider, "QZ00123456")
    operator.outcomes([trip("n-1", "QZ00123456"), trip("n-2", "QZ00123456", hour=18)])
    operator.outcomes([trip("n-3", "QZ00123456", days_ago=2)])  # the same day's notice
    news = db.session.scalars(
        select(Notification).where(Notification.resident_id == rider.id)
    ).all()
    assert [n.kind for n in news] == ["credit_waiting"]
    params = news[0].params
    assert params["partner"] and set(params) == {"partner", "until"}  # no times, no points
    window = client.application.config["CLAIM_WINDOW_PARTNER_DAYS"]
    assert params["until"] == (local(utcnow()).date() + timedelta(days=window)).isoformat()
    auth.login_page(rider)
    page = client.get("/notifications?lang=en").get_data(as_text=True)
    assert "wait for your card link to be confirmed" in page
