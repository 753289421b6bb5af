"""Retiring verified reductions: oldest first, whole, at most once, with serial numbers, each
a RETIRE ledger entry (reduction pool -> retirement, grams) keyed by its serial."""

from __future__ import annotations

import pytest
from flask import render_template
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from backend.events import certificates, forest, queries, retirements
from backend.events.exceptions import InsufficientPool, InvalidRetirement, NoFootprint
from backend.events.models import FootprintStage, ReductionRetirement
from backend.events.queries import standing
from backend.extensions import db as _db
from backend.ledger.exceptions import InvalidAmount
from backend.ledger.models import AccountKind, EntryKind, LedgerEntry
from backend.ledger.queries import resident_balance
from backend.ledger.reconcile import reconcile
from backend.ledger.services import (
    Leg,
    Retired,
    balance_of,
    find_entry,
    post_entry,
    post_retirements,
    resident_account,
    system_account,
)
from backend.timeutil import local, utcnow

from .helpers import WORKED_TOTAL_G, make_event, plan_data, reduction, worked_event


@pytest.fixture
def pool(make):
    """Three reductions: 2 kg (oldest), 5 kg, 3 kg (newest)."""
    resident = make.resident()
    return [
        reduction(resident, 2_000, age_days=30),
        reduction(resident, 5_000, age_days=20),
        reduction(resident, 3_000, age_days=10),
    ]


def _count(model) -> int:
    return _db.session.scalar(select(func.count()).select_from(model))


def test_oldest_first_whole_with_serials(db, organiser, pool):
    event = worked_event(organiser)
    entries = _count(LedgerEntry)
    points = resident_balance(pool[0].resident_id)
    rows = retirements.retire_reductions(organiser, event.id, 6_000, "r1")
    # 2 kg + 5 kg covers 6 kg; the 5 kg reduction is retired whole
    assert [r.reduction_id for r in rows] == [pool[0].id, pool[1].id]
    assert [r.grams for r in rows] == [2_000, 5_000]
    year = local(utcnow()).year
    assert [r.serial for r in rows] == [f"QZCI-R-{year}-000001", f"QZCI-R-{year}-000002"]
    assert {r.resident_id for r in rows} == {pool[0].resident_id}
    assert queries.retired_g(event.id) == 7_000
    assert queries.pool_g() == 3_000
    # each retirement is a RETIRE entry keyed by its serial, pool -> retirement, in grams
    assert _count(LedgerEntry) == entries + 2
    for row in rows:
        entry = find_entry(row.serial)
        assert entry is not None and entry.kind is EntryKind.RETIRE
        assert (entry.ref_type, entry.ref_id) == ("reduction", str(row.reduction_id))
        assert entry.resident_id == row.resident_id
        legs = sorted((p.account.kind, p.amount) for p in entry.postings)
        assert legs == sorted(
            [(AccountKind.REDUCTION_POOL, -row.grams), (AccountKind.RETIREMENT, row.grams)]
        )
    assert balance_of(system_account(AccountKind.RETIREMENT)) == 7_000
    assert balance_of(system_account(AccountKind.REDUCTION_POOL)) == -7_000
    # residents keep the points they earned for the actions
    assert resident_balance(pool[0].resident_id) == points
    assert reconcile().clean


def test_a_reduction_is_retired_at_most_once(db, organiser, make, pool):
    first = worked_event(organiser)
    retirements.retire_reductions(organiser, first.id, 6_000)  # the 2 kg and 5 kg ones
    second = worked_event(make.user("organiser"))
    with pytest.raises(InsufficientPool) as caught:
        retirements.retire_reductions(second.organiser, second.id, 4_000)
    assert caught.value.params == {"available": "3.000", "requested": "4.000"}
    assert _count(ReductionRetirement) == 2  # nothing saved for the refused request
    assert _db.session.scalar(select(func.count()).where(LedgerEntry.kind == EntryKind.RETIRE)) == 2
    rows = retirements.retire_reductions(second.organiser, second.id, 1)
    assert [r.reduction_id for r in rows] == [pool[2].id]
    year = local(utcnow()).year
    assert rows[0].serial == f"QZCI-R-{year}-000003"


def test_the_database_refuses_a_second_retirement_of_a_reduction(db, organiser, pool):
    event = worked_event(organiser)
    [row] = retirements.retire_reductions(organiser, event.id, 1_000)
    _db.session.add(
        ReductionRetirement(
            serial="QZCI-R-1999-000001",
            serial_year=1999,
            serial_no=1,
            event_id=event.id,
            reduction_id=row.reduction_id,
            resident_id=row.resident_id,
            grams=row.grams,
            request_key="manual",
            retired_by_id=organiser.id,
        )
    )
    with pytest.raises(IntegrityError):
        _db.session.flush()
    _db.session.rollback()


def test_a_repeated_request_returns_the_first_retirement(db, organiser, pool):
    event = worked_event(organiser)
    first = retirements.retire_reductions(organiser, event.id, 1_000, "same")
    again = retirements.retire_reductions(organiser, event.id, 1_000, "same")
    assert [r.id for r in again] == [r.id for r in first]
    assert _count(ReductionRetirement) == 1
    retire_entries = select(func.count()).where(LedgerEntry.kind == EntryKind.RETIRE)
    assert _db.session.scalar(retire_entries) == 1


