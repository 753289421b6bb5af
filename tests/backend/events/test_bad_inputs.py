"""Bad inputs get clear errors, and nothing is saved half-way."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.events import forest, services
from backend.events.exceptions import (
    ActualBeforeEventEnd,
    InvalidEvent,
    InvalidFootprint,
    InvalidPlan,
    NoFootprint,
)
from backend.events.models import Event, EventFootprint, FootprintStage, PlantingPlan

from .helpers import FIR, WORKED_LINES, event_data, make_event, plan_data, worked_event


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"starts_on": "2026-05-21", "ends_on": "2026-05-20"}, "ends_on"),  # end before start
        ({"ends_on": "2027-06-01"}, "ends_on"),  # longer than a year
        ({"starts_on": "20 May"}, "starts_on"),
        ({"expected_participants": -1}, "expected_participants"),
        ({"expected_participants": "many"}, "expected_participants"),
        ({"district": "杭州市"}, "district"),
        ({"name": "  "}, "name"),
        ({"venue": "x" * 201}, "venue"),
    ],
)
def test_bad_event_fields_are_refused(db, organiser, overrides, field):
    before = _count(db, Event)
    with pytest.raises(InvalidEvent) as caught:
        services.create_event(organiser, event_data(**overrides))
    assert caught.value.field == field
    assert _count(db, Event) == before


def test_end_before_start_on_the_api_says_so(client, auth, organiser):
    data = {k: str(v) for k, v in event_data().items()}
    data.update(starts_on="2027-05-21", ends_on="2027-05-20", expected_participants=500)
    response = client.post("/api/v1/events", json=data, headers=auth.bearer(organiser))
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "invalid_event"
    assert "ends before it starts" in body["message"] or "早于" in body["message"]


def _bad_footprint(db, organiser, lines, participants=None, stage=FootprintStage.PLANNED):
    event = make_event(organiser)
    before = (_count(db, EventFootprint), _count(db, AuditEntry))
    with pytest.raises(InvalidFootprint) as caught:
        services.record_footprint(organiser, event.id, stage, lines, participants)
    assert (_count(db, EventFootprint), _count(db, AuditEntry)) == before
    return caught.value


def test_negative_distance_is_refused_with_the_line(db, organiser, english):
    lines = [
        *WORKED_LINES[:1],
        {"category": "travel", "kind": "hsr", "travellers": 300, "trips": 2, "distance_km": -300},
    ]
    error = _bad_footprint(db, organiser, lines)
    assert error.details == [
        {
            "line": 2,
            "code": "amount_not_positive",
            "message": "Enter a number greater than zero (distances, travellers and trips too).",
        }
    ]


def test_zero_participants_with_travel_is_refused(db, organiser):
    error = _bad_footprint(db, organiser, WORKED_LINES, participants=0)
    codes = {(d["line"], d["code"]) for d in error.details}
    assert codes == {(2, "travel_without_participants"), (3, "travel_without_participants")}


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ({"category": "catering", "kind": "meal", "amount": "lots"}, "malformed"),
        ({"category": "catering", "kind": "caviar", "amount": 3}, "unknown_kind"),
        ({"category": "space", "kind": "rocket", "amount": 3}, "unknown_category"),
        ({"category": "travel", "kind": "hsr", "travellers": 3}, "malformed"),
        ({"category": "catering", "kind": "meal", "amount": 0}, "amount_not_positive"),
        (
            {"category": "accommodation", "kind": "hotel", "amount": 1, "unit": "kWh"},
            "unit_mismatch",
        ),
        (
            {"category": "travel", "kind": "hsr", "travellers": 501, "trips": 2, "distance_km": 9},
            "travellers_exceed_participants",
        ),
    ],
)
def test_every_bad_line_names_its_problem(db, organiser, line, code):
    error = _bad_footprint(db, organiser, [WORKED_LINES[0], line])
    assert [(d["line"], d["code"]) for d in error.details] == [(2, code)]


def test_no_lines_and_negative_participants(db, organiser):
    assert _bad_footprint(db, organiser, []).details[0]["code"] == "no_lines"
    assert _bad_footprint(db, organiser, WORKED_LINES, participants=-5).field == "participants"


def test_actual_data_waits_for_the_end_of_the_event(db, organiser):
    event = make_event(organiser, starts_on="2099-05-20", ends_on="2099-05-21")
    with pytest.raises(ActualBeforeEventEnd):
        services.record_footprint(organiser, event.id, FootprintStage.ACTUAL, WORKED_LINES, 500)
    assert _count(db, EventFootprint) == 0


def test_actual_data_needs_the_actual_participants(db, organiser):
    error = _bad_footprint(db, organiser, WORKED_LINES, stage=FootprintStage.ACTUAL)
    assert error.field == "participants"


def test_bad_footprint_on_the_api_lists_every_problem(client, auth, organiser):
    event = make_event(organiser)
    response = client.post(
        f"/api/v1/events/{event.id}/footprints/planned",
        json={
            "lines": [
                {
                    "category": "travel",
                    "kind": "hsr",
                    "travellers": 3,
                    "trips": 2,
                    "distance_km": -1,
                },
                {"category": "catering", "kind": "meal", "amount": -3},
            ]
        },
        headers={**auth.bearer(organiser), "Accept-Language": "en"},
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "invalid_footprint"
    assert body["message"].startswith("Check the activity data: source 1:")
    assert [d["line"] for d in body["details"]] == [1, 2]


@pytest.mark.parametrize(
    ("mix", "overrides", "field", "words"),
    [
        ([{"species": "ginkgo", "share": 1}], {}, "species_mix", "unknown species ginkgo"),
        ([{"species": "moso_bamboo", "share": 1}], {}, "species_mix", "Moso bamboo"),
        (
            [{"species": "chinese_fir", "share": "0.5"}, {"species": "camphor", "share": "0.4"}],
            {},
            "species_mix",
            "sum to 0.9",
        ),
        ([{"species": "chinese_fir", "share": "-1"}], {}, "species_mix", "greater than zero"),
        (FIR, {"horizon_years": 12}, "horizon_years", "horizon"),
        (FIR, {"planting_year": 2030}, "planting_year", "2026-2027"),
        (FIR, {"district": "上海市"}, "district", "district"),
        (FIR, {"site": ""}, "site", "required"),
    ],
)
def test_bad_plans_are_refused_and_nothing_is_saved(
    db, organiser, english, mix, overrides, field, words
):
    event = worked_event(organiser)
    with pytest.raises(InvalidPlan) as caught:
        forest.create_plan(organiser, event.id, plan_data(mix, **overrides))
    assert caught.value.field == field
    assert words in caught.value.localized_message()
    assert _count(db, PlantingPlan) == 0


def test_a_plan_needs_a_footprint(db, organiser):
    event = make_event(organiser)
    with pytest.raises(NoFootprint):
        forest.create_plan(organiser, event.id, plan_data())


def test_a_failed_recalculation_keeps_the_previous_draft(db, organiser):
    event = worked_event(organiser)
    first = forest.create_plan(organiser, event.id, plan_data())
    with pytest.raises(InvalidPlan):
        forest.create_plan(organiser, event.id, plan_data([{"species": "moso_bamboo", "share": 1}]))
    db.session.refresh(first)
    assert first.status.value == "draft"


def test_unknown_species_on_the_api(client, auth, organiser):
    event = worked_event(organiser)
    response = client.post(
        f"/api/v1/events/{event.id}/plans",
        json=plan_data([{"species": "moso_bamboo", "share": 1}]),
        headers={**auth.bearer(organiser), "Accept-Language": "en"},
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "invalid_plan"
    assert body["details"] == {"code": "species_unsupported"}
    assert "Moso bamboo" in body["message"]


def test_another_organisers_event_is_not_found(client, auth, organiser, make):
    event = worked_event(organiser)
    other = make.user("organiser")
    headers = auth.bearer(other)
    assert client.get(f"/api/v1/events/{event.id}", headers=headers).status_code == 404
    response = client.post(
        f"/api/v1/events/{event.id}/footprints/planned",
        json={"lines": WORKED_LINES},
        headers=headers,
    )
    assert response.status_code == 404 and response.get_json()["code"] == "unknown_event"
    response = client.post(f"/api/v1/events/{event.id}/plans", json=plan_data(), headers=headers)
    assert response.status_code == 404
    assert client.get("/api/v1/events", headers=headers).get_json() == []
