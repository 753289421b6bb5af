"""Property-based: any sequence of credits, holds, cancellations, fulfilments, refunds and
expiries keeps every entry balanced, every resident non-negative and reconcile clean."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from backend.errors import DomainError
from backend.ledger import services as ledger
from backend.ledger.expiry import expire_account
from backend.ledger.models import Account, Posting
from backend.ledger.reconcile import reconcile
from backend.rewards import services as rewards
from backend.rewards.models import Redemption, RedemptionStatus
from backend.timeutil import utcnow

OPS = st.lists(
    st.tuples(
        st.sampled_from(["credit", "redeem", "cancel", "fulfil", "refund", "expire"]),
        st.integers(min_value=0, max_value=2),  # which resident
        st.integers(min_value=1, max_value=400),  # points for a credit
    ),
    min_size=1,
    max_size=25,
)


@pytest.fixture
def world(make):
    """Made once per test run and shared by every example: state accumulates across them."""
    merchant = make.merchant()
    offers = [
        make.offer(merchant, points_price=p, stock=1000, per_resident_limit=10_000)
        for p in (50, 120, 300)
    ]
    return [make.resident() for _ in range(3)], make.staff(merchant), offers


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS)
def test_any_sequence_keeps_the_ledger_consistent(db, world, ops):
    residents, staff, offers = world
    for step, (op, who, amount) in enumerate(ops):
        resident = residents[who]
        try:
            if op == "credit":
                ledger.credit_points(resident.id, amount, f"prop:{resident.id}:{utcnow()}:{step}")
                db.session.commit()
            elif op == "redeem":
                rewards.redeem_offer(resident, offers[amount % 3].id)
            else:
                held = db.session.scalars(
                    select(Redemption)
                    .where(Redemption.resident_id == resident.id)
                    .order_by(Redemption.id.desc())
                ).all()
                if op == "cancel" and held:
                    rewards.cancel_redemption(resident, held[amount % len(held)].id)
                elif op == "fulfil" and held:
                    rewards.fulfil_redemption(staff, code=held[amount % len(held)].short_code)
                elif op == "refund" and held:
                    rewards.refund_redemption(staff, held[amount % len(held)].id, "prop")
                elif op == "expire":
                    account = ledger.resident_account(resident.id)
                    expire_account(account, utcnow() + timedelta(days=365 * 3))
                    db.session.commit()
        except DomainError:
            db.session.rollback()
    report = reconcile()
    assert report.clean, report.problems
    negative = db.session.scalar(
        select(func.count()).select_from(Account).where(Account.balance < 0)
    )
    assert negative == 0
    held_points = db.session.scalar(
        select(func.coalesce(func.sum(Redemption.points), 0)).where(
            Redemption.status == RedemptionStatus.HELD
        )
    )
    holds = ledger.system_account(ledger.AccountKind.HOLDS)
    holds_balance = db.session.scalar(
        select(func.coalesce(func.sum(Posting.amount), 0)).where(Posting.account_id == holds.id)
    )
    assert holds_balance == held_points  # the holds account is exactly the open redemptions