def test_cannot_retire_more_than_the_footprint(db, organiser, make):
    event = worked_event(organiser)
    reduction(make.resident(), WORKED_TOTAL_G + 10)
    with pytest.raises(InvalidRetirement):
        retirements.retire_reductions(organiser, event.id, WORKED_TOTAL_G + 1)
    with pytest.raises(InvalidRetirement):
        retirements.retire_reductions(organiser, event.id, 0)
    with pytest.raises(NoFootprint):
        retirements.retire_reductions(organiser, make_event(organiser).id, 1)
    assert _count(ReductionRetirement) == 0


def test_retirements_reduce_what_the_forest_must_absorb(db, organiser, make):
    event = worked_event(organiser)
    reduction(make.resident(), 9_502_667)
    retirements.retire_reductions(organiser, event.id, 9_502_667)
    plan = forest.create_plan(organiser, event.id, plan_data())
    assert (plan.emissions_g, plan.retired_g, plan.target_g) == (
        WORKED_TOTAL_G,
        9_502_667,
        30_000_000,
    )
    assert plan.removal_g >= 30_000_000


def test_retirement_api_with_idempotency_key(client, auth, organiser, pool, make):
    event = worked_event(organiser)
    headers = {**auth.bearer(organiser), "Idempotency-Key": "retire-1"}
    first = client.post(
        f"/api/v1/events/{event.id}/retirements", json={"grams": 2_500}, headers=headers
    )
    again = client.post(
        f"/api/v1/events/{event.id}/retirements", json={"grams": 2_500}, headers=headers
    )
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert [r["grams"] for r in first.get_json()] == [2_000, 5_000]
    listed = client.get(f"/api/v1/events/{event.id}/retirements", headers=auth.bearer(organiser))
    assert [r["serial"] for r in listed.get_json()] == [r["serial"] for r in first.get_json()]
    other = client.post(
        f"/api/v1/events/{event.id}/retirements",
        json={"grams": 1},
        headers=auth.bearer(make.user("organiser")),
    )
    assert other.status_code == 404


def test_a_serial_is_one_ledger_entry_only(db, organiser, pool):
    event = worked_event(organiser)
    [row] = retirements.retire_reductions(organiser, event.id, 1_000)
    again = Retired(row.serial, row.grams, row.resident_id, row.reduction_id)
    with pytest.raises(IntegrityError):  # refused, never skipped
        post_retirements([again])
    _db.session.rollback()
    with pytest.raises(InvalidAmount):
        post_retirements([Retired("QZCI-R-1999-000009", 0, row.resident_id, row.reduction_id)])
    assert reconcile().clean


def test_reconcile_finds_a_retirement_without_its_entry(db, organiser, pool):
    event = worked_event(organiser)
    retirements.retire_reductions(organiser, event.id, 1_000)
    assert reconcile().clean
    _db.session.add(  # written behind the service's back: no ledger entry
        ReductionRetirement(
            serial="QZCI-R-1999-000001",
            serial_year=1999,
            serial_no=1,
            event_id=event.id,
            reduction_id=pool[1].id,
            resident_id=pool[1].resident_id,
            grams=pool[1].credited_g,
            request_key="manual",
            retired_by_id=organiser.id,
        )
    )
    _db.session.flush()
    problems = reconcile().problems
    assert "retirement QZCI-R-1999-000001: no RETIRE entry of its grams" in problems
    assert "retirement account holds 2000 g, the register 7000 g" in problems


def test_reconcile_finds_grams_mixed_with_points(db, organiser, pool, make):
    resident = make.resident()
    post_entry(
        EntryKind.RETIRE,
        [
            Leg(system_account(AccountKind.REDUCTION_POOL), -5),
            Leg(resident_account(resident.id), 5),
        ],
        "bad-retire",
    )
    assert "1 entries mix grams (retirements) and points" in reconcile().problems


def test_whole_reductions_over_cover_and_say_so(client, auth, organiser, admin, make):
    event = worked_event(organiser, FootprintStage.ACTUAL)
    reduction(make.resident(), 40_000_000)
    rows = retirements.retire_reductions(organiser, event.id, WORKED_TOTAL_G)
    assert [r.grams for r in rows] == [40_000_000]  # the one reduction, whole
    state = standing(event)
    assert state.retired_beyond_g == 40_000_000 - WORKED_TOTAL_G == 497_333
    assert state.covered and state.shortfall_g == 0
    cert = certificates.issue_certificate(admin, event.id)
    assert cert.snapshot["retired_beyond_g"] == 497_333
    beyond = "0.497 t CO2e beyond the footprint: reductions are retired whole"
    verify = client.get(f"/verify/{cert.verify_code}?lang=en").get_data(as_text=True)
    assert beyond in verify
    zh = client.get(f"/verify/{cert.verify_code}?lang=zh_CN").get_data(as_text=True)
    assert "超出碳足迹 0.497 吨二氧化碳当量" in zh
    with client.application.test_request_context("/?lang=en"):
        printed = render_template(  # what certificate.pdf prints
            "reports/certificate.html", cert=cert, snap=cert.snapshot, qr="", verify_url=""
        )
    assert beyond in printed and "an entry of the programme's ledger" in printed
    auth.login_page(organiser)
    report = client.get(f"/organiser/events/{event.id}/report/actual?lang=en")
    assert beyond in report.get_data(as_text=True)
    plan = client.get(f"/organiser/events/{event.id}/plan?lang=en").get_data(as_text=True)
    assert "already cover the footprint" in plan and "-0.497" not in plan
