"""The resident's forest, weekly streak and milestones, through the home and badges pages,
from real partner credits and a real donation."""

from __future__ import annotations

import re
from datetime import timedelta

from backend.engagement.queries import STAGES, weekly_streak
from backend.ledger.queries import resident_balance
from backend.ledger.reconcile import reconcile

from .trips import Trips, planted_project, today, trip_day


def _stage(html: str) -> int:
    match = re.search(r'data-stage="(\d+)"', html)
    assert match, "no forest on the page"
    return int(match.group(1))


def test_a_new_resident_has_a_seed_and_no_badges(client, make, auth):
    resident = make.resident()
    auth.login_page(resident)
    html = client.get("/home").get_data(as_text=True)
    assert _stage(html) == 0
    assert "第 0 阶段" in html or "Stage 0" in html
    assert '<title id="forest-svg-title">' in html  # the text alternative of the picture
    assert "连续 0 周" in html


def test_the_forest_grows_a_stage_after_enough_credits(client, make, auth):
    resident = make.resident()
    trips = Trips(client, make)
    auth.login_page(resident)
    client.get("/home?lang=en")
    trips.push(resident, [(trip_day(), 8.2), (trip_day(), 8.2)])  # 718 g: still a seed
    html = client.get("/home").get_data(as_text=True)
    assert _stage(html) == 0
    assert "0.72 kg CO2e of your verified reductions" in html
    assert "Next: a sprout at 1 kg CO2e (0.28 kg to go)." in html
    trips.push(resident, [(trip_day(), 8.2)])  # 1,077 g
    html = client.get("/home").get_data(as_text=True)
    assert _stage(html) == 1
    assert "Stage 1: a sprout" in html
    assert "1.08 kg CO2e of your verified reductions" in html
    # every stage states the kilograms it stands for
    for threshold, _name in STAGES:
        assert f"{threshold // 1000:,} kg CO2e" in html


def test_streak_and_milestones_appear_after_the_actions_that_earn_them(client, make, auth):
    resident = make.resident()
    trips = Trips(client, make)
    auth.login_page(resident)
    client.get("/home?lang=en")
    html = client.get("/badges").get_data(as_text=True)
    assert "0 weeks in a row" in html
    assert "Earned on" not in html
    day = trip_day()  # today, or yesterday in a day's first hours
    last_week = day - timedelta(days=7)
    # 3 x 40 km a day: 5,000 g (the daily cap) on each of two days, 10 kg in all
    trips.push(resident, [(last_week, 40), (last_week, 40), (last_week, 40)])
    trips.push(resident, [(day, 40), (day, 40), (day, 40)])
    html = client.get("/home").get_data(as_text=True)
    assert "2 weeks in a row" in html  # an open current week does not break a streak
    this_week = day.isocalendar()[:2] == today().isocalendar()[:2]
    assert ("this week done" in html) is this_week
    assert "First Public transit" in html or "First Bus" in html or "First " in html
    assert "10 kg CO2e reduced" in html
    assert "100 kg CO2e reduced" not in html  # not earned: not on the home
    badges = client.get("/badges").get_data(as_text=True)
    assert f"Earned on {last_week.isoformat()}" in badges  # the first trip's day
    assert f"Earned on {day.isoformat()}" in badges  # 10 kg reached on the second day
    assert badges.count("Not yet") == 3 + 2 + 1 + 1  # other actions, 100/1,000 kg, donation, team
    # badges are not points: the balance is what the trips credited, nothing more
    assert resident_balance(resident.id) == 10_000


def test_the_streak_counts_consecutive_weeks_and_survives_an_open_week(client, make, db):
    resident = make.resident()
    trips = Trips(client, make)
    monday = today() - timedelta(days=today().weekday())
    # last week and the week before, none yet this week
    trips.push(resident, [(monday - timedelta(days=1), 8.2), (monday - timedelta(days=8), 8.2)])
    streak = weekly_streak(resident.id)
    assert (streak.current, streak.longest, streak.this_week) == (2, 2, False)
    # a week later with nothing more, it is broken
    assert weekly_streak(resident.id, today() + timedelta(days=7)).current == 0
    assert weekly_streak(resident.id, today() + timedelta(days=7)).longest == 2


def test_a_donation_shows_its_real_project_in_the_forest(client, make, auth, db):
    resident = make.resident()
    make.points(resident, 500)
    plan = planted_project(make)
    auth.login_page(resident)
    client.get("/home?lang=en")
    response = client.post(
        f"/projects/{plan.id}/donate",
        data={"points": "200", "idempotency_key": "k1", "confirm": "1"},
    )
    assert response.status_code == 302
    html = client.get("/home").get_data(as_text=True)
    assert f'href="/projects/{plan.id}"' in html
    assert "Trees you helped plant" in html
    assert "of 648 trees planted" in html and "600 of 648 checked seedlings alive" in html
    assert "First donation to a forest" in html
    assert reconcile().clean
