"""Retirement races and the append-only register on real PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from backend.accounts.models import User
from backend.events import forest, removals, retirements
from backend.events.models import ForestCredit, ReductionRetirement
from backend.extensions import db
from backend.ledger.models import EntryKind, LedgerEntry
from backend.ledger.reconcile import reconcile
from backend.methodology_versions.services import seed_versions

from ...conftest import run_parallel
from ...factories import Factories
from .helpers import (
    PLANTED_ON,
    approve_measuring_version,
    plan_data,
    reduction,
    worked_event,
)

pytestmark = pytest.mark.postgres


def test_parallel_retirements_never_share_a_reduction(committed):
    make = Factories()
    seed_versions()
    resident = make.resident()
    for i in range(12):
        reduction(resident, 1_000, age_days=i)
    events = []
    for _ in range(6):
        organiser = make.user("organiser")
        events.append((organiser.id, worked_event(organiser).id))

    def retire(pair: tuple[int, int]) -> list[ReductionRetirement]:
        organiser_id, event_id = pair
        return retirements.retire_reductions(db.session.get(User, organiser_id), event_id, 2_000)

    results = run_parallel(committed, retire, events)
    outcomes = ["ok" if isinstance(r, list) else r.code for r in results]
    assert all(o in ("ok", "retirement_race") for o in outcomes), outcomes
    assert outcomes.count("ok") >= 3, outcomes  # retries resolve most collisions
    rows = db.session.scalars(select(ReductionRetirement)).all()
    assert len({r.reduction_id for r in rows}) == len(rows)  # each reduction at most once
    assert len({r.serial for r in rows}) == len(rows)
    assert len(rows) == 2 * outcomes.count("ok")
    numbers = sorted(r.serial_no for r in rows)
    assert numbers == list(range(1, len(rows) + 1))  # no gaps, no repeats
    # every retirement, and only those, is a RETIRE entry keyed by its serial
    keys = db.session.scalars(
        select(LedgerEntry.idempotency_key).where(LedgerEntry.kind == EntryKind.RETIRE)
    ).all()
    assert sorted(keys) == sorted(r.serial for r in rows)
    assert reconcile().clean


def test_two_organisers_race_for_the_last_reduction(committed):
    make = Factories()
    seed_versions()
    reduction(make.resident(), 1_000)
    events = []
    for _ in range(2):
        organiser = make.user("organiser")
        events.append((organiser.id, worked_event(organiser).id))

    def retire(pair: tuple[int, int]) -> list[ReductionRetirement]:
        organiser_id, event_id = pair
        return retirements.retire_reductions(db.session.get(User, organiser_id), event_id, 1_000)

    results = run_parallel(committed, retire, events)
    outcomes = sorted("ok" if isinstance(r, list) else r.code for r in results)
    assert outcomes in (["insufficient_pool", "ok"], ["ok", "retirement_race"]), outcomes
    assert db.session.scalar(select(func.count()).select_from(ReductionRetirement)) == 1
    retire_entries = select(func.count()).where(LedgerEntry.kind == EntryKind.RETIRE)
    assert db.session.scalar(retire_entries) == 1
    assert reconcile().clean


def test_the_register_is_append_only(committed):
    make = Factories()
    seed_versions()
    organiser = make.user("organiser")
    event = worked_event(organiser)
    reduction(make.resident(), 1_000)
    retirements.retire_reductions(organiser, event.id, 1_000)
    for statement in (
        "UPDATE reduction_retirements SET grams = 1",
        "DELETE FROM reduction_retirements",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ReductionRetirement)) == 1


def test_the_forest_register_is_append_only(committed):
    make = Factories()
    seed_versions()
    organiser, admin = make.user("organiser"), make.user("admin")
    approve_measuring_version(admin, make.user("admin"))
    event = worked_event(organiser)
    plan = forest.create_plan(organiser, event.id, plan_data())
    forest.submit_plan(organiser, plan.id)
    forest.review_plan(admin, plan.id, True, "ok")
    planting = forest.record_planting(
        admin,
        plan.id,
        {
            "planted_on": PLANTED_ON.isoformat(),
            "species": "chinese_fir",
            "area_mu": "3.6",
            "seedlings": "648",
            "location": "举村乡",
        },
    )
    removals.record_growth_measurement(
        admin, planting.id, PLANTED_ON, [{"area_m2": 400, "stock_m3": "1.0"}]
    )
    for statement in ("UPDATE forest_credits SET grams = 1", "DELETE FROM forest_credits"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ForestCredit)) == 2
    assert reconcile().clean
