"""Residents donate points to planting projects: one DONATE ledger entry each."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backend.events import donations, forest, queries
from backend.events.exceptions import InvalidDonation, UnknownProject
from backend.events.models import Donation
from backend.ledger.exceptions import IdempotencyConflict, InsufficientPoints
from backend.ledger.models import AccountKind, EntryKind, LedgerEntry
from backend.ledger.queries import resident_balance
from backend.ledger.reconcile import reconcile
from backend.ledger.services import balance_of, system_account

from .helpers import PLANTED_ON, plan_data, worked_event


@pytest.fixture
def project(organiser, admin):
    event = worked_event(organiser)
    plan = forest.create_plan(organiser, event.id, plan_data())
    forest.submit_plan(organiser, plan.id)
    return forest.review_plan(admin, plan.id, True)


def _donations(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Donation))


def test_donation_moves_points_to_the_forest_fund(db, make, project):
    resident = make.resident()
    make.points(resident, 500)
    donation = donations.donate_points(resident, project.id, 200, "d1")
    assert resident_balance(resident.id) == 300
    assert balance_of(system_account(AccountKind.FOREST_FUND)) == 200
    entry = db.session.get(LedgerEntry, donation.ledger_entry_id)
    assert entry.kind is EntryKind.DONATE and entry.resident_id == resident.id
    assert (entry.ref_type, entry.ref_id) == ("planting_plan", str(project.id))
    again = donations.donate_points(resident, project.id, 200, "d1")
    assert again.id == donation.id and resident_balance(resident.id) == 300
    with pytest.raises(IdempotencyConflict):
        donations.donate_points(resident, project.id, 100, "d1")
    assert reconcile().clean


def test_not_enough_points_changes_nothing(db, make, project):
    resident = make.resident()
    make.points(resident, 50)
    with pytest.raises(InsufficientPoints):
        donations.donate_points(resident, project.id, 51)
    assert resident_balance(resident.id) == 50 and _donations(db) == 0
    for bad in (0, -5, "ten", "1.5"):
        with pytest.raises(InvalidDonation):
            donations.donate_points(resident, project.id, bad)
    assert _donations(db) == 0 and reconcile().clean


def test_only_approved_plans_take_donations(db, make, organiser):
    event = worked_event(organiser)
    draft = forest.create_plan(organiser, event.id, plan_data())
    resident = make.resident()
    make.points(resident, 50)
    with pytest.raises(UnknownProject):
        donations.donate_points(resident, draft.id, 10)


def test_project_shows_funds_trees_survival_and_each_donors_share(db, make, admin, project):
    a, b = make.resident(), make.resident()
    make.points(a, 1000)
    make.points(b, 1000)
    donations.donate_points(a, project.id, 300)
    donations.donate_points(b, project.id, 100)
    donations.donate_points(a, project.id, 100)
    planting = forest.record_planting(
        admin,
        project.id,
        {
            "planted_on": PLANTED_ON,
            "species": "chinese_fir",
            "area_mu": "3.6",
            "seedlings": 648,
            "location": "举村乡",
        },
    )
    forest.record_survival_check(admin, planting.id, {"checked_on": PLANTED_ON, "surviving": 600})
    item = queries.project(project)
    assert (item.funds_points, item.donors) == (500, 2)
    assert item.standing.planted_seedlings == 648 and item.standing.surviving_seedlings == 600
    share = queries.donor_share(item, a.id)
    # 400 of 500 points = 80% of the 648 seedlings planted = 518.4 trees
    assert (share.points, share.share, share.trees) == (400, Decimal("0.8"), Decimal("518.4"))
    assert queries.donor_share(item, make.resident().id) is None


def test_donation_api_with_idempotency_key(client, auth, make, project):
    resident = make.resident()
    make.points(resident, 100)
    headers = {**auth.bearer(resident), "Idempotency-Key": "gift-1"}
    url = f"/api/v1/projects/{project.id}/donations"
    first = client.post(url, json={"points": 60}, headers=headers)
    again = client.post(url, json={"points": 60}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.get_json()["id"] == again.get_json()["id"]
    too_much = client.post(url, json={"points": 60}, headers=auth.bearer(resident))
    assert too_much.status_code == 409 and too_much.get_json()["code"] == "insufficient_points"
    public = client.get(f"/api/v1/projects/{project.id}").get_json()
    assert public["funds_points"] == 60 and public["donors"] == 1
    assert [p["id"] for p in client.get("/api/v1/projects").get_json()] == [project.id]
