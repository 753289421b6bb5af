"""Verification rules beyond the happy path: anomalies sent to review, consent withdrawn
after a record was matched, the programme's points cap and recompute, absurd numbers."""

from __future__ import annotations

from sqlalchemy import select

from backend.actions.identities import revoke_binding
from backend.actions.models import ActivityRecord, IdentityBinding, Outcome, Reduction
from backend.actions.recompute import recompute_check
from backend.actions.self_reports import review_record
from backend.actions.verification import verify_pending
from backend.ledger.queries import resident_balance
from backend.ledger.reconcile import reconcile
from backend.settings.services import set_setting

from ...helpers import DAY
from .conftest import bus

# 30 km in 5 minutes: 360 km/h, far above the bus's plausible 60 km/h
TOO_FAST = {"start": f"{DAY}T08:00:00+08:00", "end": f"{DAY}T08:05:00+08:00", "km": 30}


def _outcome(pusher, batch_id):
    return pusher.get(batch_id).get_json()["outcomes"][0]


def test_an_impossible_speed_is_flagged_for_review_and_an_admin_may_approve_it(
    transit, rider, make, db
):
    _, pusher = transit
    batch = pusher.push([bus("fast-1", **TOO_FAST)]).get_json()["batch_id"]
    outcome = _outcome(pusher, batch)
    assert (outcome["outcome"], outcome["reason"]) == ("flagged", "speed_implausible")
    record = db.session.scalar(select(ActivityRecord))
    assert record.flags == ["speed_implausible"]
    assert "km/h" in record.reason["en"] and "km/h" in record.reason["zh_CN"]
    assert resident_balance(rider.id) == 0

    review_record(make.user("admin"), record.id, approve=True)
    assert record.outcome is Outcome.CREDITED
    # (100 - 56.2) g/pkm x 30 km = 1314 g; the per-trip distance cap is above 30 km
    assert resident_balance(rider.id) == db.session.scalar(select(Reduction.points)) > 0
    assert reconcile().clean and not recompute_check().differences


def test_withdrawing_consent_stops_credits_of_records_already_matched(transit, rider, make, db):
    _, pusher = transit
    admin = make.user("admin")
    # one record waits in review, one waits because crediting is paused
    pusher.push([bus("w-1", **TOO_FAST)])
    set_setting(admin, "crediting_paused", 1)
    pusher.push([bus("w-2", start=f"{DAY}T18:00:00+08:00", end=f"{DAY}T18:25:00+08:00")])
    waiting = {r.partner_record_id: r for r in db.session.scalars(select(ActivityRecord))}
    assert waiting["w-2"].outcome is Outcome.PENDING
    assert waiting["w-1"].outcome is Outcome.REVIEW

    revoke_binding(rider, db.session.scalar(select(IdentityBinding.id)))
    set_setting(admin, "crediting_paused", 0)
    verify_pending()
    review_record(admin, waiting["w-1"].id, approve=True)

    for record in db.session.scalars(select(ActivityRecord)):
        db.session.refresh(record)
        assert (record.outcome, record.reason_code) == (Outcome.REJECTED, "consent_withdrawn")
        assert record.reason["en"] and record.reason["zh_CN"]
    assert resident_balance(rider.id) == 0 and reconcile().clean


def test_points_trimmed_by_the_programme_cap_still_recompute_cleanly(transit, rider, make, db):
    _, pusher = transit
    set_setting(make.user("admin"), "daily_points_cap", 500)
    pusher.push(
        [
            bus(
                f"c-{h}",
                start=f"{DAY}T{h:02d}:00:00+08:00",
                end=f"{DAY}T{h:02d}:25:00+08:00",
            )
            for h in (7, 8)
        ]
    )
    rows = db.session.execute(
        select(Reduction.credited_g, Reduction.points, Reduction.programme_capped).order_by(
            Reduction.id
        )
    ).all()
    # 359 g each; the second trip gets 500 - 359 = 141 points, its grams are still 359
    assert [tuple(r) for r in rows] == [(359, 359, False), (359, 141, True)]
    report = recompute_check()
    assert report.checked == 2 and report.differences == []

    # a capped row claiming more points than the rule gives is still a difference
    reduction = db.session.scalars(select(Reduction).order_by(Reduction.id.desc())).first()
    reduction.points = 400
    db.session.flush()
    assert len(recompute_check().differences) == 1


def test_absurd_numbers_and_dates_are_rejected_and_the_rest_of_the_chunk_is_credited(
    transit, rider, db
):
    _, pusher = transit
    batch = pusher.push(
        [
            bus("x-1", km=1e30),
            bus("x-2", end="9999-12-31T23:59:59-12:00"),
            bus("x-3", km="1E+400"),
            bus("x-4", start=f"{DAY}T09:00:00+08:00", end=f"{DAY}T09:25:00+08:00"),
        ]
    ).get_json()["batch_id"]
    status = pusher.get(batch).get_json()
    assert status["status"] == "done"
    assert [(o["outcome"], o["reason"]) for o in status["outcomes"]] == [
        ("rejected", "malformed_record"),
        ("rejected", "malformed_record"),
        ("rejected", "malformed_record"),
        ("credited", None),
    ]
    assert resident_balance(rider.id) == 359 and reconcile().clean


def test_a_verifier_crediting_far_more_than_peers_is_sent_to_review(
    make, app, db, seeded, monkeypatch
):
    from backend.actions.claims import new_claim_code, submit_claim
    from backend.merchants.models import MerchantKind

    monkeypatch.setitem(app.config, "VERIFIER_MIN", 4)  # (20 by default) judged at 4 today
    weighed = {"items": [{"category": "paper", "weight_kg": 2}]}
    busy, quiet = (make.staff(make.merchant(kind=MerchantKind.WASTE_STATION)) for _ in "ab")

    def claim(staff):
        resident = make.resident()
        return submit_claim(staff, dict(weighed), code=new_claim_code(resident).code)

    assert claim(quiet).outcome is Outcome.CREDITED
    outcomes = [claim(busy).outcome for _ in range(5)]
    # 4 credited today, the peers' median is 1 and 4 > 3 × 1: the fifth goes to review
    assert outcomes == [Outcome.CREDITED] * 4 + [Outcome.REVIEW]
    flagged = db.session.scalars(
        select(ActivityRecord).where(ActivityRecord.outcome == Outcome.REVIEW)
    ).one()
    assert flagged.flags == ["verifier_outlier"] and flagged.verifier_id == busy.id
    assert claim(quiet).outcome is Outcome.CREDITED  # the quiet attendant is not affected
