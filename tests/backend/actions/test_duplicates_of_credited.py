"""A duplicate is always a duplicate of a credited record, and says which (DESIGN.md
invariant 1): an anomaly waiting for review blocks nothing, and an operator record that is not
credited does not replace a resident's waiting self-report."""

from __future__ import annotations

from sqlalchemy import select

from backend.actions.models import ActivityRecord, Outcome
from backend.actions.self_reports import review_record
from backend.ledger.queries import resident_balance
from backend.ledger.reconcile import reconcile

from ...helpers import local_iso
from .conftest import bus
from .test_self_reports import report


def _trip(record_id: str, km: float, minutes: int) -> dict:
    return bus(record_id, start=local_iso(1), end=local_iso(1, minute=minutes), km=km)


def _record(db, record_id: str) -> ActivityRecord:
    return db.session.scalar(
        select(ActivityRecord).where(ActivityRecord.partner_record_id == record_id)
    )


def test_an_anomaly_in_review_makes_nothing_a_duplicate_until_it_is_approved(
    transit, rider, make, db
):
    _, pusher = transit
    admin = make.user("admin")
    pusher.push([_trip("fast", 20, 15)])  # 80 km/h on a bus: to review
    pusher.push([_trip("same", 8.2, 25)])  # the same morning, overlapping: credited
    fast, same = _record(db, "fast"), _record(db, "same")
    assert fast.outcome is Outcome.REVIEW and same.outcome is Outcome.CREDITED
    assert same.duplicate_of_id is None
    approved = review_record(admin, fast.id, approve=True)
    assert approved.outcome is Outcome.DUPLICATE and approved.duplicate_of_id == same.id
    assert approved.reason["en"].startswith("The same action was already credited")
    assert "another channel" not in approved.reason["en"]
    assert resident_balance(rider.id) == 359
    assert reconcile().clean


def test_an_operator_record_not_credited_does_not_replace_a_waiting_self_report(
    client, auth, transit, rider, db
):
    _, pusher = transit
    mine = report(
        client,
        auth.bearer(rider),
        activity={
            "mode": "bus",
            "distance_km": 8.2,
            "started_at": local_iso(1),
            "ended_at": local_iso(1, minute=25),
        },
    ).get_json()
    assert mine["outcome"] == "review"
    pusher.push([_trip("op-fast", 20, 15)])  # goes to review itself
    db.session.expire_all()
    assert db.session.get(ActivityRecord, mine["id"]).outcome is Outcome.REVIEW
    pusher.push([_trip("op-ok", 8.2, 25)])  # credited: now it replaces the self-report
    db.session.expire_all()
    replaced = db.session.get(ActivityRecord, mine["id"])
    assert replaced.outcome is Outcome.DUPLICATE
    assert replaced.duplicate_of_id == _record(db, "op-ok").id


def test_operator_km_far_beyond_the_straight_line_between_its_stops_goes_to_review(
    transit, rider, db
):
    _, pusher = transit
    trip = _trip("stops", 30, 40)
    trip["activity"].update(
        boarding_lat=28.95, boarding_lon=118.87, alighting_lat=29.0, alighting_lon=118.87
    )
    batch = pusher.push([trip]).get_json()["batch_id"]
    outcome = pusher.get(batch).get_json()["outcomes"][0]
    assert (outcome["outcome"], outcome["reason"]) == ("flagged", "distance_beyond_stops")
    assert resident_balance(rider.id) == 0
