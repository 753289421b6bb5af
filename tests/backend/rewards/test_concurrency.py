"""Races on real PostgreSQL: parallel connections, real commits, no mocks."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.accounts.models import User
from backend.errors import DomainError
from backend.extensions import db
from backend.ledger.queries import merchant_balance, resident_balance
from backend.ledger.reconcile import reconcile
from backend.rewards import services
from backend.rewards.models import Offer, Redemption, RedemptionStatus

from ...conftest import run_parallel
from ...factories import Factories

pytestmark = pytest.mark.postgres


def _codes(results: list) -> list[str]:
    return sorted(r.code if isinstance(r, DomainError) else "ok" for r in results)


def test_n_redemptions_against_a_balance_for_k_succeed_k_times(committed):
    make = Factories()
    resident = make.resident()
    make.points(resident, 700)  # enough for 7 at 100 points
    offer = make.offer(points_price=100, stock=100, per_resident_limit=100)
    user_id, offer_id = resident.id, offer.id

    def redeem(i: int) -> Redemption:
        return services.redeem_offer(db.session.get(User, user_id), offer_id, f"k{i}")

    results = run_parallel(committed, redeem, list(range(20)))
    assert _codes(results).count("ok") == 7
    assert _codes(results).count("insufficient_points") == 13
    assert resident_balance(user_id) == 0
    assert db.session.get(Offer, offer_id).stock == 93
    assert reconcile().clean


def test_stock_never_goes_below_zero(committed):
    make = Factories()
    offer = make.offer(points_price=10, stock=5, per_resident_limit=1)
    residents = []
    for _ in range(16):
        user = make.resident()
        make.points(user, 10)
        residents.append(user.id)
    offer_id = offer.id

    def redeem(user_id: int) -> Redemption:
        return services.redeem_offer(db.session.get(User, user_id), offer_id, "one")

    results = run_parallel(committed, redeem, residents)
    assert _codes(results).count("ok") == 5
    assert _codes(results).count("out_of_stock") == 11
    db.session.expire_all()
    assert db.session.get(Offer, offer_id).stock == 0
    assert reconcile().clean


def test_the_same_code_fulfilled_at_once_succeeds_once(committed):
    make = Factories()
    merchant = make.merchant()
    staff_ids = [make.staff(merchant).id for _ in range(6)]
    resident = make.resident()
    make.points(resident, 100)
    offer = make.offer(merchant, points_price=100)
    redemption = services.redeem_offer(resident, offer.id, "q")
    code = redemption.short_code

    def fulfil(staff_id: int) -> Redemption:
        return services.fulfil_redemption(db.session.get(User, staff_id), code=code)

    results = run_parallel(committed, fulfil, staff_ids)
    assert _codes(results) == ["already_fulfilled"] * 5 + ["ok"]
    assert merchant_balance(merchant.id) == 100
    assert reconcile().clean


def test_the_same_idempotency_key_at_once_makes_one_redemption(committed):
    make = Factories()
    resident = make.resident()
    make.points(resident, 1000)
    offer = make.offer(points_price=100, stock=50, per_resident_limit=50)
    user_id, offer_id = resident.id, offer.id

    def redeem(_: int) -> int:
        return services.redeem_offer(db.session.get(User, user_id), offer_id, "retry-me").id

    results = run_parallel(committed, redeem, list(range(8)))
    assert len(set(results)) == 1 and isinstance(results[0], int)
    assert resident_balance(user_id) == 900
    count = db.session.scalar(select(func.count()).select_from(Redemption))
    assert count == 1


def test_cancel_and_fulfil_racing_end_in_one_state(committed):
    make = Factories()
    merchant = make.merchant()
    staff = make.staff(merchant)
    resident = make.resident()
    make.points(resident, 100)
    offer = make.offer(merchant, points_price=100)
    redemption = services.redeem_offer(resident, offer.id, "race")
    rid, code, staff_id, user_id = redemption.id, redemption.short_code, staff.id, resident.id

    def act(which: str) -> str:
        if which == "fulfil":
            services.fulfil_redemption(db.session.get(User, staff_id), code=code)
        else:
            services.cancel_redemption(db.session.get(User, user_id), rid)
        return which

    run_parallel(committed, act, ["fulfil", "cancel"])
    db.session.expire_all()
    final = db.session.get(Redemption, rid).status
    assert final in (RedemptionStatus.FULFILLED, RedemptionStatus.CANCELLED)
    if final is RedemptionStatus.FULFILLED:
        assert (merchant_balance(merchant.id), resident_balance(user_id)) == (100, 0)
    else:
        assert (merchant_balance(merchant.id), resident_balance(user_id)) == (0, 100)
    assert reconcile().clean


def test_fulfilments_at_one_merchant_at_once_all_settle(committed):
    # The merchant's account is not locked ahead (its balance moves by the entry's last
    # statement): parallel fulfilments of different redemptions must still all add up.
    make = Factories()
    merchant = make.merchant()
    offer = make.offer(merchant, points_price=30, stock=100, per_resident_limit=10)
    jobs = []
    for _ in range(12):
        resident = make.resident()
        make.points(resident, 30)
        code = services.redeem_offer(resident, offer.id, "one").short_code
        jobs.append((make.staff(merchant).id, code))

    def fulfil(job: tuple[int, str]) -> Redemption:
        staff_id, code = job
        return services.fulfil_redemption(db.session.get(User, staff_id), code=code)

    results = run_parallel(committed, fulfil, jobs)
    assert _codes(results) == ["ok"] * 12
    assert merchant_balance(merchant.id) == 12 * 30
    assert reconcile().clean
