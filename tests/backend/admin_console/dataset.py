"""A known programme: every figure of the dashboard can be worked out by hand from it.

Residents (district, registered):
  A 柯城区 2025-12-01, B 柯城区 2025-12-01, C 江山市 2026-01-20, D 衢江区 2026-02-10 (suspended),
  E 龙游县 2026-03-15 (after the period: not counted as registered by its end).
Verified reductions (1 point per gram; posted to the ledger at the time shown, local):
  A public_transit 1,200 g 2026-01-10 (partner bus-co) A bike_sharing  800 g 2026-01-15
  B waste_sorting  2,500 g 2026-02-03                 C public_transit 3,000 g 2026-02-20 (bus-co)
  C food_waste       450 g on 2026-02-01, posted 2026-02-01 00:30 local = 2026-01-31 16:30 UTC
  B waste_sorting    600 g 2023-12-05 (before the period)
Points: A redeems 300 (fulfilled 2026-02-06); C redeems 1,000 (fulfilled 2026-02-22, refunded
  2026-02-25); B's 600 points of 2023-12 expire (posted 2026-01-02); A donates 150 to a planting
  project (2026-02-10).
Partner bus-co records received: the two credited ones above, 2 rejected daily_limit_reached
  and (2026-02-21 07:00 and 07:30 local, still the 20th in UTC) 1 rejected malformed_record
  and 1 unmatched; one more malformed record at
  2026-03-01 00:10 local (after the period, though still 2026-02-28 in UTC). Batches in Feb: 1
  done, 1 failed. Partner waste-co sent nothing.
Anomaly flags: verifier_outlier A 2026-02-10 (credited); burst C 2026-02-11 (rejected);
  burst + verifier_outlier B 2026-01-05 (still in review).
Review queue at NOW (2026-03-01 12:00 local): B's flagged record (since 2026-01-05 10:00),
  A's self-report (NOW - 2 h), C's appeal (NOW - 2 days).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

from sqlalchemy import select

from backend.accounts.models import User
from backend.actions.models import (
    ActivityRecord,
    BatchStatus,
    Channel,
    Outcome,
    PartnerBatch,
    Reduction,
)
from backend.events import donations as events_donations
from backend.events import forest as events_forest
from backend.events.models import FootprintStage
from backend.extensions import db
from backend.ledger.expiry import expire_account
from backend.ledger.models import Account
from backend.ledger.services import credit_points
from backend.methodology_versions.services import active_version, seed_versions
from backend.partners.models import Partner
from backend.rewards import services as rewards
from backend.timeutil import LOCAL_TZ

from ..events.helpers import plan_data, worked_event

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=LOCAL_TZ).astimezone(UTC)
_ids = itertools.count(1)


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A local (Asia/Shanghai) time as an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=LOCAL_TZ).astimezone(UTC)


@contextmanager
def ledger_clock(when: datetime) -> Iterator[None]:
    """Ledger entries posted inside are dated ``when`` (their postings copy the entry's):
    ``post_entry`` dates an entry by the ledger's clock, read once per entry."""
    with patch("backend.ledger.services.utcnow", return_value=when):
        yield


def record(
    *,
    action: str = "public_transit",
    resident: User | None = None,
    partner: Partner | None = None,
    outcome: Outcome = Outcome.CREDITED,
    received_at: datetime,
    reason_code: str | None = None,
    flags: list[str] | None = None,
    appealed_at: datetime | None = None,
) -> ActivityRecord:
    item = ActivityRecord(
        channel=Channel.PARTNER if partner else Channel.SELF_REPORT,
        action=action,
        resident_id=resident.id if resident else None,
        partner_id=partner.id if partner else None,
        partner_record_id=f"r{next(_ids)}" if partner else None,
        activity={},
        received_at=received_at,
        local_day=received_at.astimezone(LOCAL_TZ).date().isoformat(),
        outcome=outcome,
        reason_code=reason_code,
        flags=flags or [],
        appealed_at=appealed_at,
    )
    db.session.add(item)
    db.session.commit()
    return item


def credit(
    resident: User,
    action: str,
    grams: int,
    when: datetime,
    *,
    partner: Partner | None = None,
    posted_at: datetime | None = None,
) -> Reduction:
    """A verified reduction and its credit entry, as verification writes them."""
    source = record(action=action, resident=resident, partner=partner, received_at=when)
    version = active_version(action)
    reduction = Reduction(
        record_id=source.id,
        resident_id=resident.id,
        methodology_code=action,
        module_version=version.module_version,
        version_id=version.id,
        params_hash=version.params_hash,
        activity={},
        baseline_g=grams,
        project_g=0,
        reduction_g=grams,
        credited_g=grams,
        points=grams,
        steps=[],
        local_day=source.local_day,
        created_at=posted_at or when,
    )
    db.session.add(reduction)
    with ledger_clock(posted_at or when):
        entry, _ = credit_points(
            resident.id, grams, f"test-credit:{source.id}", ref=("activity_record", source.id)
        )
    reduction.ledger_entry_id = entry.id
    db.session.commit()
    return reduction


@dataclass
class Programme:
    a: User
    b: User
    c: User
    d: User
    e: User
    bus: Partner
    admin: User


def build(make: Any) -> Programme:
    seed_versions()
    a = make.resident(district="柯城区", nickname="甲")
    b = make.resident(district="柯城区", nickname="乙")
    c = make.resident(district="江山市", nickname="丙")
    d = make.resident(district="衢江区", nickname="丁")
    e = make.resident(district="龙游县", nickname="戊")
    for user, created in (
        (a, at(2025, 12, 1)),
        (b, at(2025, 12, 1)),
        (c, at(2026, 1, 20)),
        (d, at(2026, 2, 10)),
        (e, at(2026, 3, 15)),
    ):
        user.created_at = created
    d.suspended_at, d.suspended_reason = at(2026, 2, 20), "test"
    db.session.commit()
    admin = make.user("admin")
    bus, _, _ = make.partner("bus-co", kind="transit")
    make.partner("waste-co", kind="waste_station")

    credit(a, "public_transit", 1200, at(2026, 1, 10, 8), partner=bus)
    credit(a, "bike_sharing", 800, at(2026, 1, 15, 9))
    credit(b, "waste_sorting", 2500, at(2026, 2, 3, 10))
    credit(c, "public_transit", 3000, at(2026, 2, 20, 8), partner=bus)
    credit(c, "food_waste", 450, at(2026, 2, 1, 0, 20), posted_at=at(2026, 2, 1, 0, 30))
    credit(b, "waste_sorting", 600, at(2023, 12, 5, 10))

    merchant = make.merchant()
    staff = make.staff(merchant)
    cup = make.offer(merchant, points_price=300)
    bag = make.offer(merchant, points_price=1000, title_zh="帆布袋")
    with ledger_clock(at(2026, 2, 5)):
        first = rewards.redeem_offer(a, cup.id, "r-a")
    with ledger_clock(at(2026, 2, 6)):
        rewards.fulfil_redemption(staff, code=first.short_code)
    with ledger_clock(at(2026, 2, 21)):
        second = rewards.redeem_offer(c, bag.id, "r-c")
    with ledger_clock(at(2026, 2, 22)):
        rewards.fulfil_redemption(staff, code=second.short_code)
    with ledger_clock(at(2026, 2, 25)):
        rewards.refund_redemption(staff, second.id, "wrong size")

    account = db.session.scalar(select(Account).where(Account.user_id == b.id))
    with ledger_clock(at(2026, 1, 2)):
        assert expire_account(account, at(2026, 1, 2)) == 600
    db.session.commit()

    organiser = make.user("organiser")
    project = events_forest.create_plan(
        organiser, worked_event(organiser, FootprintStage.ACTUAL).id, plan_data()
    )
    events_forest.submit_plan(organiser, project.id)
    events_forest.review_plan(admin, project.id, True, "site visited")
    with ledger_clock(at(2026, 2, 10)):
        events_donations.donate_points(a, project.id, 150, "d-a")

    rejected = Outcome.REJECTED
    record(
        partner=bus,
        resident=c,
        outcome=rejected,
        reason_code="daily_limit_reached",
        received_at=at(2026, 2, 20, 9),
    )
    record(
        partner=bus,
        resident=c,
        outcome=rejected,
        reason_code="daily_limit_reached",
        received_at=at(2026, 2, 20, 18),
    )
    # 07:00 and 07:30 local on the 21st are still the 20th in UTC: counted on the local day
    record(
        partner=bus,
        outcome=rejected,
        reason_code="malformed_record",
        received_at=at(2026, 2, 21, 7),
    )
    record(
        partner=bus,
        outcome=Outcome.UNMATCHED,
        reason_code="unmatched_identity",
        received_at=at(2026, 2, 21, 7, 30),
    )
    record(
        partner=bus,
        outcome=rejected,
        reason_code="malformed_record",
        received_at=at(2026, 3, 1, 0, 10),
    )
    for status in (BatchStatus.DONE, BatchStatus.FAILED):
        db.session.add(
            PartnerBatch(
                partner_id=bus.id, status=status, source="json", received_at=at(2026, 2, 20, 7)
            )
        )
    db.session.commit()

    record(
        resident=a,
        outcome=Outcome.CREDITED,
        flags=["verifier_outlier"],
        reason_code="verifier_outlier",
        received_at=at(2026, 2, 10),
    )
    record(
        resident=c,
        outcome=rejected,
        flags=["burst"],
        reason_code="review_rejected",
        received_at=at(2026, 2, 11),
    )
    record(
        resident=b,
        outcome=Outcome.REVIEW,
        flags=["burst", "verifier_outlier"],
        reason_code="burst",
        received_at=at(2026, 1, 5, 10),
    )
    record(
        resident=a,
        outcome=Outcome.REVIEW,
        flags=["self_report"],
        reason_code="self_report",
        action="waste_sorting",
        received_at=NOW - timedelta(hours=2),
    )
    record(
        resident=c,
        outcome=Outcome.REVIEW,
        reason_code="daily_limit_reached",
        received_at=NOW - timedelta(days=2),
        appealed_at=NOW - timedelta(days=1),
    )
    return Programme(a, b, c, d, e, bus, admin)
