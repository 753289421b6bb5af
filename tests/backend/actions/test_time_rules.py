"""The time rules (backend/actions/timerules.py), one place for every channel: the clock
skew, the claim windows per channel, consent, and the settings that tune them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.actions.ingest import ingest_chunk
from backend.actions.models import BatchStatus, Channel, PartnerBatch
from backend.actions.timerules import activity_problem, time_problem
from backend.timeutil import utcnow
from methodologies import Window

from ...helpers import DAY
from .conftest import bus

NOW = utcnow()


def span(start_ago: timedelta, end_ago: timedelta | None = None) -> Window:
    return Window(NOW - start_ago, NOW - (end_ago if end_ago is not None else start_ago))


@pytest.mark.parametrize(
    ("channel", "ago", "code"),
    [
        (Channel.PARTNER, timedelta(days=29), None),
        (Channel.PARTNER, timedelta(days=31), "outside_claim_window"),
        (Channel.SELF_REPORT, timedelta(days=6), None),
        (Channel.SELF_REPORT, timedelta(days=8), "outside_claim_window"),
        (Channel.CLAIM, timedelta(days=8), "outside_claim_window"),
        (Channel.CARD, timedelta(days=8), "outside_claim_window"),
        (Channel.PARTNER, -timedelta(minutes=4), None),  # within the 5-minute skew
        (Channel.PARTNER, -timedelta(minutes=6), "dated_in_future"),
        (Channel.SELF_REPORT, -timedelta(days=1), "dated_in_future"),
    ],
)
def test_claim_windows_and_skew_per_channel(app, channel, ago, code):
    with app.app_context():
        problem = time_problem(channel, span(ago), NOW)
    assert (problem.code if problem else None) == code
    if problem:
        assert problem.reason["zh_CN"] and problem.reason["en"]


def test_a_trip_ending_in_the_future_is_future_even_if_it_started_before(app):
    with app.app_context():
        problem = time_problem(
            Channel.PARTNER, span(timedelta(minutes=30), -timedelta(hours=1)), NOW
        )
    assert problem is not None and problem.code == "dated_in_future"


def test_before_consent_only_beyond_the_claim_window(app):
    consent = NOW - timedelta(days=1)  # the resident linked the card yesterday
    with app.app_context():
        inside = time_problem(Channel.PARTNER, span(timedelta(days=20)), NOW, consent)
        # a record that reached us before the link (held until it was proven) and is
        # decided now: measured against the consent, not only the arrival
        arrival = NOW - timedelta(days=40)
        outside = time_problem(Channel.PARTNER, span(timedelta(days=60)), arrival, consented_at=NOW)
    assert inside is None
    assert outside is not None and outside.code == "before_consent"
    assert "linked this source" in outside.reason["en"] and "授权" in outside.reason["zh_CN"]


def test_the_windows_are_settings(app, monkeypatch):
    monkeypatch.setitem(app.config, "CLAIM_WINDOW_PARTNER_DAYS", 10)
    monkeypatch.setitem(app.config, "ACTION_CLOCK_SKEW_SECONDS", 0)
    with app.app_context():
        assert time_problem(Channel.PARTNER, span(timedelta(days=11)), NOW).code == (
            "outside_claim_window"
        )
        assert time_problem(Channel.PARTNER, span(-timedelta(seconds=5)), NOW).code == (
            "dated_in_future"
        )


def test_activity_problem_reads_the_actions_own_time(app):
    """What a self-report form can call at entry: the action's span, not its dedupe window."""
    later = (NOW + timedelta(days=1)).isoformat()
    with app.app_context():
        meal = {"kind": "clean_plate", "meal_at": later, "diners": 1}
        assert activity_problem("food_waste", Channel.SELF_REPORT, meal, NOW).code == (
            "dated_in_future"
        )
        ok = bus("x", start=f"{DAY}T08:00:00+08:00", end=f"{DAY}T08:25:00+08:00")["activity"]
        assert activity_problem("public_transit", Channel.SELF_REPORT, ok, NOW) is None


def test_a_partner_batch_is_judged_at_its_arrival_not_when_a_worker_reaches_it(
    app, transit, rider, db
):
    """A record 29 days old when the batch arrived stays creditable if the queue is slow."""
    partner, _ = transit
    old = (NOW - timedelta(days=29, hours=12)).isoformat()
    old_end = (NOW - timedelta(days=29, hours=11, minutes=40)).isoformat()
    batch = PartnerBatch(
        partner_id=partner.id,
        status=BatchStatus.PROCESSING,
        source="json",
        total=1,
        processed=0,
        resent=[],
        received_at=NOW - timedelta(days=2),  # arrived two days ago, processed only now
    )
    db.session.add(batch)
    db.session.commit()
    summary = ingest_chunk(partner, batch, [bus("slow", start=old, end=old_end)])
    # 31.5 days before now, but 27.5 days before its arrival: inside the 30-day window
    assert summary.credited == 1
